/**
 * The only place that talks to the socket. It turns socket events into reducer
 * actions, and exposes what people can do (join, send, leave...) through useChat().
 * It also keeps the promises of the protocol: re-join with epoch/since after a
 * reconnect, fill seq gaps with `history`, and deliver queued messages exactly once
 * and in order (each carries a client_id, so a retry is never shown twice).
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
  useState,
  startTransition,
  type ReactNode,
} from "react";

import {
  chatReducer,
  currentEpoch,
  firstSeq,
  initialState,
  isLimited,
  isIgnored,
  isMine,
  lastSeq,
  mentionsMe,
  skipsSeq,
  type ChatState,
  type Room,
} from "./chatReducer";
import { DraftStore } from "./drafts";
import { loadIgnored, saveIgnored } from "./ignore";
import { solveChallenge } from "./proofOfWork";
import { deserves, notify, notifyLevel } from "./notifications";
import { saveIdentity, type Identity } from "./identity";
import { loadKnownTrips, saveKnownTrips } from "./identityMemory";
import { untilText } from "./moderation";
import { isChange } from "./protocol";
import type {
  AuditLog,
  Challenge,
  Connected,
  JoinRequest,
  Knock,
  Member,
  Membership,
  MessageChange,
  ModerationEvent,
  ModerationNotice,
  ModerationRequests,
  Renamed,
  Report,
  RoomInfo,
  RoomEntry,
  RoomSeq,
  RoomState,
  ServerError,
  ServerMessage,
  TypingNotice,
  Whisper,
} from "./protocol";
import type { ChatSocket } from "./socket";
import { loadRooms, saveRooms, type SavedRoom } from "./storage";

const ACK_TIMEOUT_MS = 10_000;
const TYPING_INTERVAL_MS = 2_000;
/**
 * Incoming messages are shown at once when they come one by one, and at most this
 * often when they pour in: each showing costs the page a layout, and a room taking
 * 50 messages a second would otherwise keep the page busy between keystrokes.
 */
export const SHOW_EVERY_MS = 80;

export type JoinOutcome = { ok: true } | { ok: false; error: ServerError } | { ok: "queued" };
export type RenameOutcome = { ok: true } | { ok: false; error: ServerError };
/** How long a change of identity waits for the server to confirm each leave. */
const LEAVE_WAIT_MS = 3_000;

export interface ChatActions {
  /** Join (or show, if already in it) a room; resolves when the server answers. */
  joinRoom: (room: string, username: string, options?: { focus?: boolean }) => Promise<JoinOutcome>;
  leaveRoom: (room: string) => void;
  selectRoom: (room: string | null) => void;
  /** Queue a message (an action for `/me`, or a reply to message `replyTo`). */
  sendMessage: (room: string, text: string, options?: { kind?: "action"; replyTo?: string }) => void;
  /** Change one of your messages; a refusal shows as an error, like any other. */
  editMessage: (room: string, id: string, text: string) => Promise<boolean>;
  deleteMessage: (room: string, id: string) => Promise<boolean>;
  /** Add (`on`) or take back your reaction with `emoji`. */
  react: (room: string, id: string, emoji: string, on: boolean) => Promise<boolean>;
  /** Show the Mentions view (or close it). */
  showMentions: (open: boolean) => void;
  /** Open `room` at message `id`, marked for a moment. */
  jumpTo: (room: string, id: string) => void;
  /** A moderation request (docs/protocol.md); a refusal shows as an error. */
  moderate: <E extends ModerationEvent>(room: string, event: E, payload: ModerationRequests[E]) => Promise<boolean>;
  /** Hide (`on`) or show again someone's messages, whispers, typing and mentions. */
  ignore: (person: Member, on: boolean) => void;
  /** Ask a moderator to let us into a locked room (joins at once if it is open). */
  knock: (room: string, username: string) => void;
  answerKnock: (room: string, id: string, approve: boolean) => Promise<boolean>;
  /** Tell the room's moderators about a message (with a reason, if given). */
  report: (room: string, id: string, reason: string) => Promise<boolean>;
  resolveReport: (room: string, id: string) => Promise<boolean>;
  /** The room's audit log, bans and mutes (owner and moderators); null if refused. */
  auditLog: (room: string) => Promise<AuditLog | null>;
  /** Say something to one person in the room; only the two of you see it. */
  whisper: (room: string, to: string, text: string) => Promise<boolean>;
  retryMessage: (room: string, clientId: string) => void;
  discardMessage: (room: string, clientId: string) => void;
  setTyping: (room: string, typing: boolean) => void;
  /** Fetch older messages than the first one held; resolves with how many came. */
  loadEarlier: (room: string) => Promise<number>;
  refreshRooms: () => void;
  /** Take a new name in a room (`/nick`); the caller shows a refusal where it was asked. */
  rename: (room: string, username: string) => Promise<RenameOutcome>;
  /**
   * Become another person (a new, imported or password-made identity): leave every
   * room, so our names are free, reconnect with the new key, and join them again.
   */
  switchIdentity: (identity: Identity) => Promise<void>;
  dismissError: () => void;
  dismissJoinRefusal: () => void;
}

