/**
 * The whole chat state and the one pure function that changes it. Actions are named
 * for what happened; the provider turns socket events and user intents into them.
 */
import type {
  HistoryPage,
  Limits,
  Member,
  MessageReceipt,
  Membership,
  RoomCount,
  RoomState,
  ServerError,
  ServerMessage,
  TypingNotice,
} from "./protocol";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "offline";

/** A message the server stored, tagged with the history lifetime it belongs to. */
export interface ChatMessage extends ServerMessage {
  epoch: string;
}

/** A message typed here that the server has not acknowledged yet. */
export interface PendingMessage {
  clientId: string;
  text: string;
  createdAt: number;
  status: "pending" | "failed";
  error?: string;
}

/** A quiet line in the timeline: someone joined or left, or history was reset. */
export interface SystemLine {
  id: string;
  text: string;
  epoch: string;
  afterSeq: number;
  at: number;
}

export interface Room {
  name: string;
  username: string;
  epochs: string[];
  messages: ChatMessage[];
  pending: PendingMessage[];
  system: SystemLine[];
  members: Member[];
  typing: Record<string, { username: string; at: number }>;
  unread: number;
  /** room_state arrived on the current connection, so the server has us as a member. */
  synced: boolean;
}

export interface ShownError {
  code: string;
  message: string;
  room: string | null;
}

export interface ChatState {
  status: ConnectionStatus;
  sid: string | null;
  /** Every sid this page has had: messages sent before a reconnect are still ours. */
  mySids: string[];
  limits: Limits;
  rooms: Record<string, Room>;
  roomOrder: string[];
  activeRoom: string | null;
  lobbyRooms: RoomCount[];
  error: ShownError | null;
  hidden: boolean;
  announcement: string;
  /** What each room's composer holds, kept while you look at other rooms. */
  drafts: Record<string, string>;
  /** While the server rate-limits us (ms since epoch), nothing is sent. */
  limitedUntil: number | null;
}

export const DEFAULT_LIMITS: Limits = {
  max_message_length: 2000,
  max_username_length: 32,
  max_room_length: 64,
  history_size: 100,
};

export const TYPING_TIMEOUT_MS = 6000;

export const initialState: ChatState = {
  status: "connecting",
  sid: null,
  mySids: [],
  limits: DEFAULT_LIMITS,
  rooms: {},
  roomOrder: [],
  activeRoom: null,
  lobbyRooms: [],
  error: null,
  hidden: false,
  announcement: "",
  drafts: {},
  limitedUntil: null,
};

