/**
 * The only place that talks to the socket. It turns socket events into reducer
 * actions, and exposes what people can do (join, send, leave...) through useChat().
 * It also keeps the promises of the protocol: re-join with epoch/since after a
 * reconnect, fill seq gaps with `history`, and deliver queued messages exactly once
 * (each carries a client_id, so a retry is never shown twice).
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useMemo,
  useReducer,
  useRef,
  type ReactNode,
} from "react";

import {
  chatReducer,
  currentEpoch,
  initialState,
  isLimited,
  lastSeq,
  skipsSeq,
  type ChatState,
  type Room,
} from "./chatReducer";
import type {
  Connected,
  Membership,
  RoomSeq,
  RoomState,
  ServerError,
  ServerMessage,
  TypingNotice,
} from "./protocol";
import type { ChatSocket } from "./socket";

const ACK_TIMEOUT_MS = 10_000;
const TYPING_INTERVAL_MS = 2_000;

export interface ChatActions {
  joinRoom: (room: string, username: string) => void;
  leaveRoom: (room: string) => void;
  selectRoom: (room: string | null) => void;
  setDraft: (room: string, text: string) => void;
  sendMessage: (room: string, text: string) => void;
  retryMessage: (room: string, clientId: string) => void;
  discardMessage: (room: string, clientId: string) => void;
  setTyping: (room: string, typing: boolean) => void;
  refreshRooms: () => void;
  dismissError: () => void;
}

interface ChatContextValue {
  state: ChatState;
  actions: ChatActions;
}

const ChatContext = createContext<ChatContextValue | null>(null);

export function useChat(): ChatContextValue {
  const value = useContext(ChatContext);
  if (!value) throw new Error("useChat() must be used inside <ChatProvider>");
  return value;
}

function newClientId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function ChatProvider({ socket, children }: { socket: ChatSocket; children: ReactNode }) {
  const [state, dispatch] = useReducer(chatReducer, initialState);
  // Socket callbacks read the latest state through this ref, not a stale closure.
  const stateRef = useRef(state);
  useLayoutEffect(() => {
    stateRef.current = state;
  }, [state]);
  const flushing = useRef(new Set<string>());
  const typingSentAt = useRef(new Map<string, number>());

  const requestJoin = useCallback(
    (room: Room | { name: string; username: string }) => {
      const request: { room: string; username: string; epoch?: string; since?: number } = {
        room: room.name,
        username: room.username,
      };
      if ("epochs" in room) {
        const epoch = currentEpoch(room);
        if (epoch) {
          request.epoch = epoch;
          request.since = lastSeq(room);
        }
      }
      socket.timeout(ACK_TIMEOUT_MS).emit("join", request, (err, reply) => {
        if (err || reply.ok) return; // room_state carries the success
        dispatch({ type: "error_received", error: { ...reply.error, event: "join" }, room: room.name });
        dispatch({ type: "room_closed", room: room.name });
      });
    },
    [socket],
  );

  const fillGap = useCallback(
    (room: Room) => {
      const epoch = currentEpoch(room);
      if (!epoch) return;
      socket
        .timeout(ACK_TIMEOUT_MS)
        .emit("history", { room: room.name, epoch, since: lastSeq(room) }, (err, reply) => {
          if (!err && reply.ok) dispatch({ type: "history_received", page: reply });
        });
    },
    [socket],
  );

  useEffect(() => {
    function onConnect() {
      for (const room of Object.values(stateRef.current.rooms)) requestJoin(room);
    }
    function onDisconnect() {
      flushing.current.clear();
      typingSentAt.current.clear();
      dispatch({ type: "connection_lost" });
    }
    function onConnected(payload: Connected) {
      dispatch({ type: "connected", sid: payload.sid, limits: payload.limits });
    }
    function onRoomState(payload: RoomState) {
      dispatch({ type: "room_state_received", state: payload, at: Date.now() });
    }
    function onJoined(payload: Membership) {
      dispatch({ type: "member_joined", membership: payload, at: Date.now() });
    }
    function onLeft(payload: Membership) {
      dispatch({ type: "member_left", membership: payload, at: Date.now() });
    }
    function onMessage(payload: ServerMessage) {
      onMessages([payload]);
    }
    /** A `messages` batch: one room's messages in seq order (see docs/protocol.md). */
    function onMessages(batch: ServerMessage[]) {
      const first = batch[0];
      if (!first) return;
      const room = stateRef.current.rooms[first.room];
      const gap = room !== undefined && skipsSeq(room, batch);
      dispatch({ type: "messages_received", messages: batch });
      if (room && gap) fillGap(room);
    }
    function onTyping(payload: TypingNotice) {
      dispatch({ type: "typing_changed", notice: payload, at: Date.now() });
    }
    function onRoomSeq(payload: RoomSeq) {
      const room = stateRef.current.rooms[payload.room];
      if (!room) return;
      if (currentEpoch(room) !== payload.epoch) requestJoin(room);
      else if (payload.last_seq > lastSeq(room)) fillGap(room);
    }
    function onRooms(payload: { rooms: { room: string; count: number }[] }) {
      dispatch({ type: "rooms_listed", rooms: payload.rooms });
    }
    function onError(payload: ServerError) {
      if (payload.event === "join" || payload.event === "message") return; // handled by acks
      if (payload.code === "rate_limited" && payload.retry_after_ms) {
        dispatch({ type: "rate_limited", until: Date.now() + payload.retry_after_ms });
      }
      dispatch({ type: "error_received", error: payload, room: stateRef.current.activeRoom });
    }
    function onOffline() {
      dispatch({ type: "went_offline" });
    }
    socket.on("connect", onConnect);
    socket.on("disconnect", onDisconnect);
    socket.on("connected", onConnected);
    socket.on("room_state", onRoomState);
    socket.on("joined", onJoined);
    socket.on("left", onLeft);
    socket.on("message", onMessage);
    socket.on("messages", onMessages);
    socket.on("typing", onTyping);
    socket.on("rooms", onRooms);
    socket.on("room_seq", onRoomSeq);
    socket.on("error", onError);
    window.addEventListener("offline", onOffline);
    socket.connect();
    return () => {
      socket.off("connect", onConnect);
      socket.off("disconnect", onDisconnect);
      socket.off("connected", onConnected);
      socket.off("room_state", onRoomState);
      socket.off("joined", onJoined);
      socket.off("left", onLeft);
      socket.off("message", onMessage);
      socket.off("messages", onMessages);
      socket.off("typing", onTyping);
      socket.off("rooms", onRooms);
      socket.off("room_seq", onRoomSeq);
      socket.off("error", onError);
      window.removeEventListener("offline", onOffline);
      socket.disconnect();
    };
  }, [socket, requestJoin, fillGap]);

  // Deliver queued messages, one at a time per room, once the room is joined on
  // this connection. A timeout leaves the message queued for the next attempt.
  const flush = useCallback(
    (roomName: string) => {
      if (flushing.current.has(roomName)) return;
      const room = stateRef.current.rooms[roomName];
      const next = room?.pending.find((p) => p.status === "pending");
      if (!room || !next || !room.synced || !socket.connected) return;
      if (isLimited(stateRef.current)) return;
      flushing.current.add(roomName);
      socket
        .timeout(ACK_TIMEOUT_MS)
        .emit(
          "message",
          { room: roomName, message: next.text, client_id: next.clientId, timestamp: next.createdAt },
          (err, reply) => {
            flushing.current.delete(roomName);
            if (err) return;
            if (reply.ok) {
              dispatch({ type: "message_acked", room: roomName, clientId: next.clientId, receipt: reply });
            } else if (reply.error.code === "rate_limited") {
              const until = Date.now() + (reply.error.retry_after_ms ?? 1000);
              dispatch({ type: "message_rate_limited", room: roomName, clientId: next.clientId, until });
            } else {
              dispatch({ type: "message_refused", room: roomName, clientId: next.clientId, error: reply.error.message });
              dispatch({ type: "error_received", error: { ...reply.error, event: "message" }, room: roomName });
            }
          },
        );
    },
    [socket],
  );

  // When a rate limit ends, say so (the composer's countdown stops, the queue moves).
  useEffect(() => {
    if (state.limitedUntil === null) return;
    const wait = Math.max(0, state.limitedUntil - Date.now());
    const timer = window.setTimeout(() => dispatch({ type: "limit_expired", now: Date.now() }), wait);
    return () => window.clearTimeout(timer);
  }, [state.limitedUntil]);

  useEffect(() => {
    if (state.status !== "connected" || state.limitedUntil !== null) return;
    for (const room of Object.values(state.rooms)) {
      if (room.synced && room.pending.some((p) => p.status === "pending")) flush(room.name);
    }
  }, [state, flush]);

  const hasTyping = Object.values(state.rooms).some((room) => Object.keys(room.typing).length > 0);
  useEffect(() => {
    if (!hasTyping) return;
    const timer = window.setInterval(() => dispatch({ type: "typing_expired", now: Date.now() }), 1000);
    return () => window.clearInterval(timer);
  }, [hasTyping]);

  useEffect(() => {
    function onVisibility() {
      dispatch({ type: "visibility_changed", hidden: document.visibilityState === "hidden" });
    }
    document.addEventListener("visibilitychange", onVisibility);
    return () => document.removeEventListener("visibilitychange", onVisibility);
  }, []);

  const actions = useMemo<ChatActions>(
    () => ({
      joinRoom(room, username) {
        const existing = stateRef.current.rooms[room];
        dispatch({ type: "join_requested", room, username });
        if (!existing && socket.connected) requestJoin({ name: room, username });
      },
      leaveRoom(room) {
        dispatch({ type: "room_closed", room });
        if (socket.connected) socket.emit("leave", { room }, () => undefined);
      },
      selectRoom(room) {
        dispatch({ type: "room_selected", room });
      },
      setDraft(room, text) {
        dispatch({ type: "draft_changed", room, text });
      },
      sendMessage(room, text) {
        if (typingSentAt.current.has(room)) {
          typingSentAt.current.delete(room);
          if (socket.connected) socket.emit("typing", { room, typing: false });
        }
        dispatch({ type: "message_queued", room, clientId: newClientId(), text, at: Date.now() });
      },
      retryMessage(room, clientId) {
        dispatch({ type: "pending_retried", room, clientId });
      },
      discardMessage(room, clientId) {
        dispatch({ type: "pending_discarded", room, clientId });
      },
      setTyping(room, typing) {
        if (!socket.connected || !stateRef.current.rooms[room]?.synced) return;
        const sentAt = typingSentAt.current.get(room);
        if (typing) {
          const now = Date.now();
          if (sentAt !== undefined && now - sentAt < TYPING_INTERVAL_MS) return;
          typingSentAt.current.set(room, now);
          socket.emit("typing", { room, typing: true });
        } else if (sentAt !== undefined) {
          typingSentAt.current.delete(room);
          socket.emit("typing", { room, typing: false });
        }
      },
      refreshRooms() {
        if (!socket.connected) return;
        socket.timeout(ACK_TIMEOUT_MS).emit("list_rooms", {}, (err, reply) => {
          if (!err && reply.ok) dispatch({ type: "rooms_listed", rooms: reply.rooms });
        });
      },
      dismissError() {
        dispatch({ type: "error_dismissed" });
      },
    }),
    [socket, requestJoin],
  );

  const value = useMemo(() => ({ state, actions }), [state, actions]);
  return <ChatContext.Provider value={value}>{children}</ChatContext.Provider>;
}