interface ChatTools {
  actions: ChatActions;
  drafts: DraftStore;
}

interface ChatContextValue extends ChatTools {
  state: ChatState;
}

// Two contexts: the state changes with every message, the tools never. A component
// that only acts (the composer) subscribes to the tools and is not re-rendered by
// every message that arrives.
const StateContext = createContext<ChatState | null>(null);
const ToolsContext = createContext<ChatTools | null>(null);

/** What people can do, and the drafts; stable for the life of the provider. */
export function useChatTools(): ChatTools {
  const tools = useContext(ToolsContext);
  if (!tools) throw new Error("useChatTools() must be used inside <ChatProvider>");
  return tools;
}

/** The chat state and the tools; re-renders with every change of state. */
export function useChat(): ChatContextValue {
  const state = useContext(StateContext);
  const tools = useChatTools();
  if (!state) throw new Error("useChat() must be used inside <ChatProvider>");
  return { state, ...tools };
}

/** A refused message's reason, with until when a mute lasts or when to try again. */
function refusalText(error: Omit<ServerError, "event">): string {
  if (error.code === "muted" || error.code === "on_probation") return `${error.message} (${untilText(error.until)})`;
  if (error.code === "slow_mode" && error.retry_after_ms) {
    return `${error.message} Try again in ${Math.ceil(error.retry_after_ms / 1000)} s.`;
  }
  return error.message;
}