export type ChatAction =
  | { type: "connected"; sid: string; limits: Limits }
  | { type: "connection_lost" }
  | { type: "went_offline" }
  | { type: "join_requested"; room: string; username: string }
  | { type: "room_state_received"; state: RoomState; at: number }
  | { type: "member_joined"; membership: Membership; at: number }
  | { type: "member_left"; membership: Membership; at: number }
  | { type: "message_received"; message: ServerMessage }
  | { type: "messages_received"; messages: ServerMessage[] }
  | { type: "history_received"; page: HistoryPage }
  | { type: "message_queued"; room: string; clientId: string; text: string; at: number }
  | { type: "message_acked"; room: string; clientId: string; receipt: MessageReceipt }
  | { type: "message_refused"; room: string; clientId: string; error: string }
  | { type: "message_rate_limited"; room: string; clientId: string; until: number }
  | { type: "rate_limited"; until: number }
  | { type: "limit_expired"; now: number }
  | { type: "draft_changed"; room: string; text: string }
  | { type: "pending_retried"; room: string; clientId: string }
  | { type: "pending_discarded"; room: string; clientId: string }
  | { type: "typing_changed"; notice: TypingNotice; at: number }
  | { type: "typing_expired"; now: number }
  | { type: "rooms_listed"; rooms: RoomCount[] }
  | { type: "room_selected"; room: string | null }
  | { type: "room_closed"; room: string }
  | { type: "error_received"; error: ServerError; room: string | null }
  | { type: "error_dismissed" }
  | { type: "visibility_changed"; hidden: boolean };

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "connected":
      return {
        ...state,
        status: "connected",
        sid: action.sid,
        mySids: state.mySids.includes(action.sid) ? state.mySids : [...state.mySids, action.sid],
        limits: action.limits,
      };
    case "connection_lost":
      return {
        ...state,
        status: state.status === "offline" ? "offline" : "reconnecting",
        rooms: mapRooms(state.rooms, (room) => ({ ...room, synced: false, typing: {} })),
      };
    case "went_offline":
      return state.status === "connected" ? state : { ...state, status: "offline" };
    case "join_requested": {
      const existing = state.rooms[action.room];
      const room = existing ?? newRoom(action.room, action.username);
      return {
        ...state,
        rooms: { ...state.rooms, [action.room]: { ...room, unread: 0 } },
        roomOrder: existing ? state.roomOrder : [...state.roomOrder, action.room],
        activeRoom: action.room,
        error: null,
      };
    }
    case "room_state_received":
      return updateRoom(state, action.state.room, (room) =>
        applyRoomState(room, action.state, action.at),
      );
    case "member_joined":
      return updateRoom(state, action.membership.room, (room) =>
        memberJoined(room, action.membership, state.sid, action.at),
      );
    case "member_left":
      return updateRoom(state, action.membership.room, (room) =>
        memberLeft(room, action.membership, state.sid, action.at),
      );
    case "message_received":
      return messageReceived(state, action.message);
    case "messages_received":
      return action.messages.reduce(messageReceived, state);
    case "history_received":
      return updateRoom(state, action.page.room, (room) =>
        mergeMessages(room, action.page.messages, action.page.epoch),
      );
    case "message_queued":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        pending: [
          ...room.pending,
          { clientId: action.clientId, text: action.text, createdAt: action.at, status: "pending" },
        ],
      }));
    case "message_acked":
      return updateRoom(state, action.room, (room) => messageAcked(room, action, state.sid));
    case "message_refused":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        pending: room.pending.map((p) =>
          p.clientId === action.clientId ? { ...p, status: "failed", error: action.error } : p,
        ),
      }));
    case "message_rate_limited": {
      // The refused text goes back into the composer, ahead of anything typed since.
      const room = state.rooms[action.room];
      const pending = room?.pending.find((p) => p.clientId === action.clientId);
      if (!room || !pending) return { ...state, limitedUntil: action.until };
      const draft = state.drafts[action.room] ?? "";
      return {
        ...state,
        limitedUntil: action.until,
        drafts: { ...state.drafts, [action.room]: draft ? `${pending.text}\n${draft}` : pending.text },
        rooms: {
          ...state.rooms,
          [room.name]: { ...room, pending: room.pending.filter((p) => p.clientId !== action.clientId) },
        },
      };
    }
    case "rate_limited":
      return { ...state, limitedUntil: Math.max(state.limitedUntil ?? 0, action.until) };
    case "limit_expired":
      return state.limitedUntil !== null && state.limitedUntil <= action.now
        ? { ...state, limitedUntil: null }
        : state;
    case "draft_changed":
      return { ...state, drafts: { ...state.drafts, [action.room]: action.text } };
    case "pending_retried":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        pending: room.pending.map((p) =>
          p.clientId === action.clientId ? { ...p, status: "pending", error: undefined } : p,
        ),
      }));
    case "pending_discarded":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        pending: room.pending.filter((p) => p.clientId !== action.clientId),
      }));
    case "typing_changed":
      return updateRoom(state, action.notice.room, (room) => {
        const typing = { ...room.typing };
        if (action.notice.typing) {
          typing[action.notice.sid] = { username: action.notice.username, at: action.at };
        } else {
          delete typing[action.notice.sid];
        }
        return { ...room, typing };
      });
    case "typing_expired":
      return {
        ...state,
        rooms: mapRooms(state.rooms, (room) => expireTyping(room, action.now)),
      };
    case "rooms_listed":
      return { ...state, lobbyRooms: action.rooms };
    case "room_selected": {
      const room = action.room === null ? undefined : state.rooms[action.room];
      if (action.room !== null && !room) return state;
      return {
        ...state,
        activeRoom: action.room,
        error: null,
        rooms: room ? { ...state.rooms, [room.name]: { ...room, unread: 0 } } : state.rooms,
      };
    }
    case "room_closed": {
      const rooms = { ...state.rooms };
      delete rooms[action.room];
      const roomOrder = state.roomOrder.filter((name) => name !== action.room);
      const activeRoom =
        state.activeRoom === action.room ? (roomOrder[roomOrder.length - 1] ?? null) : state.activeRoom;
      return { ...state, rooms, roomOrder, activeRoom };
    }
    case "error_received":
      return {
        ...state,
        error: { code: action.error.code, message: action.error.message, room: action.room },
      };
    case "error_dismissed":
      return { ...state, error: null };
    case "visibility_changed": {
      const active = state.activeRoom ? state.rooms[state.activeRoom] : undefined;
      if (action.hidden || !active) return { ...state, hidden: action.hidden };
      return {
        ...state,
        hidden: false,
        rooms: { ...state.rooms, [active.name]: { ...active, unread: 0 } },
      };
    }
    default: {
      const unexpected: never = action;
      throw new Error(`unknown action ${JSON.stringify(unexpected)}`);
    }
  }
}