function newClientId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function ChatProvider({ socket, children }: { socket: ChatSocket; children: ReactNode }) {
  const [state, dispatch] = useReducer(chatReducer, initialState, (initial) => ({
    ...initial,
    ignored: loadIgnored(),
  }));
  // Who you ignore is remembered on this browser.
  const savedIgnored = useRef(state.ignored);
  useEffect(() => {
    if (savedIgnored.current === state.ignored) return;
    savedIgnored.current = state.ignored;
    saveIgnored(state.ignored);
  }, [state.ignored]);
  // Socket callbacks read the latest state through this ref, not a stale closure.
  const stateRef = useRef(state);
  useLayoutEffect(() => {
    stateRef.current = state;
  }, [state]);
  const flushing = useRef(new Set<string>());
  const typingSentAt = useRef(new Map<string, number>());
  const joinWaiters = useRef(new Map<string, (outcome: JoinOutcome) => void>());
  const incoming = useRef<RoomEntry[]>([]);
  const showTimer = useRef<number | null>(null);
  const shownAt = useRef(0);
  const [drafts] = useState(() => new DraftStore());

  // A connection flood asked this connection for a proof before anything else.
  const owesConnectionProof = useRef(false);

  /** Solve a challenge off the main thread, showing its progress. */
  const prove = useCallback(async (room: string | null, challenge: Challenge) => {
    let shown = 0;
    const solution = await solveChallenge(challenge, (progress) => {
      // A few updates a second are enough for a progress bar.
      if (progress - shown < 0.05) return;
      shown = progress;
      dispatch({ type: "proof_progress", room, progress });
    });
    dispatch({ type: "proof_done" });
    return { nonce: challenge.nonce, solution };
  }, []);

  const settleJoin = useCallback((room: string, outcome: JoinOutcome) => {
    const waiter = joinWaiters.current.get(room);
    joinWaiters.current.delete(room);
    waiter?.(outcome);
  }, []);

  /** Ask to join; a room we hold messages of asks for what it missed only. A room
   * under a raid asks newcomers for a proof of work: it is done, then asked again. */
  const requestJoin = useCallback(
    (name: string, username: string, held?: Room) => {
      function ask(asName: string, retriesLeft: number, proof?: JoinRequest["proof"]) {
        const request: JoinRequest = { room: name, username: asName, ...(proof ? { proof } : {}) };
        const epoch = held ? currentEpoch(held) : null;
        if (held && epoch) {
          request.epoch = epoch;
          request.since = lastSeq(held);
        }
        socket.timeout(ACK_TIMEOUT_MS).emit("join", request, (err, reply) => {
          if (err) return; // the next connection asks again
          if (reply.ok) {
            settleJoin(name, { ok: true });
            return;
          }
          const error: ServerError = { ...reply.error, event: "join" };
          if (error.code === "challenge_required" && owesConnectionProof.current) return; // joined again once solved
          if ((error.code === "challenge_required" || error.code === "challenge_failed") && error.challenge && retriesLeft > 0) {
            void prove(name, error.challenge).then(
              (solved) => ask(asName, retriesLeft - 1, solved),
              () => dispatch({ type: "proof_done" }),
            );
            return;
          }
          const suggestion = error.code === "nickname_taken" ? error.suggestion : undefined;
          if (held?.status === "joined" && suggestion && retriesLeft > 0) {
            // Back after the name's lease ran out, and someone took it: stay in the
            // room under the free name the server suggests, and say so.
            const at = Date.now();
            dispatch({ type: "renamed_after_return", room: name, from: asName, to: suggestion, at });
            ask(suggestion, retriesLeft - 1);
            return;
          }
          dispatch({ type: "join_refused", room: name, error, at: Date.now() });
          settleJoin(name, { ok: false, error });
        });
      }
      ask(username, 3);
    },
    [socket, settleJoin, prove],
  );

  const fillGap = useCallback(
    (room: Room) => {
      const epoch = currentEpoch(room);
      if (!epoch) return;
      socket
        .timeout(ACK_TIMEOUT_MS)
        .emit("history", { room: room.name, epoch, since: lastSeq(room) }, (err, reply) => {
          if (!err && reply.ok) {
            dispatch({ type: "history_received", page: reply, older: false, requested: 0 });
          }
        });
    },
    [socket],
  );

  useEffect(() => {
    function onConnect() {
      for (const room of Object.values(stateRef.current.rooms)) {
        requestJoin(room.name, room.username, room);
      }
    }
    function onDisconnect() {
      flushing.current.clear();
      typingSentAt.current.clear();
      dispatch({ type: "connection_lost" });
    }
    function onConnected(payload: Connected) {
      dispatch({ type: "connected", sid: payload.sid, trip: payload.trip ?? null, limits: payload.limits });
      owesConnectionProof.current = payload.challenge !== undefined;
      if (payload.challenge) solveConnectionChallenge(payload.challenge);
    }
    /** A connection flood: prove work, then join our rooms (refused until then). */
    function solveConnectionChallenge(challenge: Challenge) {
      dispatch({ type: "proof_progress", room: null, progress: 0 });
      void prove(null, challenge).then((proof) => {
        socket.timeout(ACK_TIMEOUT_MS).emit("solve", { proof }, (err, reply) => {
          if (err) return;
          if (!reply.ok) {
            if (reply.error.challenge) solveConnectionChallenge(reply.error.challenge);
            return;
          }
          owesConnectionProof.current = false;
          for (const room of Object.values(stateRef.current.rooms)) {
            requestJoin(room.name, room.username, room);
          }
        });
      });
    }
    function onRenamed(payload: Renamed) {
      dispatch({ type: "renamed", renamed: payload, at: Date.now() });
    }
    function onRoomState(payload: RoomState) {
      dispatch({ type: "room_state_received", state: payload, at: Date.now() });
    }
    function onJoined(payload: Membership) {
      dispatch({ type: "member_joined", membership: payload, at: Date.now() });
    }
    function onRoomInfo(payload: RoomInfo) {
      dispatch({ type: "room_info_received", info: payload });
    }
    function onModeration(payload: ModerationNotice) {
      dispatch({ type: "moderation_notice", notice: payload, at: Date.now() });
    }
    function onKnock(payload: Knock) {
      dispatch({ type: "knock_received", knock: payload, at: Date.now() });
    }
    function onReport(payload: Report) {
      dispatch({ type: "report_received", report: payload, at: Date.now() });
    }
    /** A moderator answered our knock: let in, we join at once. */
    function onKnockAnswered(payload: { room: string; approved: boolean; by: string }) {
      const knocking = stateRef.current.knocking;
      dispatch({ type: "knock_answered", ...payload });
      if (payload.approved && knocking?.room === payload.room) {
        dispatch({ type: "join_requested", room: payload.room, username: knocking.username, focus: true });
        requestJoin(payload.room, knocking.username);
      }
    }
    function onLeft(payload: Membership) {
      dispatch({ type: "member_left", membership: payload, at: Date.now() });
    }
    function onMessage(payload: ServerMessage) {
      onMessages([payload]);
    }
    /** An edit, deletion or reaction: numbered like messages, so shown with them. */
    function onChange(payload: MessageChange) {
      onMessages([payload]);
    }
    /** A notification for what arrived in a room you are not looking at, if its
     * level asks for one: one per room per showing, naming the newest message. */
    function notifyAbout(roomName: string, entries: RoomEntry[]) {
      const state = stateRef.current;
      if (!state.hidden && state.activeRoom === roomName) return;
      const level = notifyLevel(roomName);
      const worth = entries.filter(
        (entry): entry is ServerMessage =>
          !isChange(entry) &&
          !isMine(state, entry) &&
          !isIgnored(state, entry) &&
          deserves(level, { mentionsMe: mentionsMe(state, entry) }),
      );
      const newest = worth[worth.length - 1];
      if (!newest) return;
      const title = worth.length > 1 ? `${worth.length} new messages in #${roomName}` : `${newest.username} in #${roomName}`;
      notify(title, `${newest.username}: ${newest.message}`, `room-${roomName}`, () =>
        dispatch({ type: "room_selected", room: roomName }),
      );
    }
    function onWhisper(payload: Whisper) {
      const state = stateRef.current;
      const elsewhere = state.hidden || state.activeRoom !== payload.room;
      if (elsewhere && !isMine(state, payload) && !isIgnored(state, payload) && notifyLevel(payload.room) !== "none") {
        notify(`${payload.username} whispers in #${payload.room}`, payload.message, `whisper-${payload.id}`, () =>
          dispatch({ type: "room_selected", room: payload.room }),
        );
      }
      // After the messages that came before it, which may still wait to be shown.
      if (showTimer.current !== null) {
        window.clearTimeout(showTimer.current);
        showIncoming();
      }
      const at = Date.now();
      startTransition(() => dispatch({ type: "whisper_received", whisper: payload, at }));
    }
    /** A `messages` batch: one room's messages in seq order (see docs/protocol.md). */
    function onMessages(batch: RoomEntry[]) {
      if (batch.length === 0) return;
      incoming.current.push(...batch);
      if (showTimer.current !== null) return;
      const wait = SHOW_EVERY_MS - (Date.now() - shownAt.current);
      if (wait <= 0) showIncoming();
      else showTimer.current = window.setTimeout(showIncoming, wait);
    }
    /** Everything that arrived since the last showing, room by room, in seq order. */
    function showIncoming() {
      showTimer.current = null;
      shownAt.current = Date.now();
      const byRoom = new Map<string, RoomEntry[]>();
      for (const message of incoming.current.splice(0)) {
        const list = byRoom.get(message.room) ?? [];
        list.push(message);
        byRoom.set(message.room, list);
      }
      for (const [name, messages] of byRoom) {
        messages.sort((a, b) => a.seq - b.seq);
        const room = stateRef.current.rooms[name];
        const gap = room !== undefined && skipsSeq(room, messages);
        if (room) notifyAbout(name, messages);
        // Not urgent: React may render them between keystrokes.
        startTransition(() => dispatch({ type: "messages_received", messages }));
        if (room && gap) fillGap(room);
      }
    }
    function onTyping(payload: TypingNotice) {
      const at = Date.now();
      startTransition(() => dispatch({ type: "typing_changed", notice: payload, at }));
    }
    function onRoomSeq(payload: RoomSeq) {
      const room = stateRef.current.rooms[payload.room];
      if (!room) return;
      if (currentEpoch(room) !== payload.epoch) requestJoin(room.name, room.username, room);
      else if (payload.last_seq > lastSeq(room)) fillGap(room);
    }
    function onRooms(payload: { rooms: { room: string; count: number }[] }) {
      dispatch({ type: "rooms_listed", rooms: payload.rooms });
    }
    function onError(payload: ServerError) {
      // Refusals of these are handled by their acks.
      if (payload.event === "join" || payload.event === "message" || payload.event === "rename") return;
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
    socket.on("renamed", onRenamed);
    socket.on("message", onMessage);
    socket.on("messages", onMessages);
    socket.on("typing", onTyping);
    socket.on("rooms", onRooms);
    socket.on("room_seq", onRoomSeq);
    socket.on("message_edited", onChange);
    socket.on("message_deleted", onChange);
    socket.on("reaction", onChange);
    socket.on("whisper", onWhisper);
    socket.on("room_info", onRoomInfo);
    socket.on("moderation", onModeration);
    socket.on("knock", onKnock);
    socket.on("knock_answered", onKnockAnswered);
    socket.on("report", onReport);
    socket.on("error", onError);
    window.addEventListener("offline", onOffline);
    socket.connect();
    return () => {
      socket.off("room_info", onRoomInfo);
      socket.off("moderation", onModeration);
      socket.off("knock", onKnock);
      socket.off("knock_answered", onKnockAnswered);
      socket.off("report", onReport);
      socket.off("connect", onConnect);
      socket.off("disconnect", onDisconnect);
      socket.off("connected", onConnected);
      socket.off("room_state", onRoomState);
      socket.off("joined", onJoined);
      socket.off("left", onLeft);
      socket.off("renamed", onRenamed);
      socket.off("message", onMessage);
      socket.off("messages", onMessages);
      socket.off("typing", onTyping);
      socket.off("rooms", onRooms);
      socket.off("room_seq", onRoomSeq);
      socket.off("message_edited", onChange);
      socket.off("message_deleted", onChange);
      socket.off("reaction", onChange);
      socket.off("whisper", onWhisper);
      socket.off("error", onError);
      window.removeEventListener("offline", onOffline);
      if (showTimer.current !== null) window.clearTimeout(showTimer.current);
      socket.disconnect();
    };
  }, [socket, requestJoin, fillGap, prove]);

  // Deliver queued messages, one at a time per room and in order, once the room is
  // joined on this connection. A timeout leaves the message queued for next time.
  const flush = useCallback(
    (roomName: string) => {
      if (flushing.current.has(roomName)) return;
      const room = stateRef.current.rooms[roomName];
      const next = room?.pending.find((p) => p.status !== "failed");
      if (!room || !next || next.status !== "pending" || !room.synced || !socket.connected) return;
      if (isLimited(stateRef.current)) return;
      flushing.current.add(roomName);
      socket
        .timeout(ACK_TIMEOUT_MS)
        .emit(
          "message",
          {
            room: roomName,
            message: next.text,
            client_id: next.clientId,
            timestamp: next.createdAt,
            ...(next.kind ? { kind: next.kind } : {}),
            ...(next.replyTo ? { reply_to: next.replyTo } : {}),
          },
          (err, reply) => {
            flushing.current.delete(roomName);
            if (err) return;
            if (reply.ok) {
              dispatch({ type: "message_acked", room: roomName, clientId: next.clientId, receipt: reply });
            } else if (reply.error.code === "rate_limited") {
              const until = Date.now() + (reply.error.retry_after_ms ?? 1000);
              dispatch({ type: "message_rate_limited", room: roomName, clientId: next.clientId, until });
            } else {
              dispatch({ type: "message_refused", room: roomName, clientId: next.clientId, error: refusalText(reply.error) });
            }
          },
        );
    },
    [socket],
  );

  // When a rate limit ends, say so (the countdown stops, held messages go out). A
  // timer may fire a moment before Date.now() reaches its deadline: it waits again
  // then, or the held messages would wait for ever.
  useEffect(() => {
    const until = state.limitedUntil;
    if (until === null) return;
    let timer = 0;
    const check = () => {
      const now = Date.now();
      if (now < until) timer = window.setTimeout(check, until - now + 1);
      else dispatch({ type: "limit_expired", now });
    };
    timer = window.setTimeout(check, Math.max(0, until - Date.now()));
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

  // The rooms you are in survive a reload: remembered here, joined again on load.
  // (Written when that list changes, not with every message.)
  const joinedRooms = JSON.stringify(
    state.roomOrder
      .map((name) => state.rooms[name])
      .filter((room): room is Room => room?.status === "joined")
      .map((room) => ({ name: room.name, username: room.username })),
  );
  const restored = useRef(false);
  useEffect(() => {
    if (!restored.current) return;
    saveRooms(JSON.parse(joinedRooms) as SavedRoom[]);
  }, [joinedRooms]);

  // The trips seen behind names are remembered per room, when they change.
  const savedTrips = useRef(new Map<string, Record<string, string>>());
  useEffect(() => {
    for (const room of Object.values(state.rooms)) {
      if (savedTrips.current.get(room.name) === room.knownTrips) continue;
      savedTrips.current.set(room.name, room.knownTrips);
      saveKnownTrips(room.name, room.knownTrips);
    }
  }, [state.rooms]);

  const actions = useMemo<ChatActions>(() => {
    /** Send a request whose refusal the server also reports as an `error` event
     * (shown by onError); resolves with whether it was accepted. */
    function request(send: (done: (err: Error | null, reply: { ok: boolean }) => void) => void): Promise<boolean> {
      return new Promise<boolean>((resolve) => {
        if (!socket.connected) {
          resolve(false);
          return;
        }
        send((err, reply) => resolve(!err && reply.ok));
      });
    }
    const act: ChatActions = {
      joinRoom(room, username, options = {}) {
        const focus = options.focus ?? true;
        const existing = stateRef.current.rooms[room];
        const knownTrips = existing ? undefined : loadKnownTrips(room);
        dispatch({ type: "join_requested", room, username, focus, knownTrips });
        if (existing?.status === "joined") return Promise.resolve({ ok: true });
        const outcome = new Promise<JoinOutcome>((resolve) => {
          joinWaiters.current.get(room)?.({ ok: "queued" });
          joinWaiters.current.set(room, resolve);
        });
        if (!existing && socket.connected) requestJoin(room, username);
        return outcome;
      },
      leaveRoom(room) {
        dispatch({ type: "room_closed", room });
        drafts.delete(room);
        if (socket.connected) socket.emit("leave", { room }, () => undefined);
      },
      selectRoom(room) {
        dispatch({ type: "room_selected", room });
      },
      sendMessage(room, text, options = {}) {
        if (typingSentAt.current.has(room)) {
          typingSentAt.current.delete(room);
          if (socket.connected) socket.emit("typing", { room, typing: false });
        }
        dispatch({
          type: "message_queued",
          room,
          clientId: newClientId(),
          text,
          at: Date.now(),
          kind: options.kind,
          replyTo: options.replyTo,
        });
      },
      showMentions(open) {
        dispatch({ type: "mentions_view", open });
      },
      jumpTo(room, id) {
        dispatch({ type: "jump_requested", room, id });
      },
      editMessage(room, id, text) {
        return request((done) => socket.timeout(ACK_TIMEOUT_MS).emit("edit", { room, id, message: text, client_id: newClientId() }, done));
      },
      deleteMessage(room, id) {
        return request((done) => socket.timeout(ACK_TIMEOUT_MS).emit("delete", { room, id, client_id: newClientId() }, done));
      },
      react(room, id, emoji, on) {
        return request((done) =>
          socket.timeout(ACK_TIMEOUT_MS).emit("react", { room, id, emoji, on, client_id: newClientId() }, done),
        );
      },
      moderate(room, event, payload) {
        return request((done) =>
          // One emit for every moderation event: the payload's type follows the event's.
          (socket.timeout(ACK_TIMEOUT_MS).emit as (...args: unknown[]) => void)(event, { room, ...payload }, done),
        );
      },
      ignore(person, on) {
        dispatch({ type: "ignore_changed", person, on, at: Date.now() });
      },
      knock(room, username) {
        if (!socket.connected) return;
        socket.timeout(ACK_TIMEOUT_MS).emit("knock", { room, username }, (err, reply) => {
          if (err || !reply.ok) return;
          if (reply.locked) dispatch({ type: "knock_sent", room, username });
          else void act.joinRoom(room, username); // unlocked meanwhile
        });
      },
      answerKnock(room, id, approve) {
        return request((done) => socket.timeout(ACK_TIMEOUT_MS).emit("answer_knock", { room, id, approve }, done));
      },
      report(room, id, reason) {
        return request((done) =>
          socket.timeout(ACK_TIMEOUT_MS).emit("report", { room, id, ...(reason ? { reason } : {}) }, done),
        );
      },
      resolveReport(room, id) {
        return request((done) => socket.timeout(ACK_TIMEOUT_MS).emit("resolve_report", { room, id }, done));
      },
      auditLog(room) {
        return new Promise<AuditLog | null>((resolve) => {
          if (!socket.connected) {
            resolve(null);
            return;
          }
          socket.timeout(ACK_TIMEOUT_MS).emit("audit_log", { room }, (err, reply) => {
            if (!err && reply.ok) {
              dispatch({ type: "requests_loaded", room, knocks: reply.knocks, reports: reply.reports });
            }
            resolve(!err && reply.ok ? reply : null);
          });
        });
      },
      whisper(room, to, text) {
        return request((done) =>
          socket.timeout(ACK_TIMEOUT_MS).emit("whisper", { room, to, message: text }, (err, reply) => {
            if (!err && reply.ok) dispatch({ type: "whisper_received", whisper: reply, at: Date.now() });
            done(err, reply);
          }),
        );
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
      loadEarlier(roomName) {
        const room = stateRef.current.rooms[roomName];
        const epoch = room ? currentEpoch(room) : null;
        const before = room ? firstSeq(room) : null;
        if (!room || !epoch || before === null || !room.hasEarlier || !socket.connected) {
          return Promise.resolve(0);
        }
        const limit = stateRef.current.limits.history_size;
        return new Promise((resolve) => {
          socket
            .timeout(ACK_TIMEOUT_MS)
            .emit("history", { room: roomName, epoch, before, limit }, (err, reply) => {
              if (err || !reply.ok) {
                resolve(0);
                return;
              }
              dispatch({ type: "history_received", page: reply, older: true, requested: limit });
              resolve(reply.messages.length);
            });
        });
      },
      refreshRooms() {
        if (!socket.connected) return;
        socket.timeout(ACK_TIMEOUT_MS).emit("list_rooms", {}, (err, reply) => {
          if (!err && reply.ok) dispatch({ type: "rooms_listed", rooms: reply.rooms });
        });
      },
      rename(room, username) {
        return new Promise<RenameOutcome>((resolve) => {
          if (!socket.connected) {
            const error: ServerError = { code: "unavailable", message: "You're offline; try again when you're back.", event: "rename" };
            resolve({ ok: false, error });
            return;
          }
          socket.timeout(ACK_TIMEOUT_MS).emit("rename", { room, username }, (err, reply) => {
            if (!err && reply.ok) {
              resolve({ ok: true });
              return;
            }
            const error: ServerError =
              err || reply.ok
                ? { code: "unavailable", message: "The server did not answer; try again.", event: "rename" }
                : { ...reply.error, event: "rename" };
            if (error.code === "rate_limited" && error.retry_after_ms) {
              dispatch({ type: "rate_limited", until: Date.now() + error.retry_after_ms });
            }
            resolve({ ok: false, error });
          });
        });
      },
      async switchIdentity(identity) {
        const rooms = Object.values(stateRef.current.rooms).filter((room) => room.synced);
        if (socket.connected) {
          await Promise.all(
            rooms.map(
              (room) =>
                new Promise<void>((resolve) => {
                  socket.timeout(LEAVE_WAIT_MS).emit("leave", { room: room.name }, () => resolve());
                }),
            ),
          );
        }
        saveIdentity(identity);
        // The next connection carries the new key (socket.ts); rooms are joined
        // again on connect, as after any reconnect.
        socket.disconnect();
        socket.connect();
      },
      dismissError() {
        dispatch({ type: "error_dismissed" });
      },
      dismissJoinRefusal() {
        dispatch({ type: "join_refusal_dismissed" });
      },
    };
    return act;
  }, [socket, requestJoin, drafts]);

  // Once: the rooms this browser was in are joined again (in the background).
  useEffect(() => {
    if (restored.current) return;
    restored.current = true;
    for (const saved of loadRooms()) {
      void actions.joinRoom(saved.name, saved.username, { focus: false });
    }
  }, [actions]);

  const tools = useMemo(() => ({ actions, drafts }), [actions, drafts]);
  return (
    <ToolsContext.Provider value={tools}>
      <StateContext.Provider value={state}>{children}</StateContext.Provider>
    </ToolsContext.Provider>
  );
}