/** Whether the server asked us to wait before sending anything more. */
export function isLimited(state: ChatState, now: number = Date.now()): boolean {
  return state.limitedUntil !== null && state.limitedUntil > now;
}

/** Unread messages across every room, for the document title. */
export function totalUnread(state: ChatState): number {
  return Object.values(state.rooms).reduce((sum, room) => sum + room.unread, 0);
}

/** The highest seq this client holds in the room's current history lifetime. */
export function lastSeq(room: Room): number {
  const epoch = currentEpoch(room);
  for (let i = room.messages.length - 1; i >= 0; i--) {
    const message = room.messages[i];
    if (message && message.epoch === epoch) return message.seq;
  }
  return 0;
}

/**
 * Whether `incoming` (one room's messages, in seq order) skips a seq after what the
 * room holds, so the client must fetch the missing ones with `history`.
 */
export function skipsSeq(room: Room, incoming: readonly ServerMessage[]): boolean {
  if (currentEpoch(room) === null) return false; // room_state is on its way
  let expected = lastSeq(room) + 1;
  for (const message of incoming) {
    if (message.seq > expected) return true;
    expected = Math.max(expected, message.seq + 1);
  }
  return false;
}

export function currentEpoch(room: Room): string | null {
  return room.epochs[room.epochs.length - 1] ?? null;
}

function newRoom(name: string, username: string): Room {
  return {
    name,
    username,
    epochs: [],
    messages: [],
    pending: [],
    system: [],
    members: [],
    typing: {},
    unread: 0,
    synced: false,
  };
}

function mapRooms(rooms: Record<string, Room>, change: (room: Room) => Room): Record<string, Room> {
  const next: Record<string, Room> = {};
  for (const [name, room] of Object.entries(rooms)) next[name] = change(room);
  return next;
}

function updateRoom(state: ChatState, name: string, change: (room: Room) => Room): ChatState {
  const room = state.rooms[name];
  if (!room) return state;
  return { ...state, rooms: { ...state.rooms, [name]: change(room) } };
}

function systemLine(room: Room, text: string, at: number): SystemLine {
  const epoch = currentEpoch(room) ?? "";
  return { id: `${epoch}:${room.system.length}:${at}`, text, epoch, afterSeq: lastSeq(room), at };
}

function applyRoomState(room: Room, state: RoomState, at: number): Room {
  let next: Room = { ...room, members: state.members, synced: true, typing: {} };
  const known = currentEpoch(room);
  if (known !== state.epoch) {
    if (known !== null && room.messages.length > 0) {
      next = {
        ...next,
        system: [
          ...next.system,
          systemLine(next, "The server's history was reset; older messages above are only on this device.", at),
        ],
      };
    }
    next = { ...next, epochs: [...next.epochs.filter((e) => e !== state.epoch), state.epoch] };
  }
  return mergeMessages(next, state.messages, state.epoch);
}

/** Add server messages, dropping ones already held (by id) and settling pending ones. */
function mergeMessages(room: Room, incoming: ServerMessage[], epoch: string): Room {
  if (incoming.length === 0) return room;
  const epochs = room.epochs.includes(epoch) ? room.epochs : [...room.epochs, epoch];
  const known = new Set(room.messages.map((m) => m.id));
  const fresh = incoming.filter((m) => !known.has(m.id)).map((m) => ({ ...m, epoch }));
  if (fresh.length === 0) return settlePending({ ...room, epochs }, incoming);
  const rank = new Map(epochs.map((e, i) => [e, i]));
  const messages = [...room.messages, ...fresh].sort(
    (a, b) => (rank.get(a.epoch) ?? 0) - (rank.get(b.epoch) ?? 0) || a.seq - b.seq,
  );
  return settlePending({ ...room, epochs, messages }, incoming);
}

function settlePending(room: Room, incoming: ServerMessage[]): Room {
  const settled = new Set(incoming.map((m) => m.client_id).filter(Boolean));
  if (settled.size === 0 || room.pending.length === 0) return room;
  return { ...room, pending: room.pending.filter((p) => !settled.has(p.clientId)) };
}

function messageReceived(state: ChatState, message: ServerMessage): ChatState {
  const room = state.rooms[message.room];
  if (!room) return state;
  const epoch = currentEpoch(room);
  if (epoch === null) return state; // before room_state: it will carry this message
  if (room.messages.some((m) => m.id === message.id)) return state;
  const last = room.messages[room.messages.length - 1];
  let next: Room;
  if (!last || (last.epoch === epoch && last.seq < message.seq)) {
    next = settlePending({ ...room, messages: [...room.messages, { ...message, epoch }] }, [message]);
  } else {
    next = mergeMessages(room, [message], epoch);
  }
  const mine = state.mySids.includes(message.sid);
  const seen = !state.hidden && state.activeRoom === room.name;
  if (!mine && !seen) next = { ...next, unread: next.unread + 1 };
  if (!mine) {
    const typing = { ...next.typing };
    delete typing[message.sid];
    next = { ...next, typing };
  }
  return {
    ...state,
    rooms: { ...state.rooms, [room.name]: next },
    announcement: mine ? state.announcement : `${message.username} in ${room.name}: ${message.message}`,
  };
}

function messageAcked(
  room: Room,
  action: { clientId: string; receipt: MessageReceipt },
  sid: string | null,
): Room {
  const pending = room.pending.find((p) => p.clientId === action.clientId);
  if (!pending) return room;
  const epoch = currentEpoch(room) ?? "";
  const confirmed: ServerMessage = {
    room: room.name,
    id: action.receipt.id,
    seq: action.receipt.seq,
    timestamp: action.receipt.timestamp,
    sid: sid ?? "",
    username: room.username,
    message: pending.text,
    client_id: pending.clientId,
  };
  return mergeMessages(room, [confirmed], epoch);
}

function memberJoined(room: Room, membership: Membership, mySid: string | null, at: number): Room {
  if (room.members.some((m) => m.sid === membership.sid)) return room;
  const members = [...room.members, { sid: membership.sid, username: membership.username }];
  if (membership.sid === mySid) return { ...room, members };
  return {
    ...room,
    members,
    system: [...room.system, systemLine(room, `${membership.username} joined`, at)],
  };
}

function memberLeft(room: Room, membership: Membership, mySid: string | null, at: number): Room {
  if (membership.sid === mySid) return room;
  const typing = { ...room.typing };
  delete typing[membership.sid];
  return {
    ...room,
    typing,
    members: room.members.filter((m) => m.sid !== membership.sid),
    system: [...room.system, systemLine(room, `${membership.username} left`, at)],
  };
}

function expireTyping(room: Room, now: number): Room {
  const stale = Object.entries(room.typing).filter(([, t]) => now - t.at > TYPING_TIMEOUT_MS);
  if (stale.length === 0) return room;
  const typing = { ...room.typing };
  for (const [sid] of stale) delete typing[sid];
  return { ...room, typing };
}
