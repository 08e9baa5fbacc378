/**
 * The whole chat state and the one pure function that changes it. Actions are named
 * for what happened; the provider turns socket events and user intents into them.
 * Drafts are not here: they live beside the composer (drafts.ts), so typing never
 * re-renders the message list.
 */
import type { Ignored } from "./ignore";
import { isRemoval, noticeText, removalText, untilText } from "./moderation";
import { isChange } from "./protocol";
import type {
  HistoryPage,
  Knock,
  MessageChange,
  Report,
  RoomEntry,
  Whisper,
  LeaveReason,
  Limits,
  Member,
  MessageReceipt,
  Membership,
  ModerationNotice,
  Renamed,
  RoomInfo,
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
  /** The room's seq this copy is current as of: changes numbered after it apply,
   * older ones are already in it (a page of history shows messages as they are). */
  asOf: number;
}

/**
 * A message typed here that the server has not acknowledged yet: waiting to be sent
 * (`pending`), held back while the server rate-limits us (`held`, sent in order
 * when the limit ends), or refused for good (`failed`).
 */
export interface PendingMessage {
  clientId: string;
  text: string;
  kind?: "action";
  /** The id of the message this answers. */
  replyTo?: string;
  createdAt: number;
  status: "pending" | "held" | "failed";
  error?: string;
}

/** A quiet line in the timeline: someone joined or left, or history was reset; or
 * a whisper (only ever here, never in the server's history). */
export interface SystemLine {
  id: string;
  text: string;
  epoch: string;
  afterSeq: number;
  at: number;
  whisper?: Whisper;
}

/** A place in a room's history: after this message. */
export interface Position {
  epoch: string;
  seq: number;
}

export interface Room {
  name: string;
  username: string;
  /** `joining` until the server's first room_state for it. */
  status: "joining" | "joined";
  epochs: string[];
  messages: ChatMessage[];
  pending: PendingMessage[];
  system: SystemLine[];
  members: Member[];
  typing: Record<string, { username: string; at: number }>;
  unread: number;
  /** Unread messages that mention you. */
  unreadMentions: number;
  /** The newest change (edit, deletion, reaction) applied: part of where we are. */
  lastChange: Position | null;
  /** room_state arrived on the current connection, so the server has us as a member. */
  synced: boolean;
  /** What you had seen when you last looked away from the room. */
  lastRead: Position | null;
  /** Where the "new messages" divider goes while you look at the room again. */
  dividerAfter: Position | null;
  /** Whether the server may hold messages older than the first one here. */
  hasEarlier: boolean;
  /** People who vanished with their server (`shutdown`/`lost`) or their connection,
   * by name, so their quick return is not announced as a join. */
  away: Record<string, { at: number; reason: LeaveReason }>;
  /** The trip last seen behind each name here (by nameKey; "" for unverified),
   * remembered across visits (identityMemory.ts). */
  knownTrips: Record<string, string>;
  /** Names whose trip changed since they were last seen here (by nameKey): shown
   * as "new identity", so impersonation after a lease ran out is visible. */
  newIdentities: Record<string, true>;
  /** Owner, moderators, topic and rules, as the server last said (null: not yet). */
  info: RoomInfo | null;
  /** For moderators: people knocking and reports waiting, as they arrived. */
  knocks: Knock[];
  reports: Report[];
}

/** A join the server refused, shown at the field the person needs to change. */
export interface JoinRefusal {
  room: string;
  code: string;
  message: string;
  field: "nickname" | "room" | "form";
  /** When a rate limit ends (ms since epoch), for a countdown. */
  until: number | null;
  /** A free name close to the refused one (`nickname_taken`). */
  suggestion: string | null;
}

export interface ShownError {
  code: string;
  message: string;
  room: string | null;
  /** A free name close to a refused one (`nickname_taken` on a rename). */
  suggestion: string | null;
}

/** What the one live region says; `id` changes so the same words are said again. */
export interface Announcement {
  id: number;
  text: string;
}

export interface ChatState {
  status: ConnectionStatus;
  sid: string | null;
  /** Our trip on the current connection (null: unverified, or not connected yet). */
  trip: string | null;
  /** Every sid this page has had: messages sent before a reconnect are still ours. */
  mySids: string[];
  limits: Limits;
  rooms: Record<string, Room>;
  roomOrder: string[];
  activeRoom: string | null;
  /** People whose messages, whispers, typing and mentions are hidden (ignore.ts). */
  ignored: Ignored;
  /** A proof of work under way: for a room's door (under a raid), or for the
   * server itself (a connection flood: `room` null); `progress` from 0 to 1. */
  proving: { room: string | null; progress: number } | null;
  /** A locked room we knocked on, and the name we will join it under. */
  knocking: { room: string; username: string } | null;
  /** The room a join is under way for, shown as soon as the server lets us in. */
  pendingFocus: string | null;
  lobbyRooms: RoomCount[];
  /** Whether the server answered a room listing yet (else the lobby says it waits). */
  lobbyRoomsLoaded: boolean;
  joinRefusal: JoinRefusal | null;
  error: ShownError | null;
  hidden: boolean;
  announcement: Announcement;
  /** While the server rate-limits us (ms since epoch), nothing is sent. */
  limitedUntil: number | null;
  /** The Mentions view is shown instead of the room or lobby. */
  mentionsView: boolean;
  /** A message to show (scroll to and mark): a reply's original, a mention. `n`
   * makes a repeated request a new one. */
  jump: { room: string; id: string; n: number } | null;
}

export const DEFAULT_LIMITS: Limits = {
  max_message_length: 2000,
  max_username_length: 32,
  max_room_length: 64,
  history_size: 100,
  edit_window_seconds: 600,
};

export const TYPING_TIMEOUT_MS = 6000;
/** Someone back within this long after vanishing is not announced again. */
export const RETURN_WINDOW_MS = 120_000;

export const initialState: ChatState = {
  status: "connecting",
  sid: null,
  trip: null,
  mySids: [],
  limits: DEFAULT_LIMITS,
  rooms: {},
  roomOrder: [],
  activeRoom: null,
  pendingFocus: null,
  ignored: {},
  proving: null,
  knocking: null,
  lobbyRooms: [],
  lobbyRoomsLoaded: false,
  joinRefusal: null,
  error: null,
  hidden: false,
  announcement: { id: 0, text: "" },
  limitedUntil: null,
  mentionsView: false,
  jump: null,
};

export type ChatAction =
  | { type: "connected"; sid: string; trip: string | null; limits: Limits }
  | { type: "connection_lost" }
  | { type: "went_offline" }
  | {
      type: "join_requested";
      room: string;
      username: string;
      focus: boolean;
      knownTrips?: Record<string, string>;
    }
  | { type: "join_refused"; room: string; error: ServerError; at: number }
  | { type: "join_refusal_dismissed" }
  | { type: "room_state_received"; state: RoomState; at: number }
  | { type: "member_joined"; membership: Membership; at: number }
  | { type: "member_left"; membership: Membership; at: number }
  | { type: "renamed"; renamed: Renamed; at: number }
  | { type: "room_info_received"; info: RoomInfo }
  | { type: "moderation_notice"; notice: ModerationNotice; at: number }
  | { type: "ignore_changed"; person: { sid: string; trip: string | null; username: string }; on: boolean; at: number }
  | { type: "ignored_loaded"; ignored: Ignored }
  | { type: "proof_progress"; room: string | null; progress: number }
  | { type: "proof_done" }
  | { type: "knock_sent"; room: string; username: string }
  | { type: "knock_answered"; room: string; approved: boolean; by: string }
  | { type: "knock_received"; knock: Knock; at: number }
  | { type: "report_received"; report: Report; at: number }
  | { type: "requests_loaded"; room: string; knocks: Knock[]; reports: Report[] }
  | { type: "renamed_after_return"; room: string; from: string; to: string; at: number }
  | { type: "messages_received"; messages: RoomEntry[] }
  | { type: "whisper_received"; whisper: Whisper; at: number }
  | { type: "history_received"; page: HistoryPage; older: boolean; requested: number }
  | {
      type: "message_queued";
      room: string;
      clientId: string;
      text: string;
      at: number;
      kind?: "action";
      replyTo?: string;
    }
  | { type: "message_acked"; room: string; clientId: string; receipt: MessageReceipt }
  | { type: "message_refused"; room: string; clientId: string; error: string }
  | { type: "message_rate_limited"; room: string; clientId: string; until: number }
  | { type: "rate_limited"; until: number }
  | { type: "limit_expired"; now: number }
  | { type: "pending_retried"; room: string; clientId: string }
  | { type: "pending_discarded"; room: string; clientId: string }
  | { type: "typing_changed"; notice: TypingNotice; at: number }
  | { type: "typing_expired"; now: number }
  | { type: "rooms_listed"; rooms: RoomCount[] }
  | { type: "room_selected"; room: string | null }
  | { type: "mentions_view"; open: boolean }
  | { type: "jump_requested"; room: string; id: string }
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
        trip: action.trip ?? null,
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
      if (existing) {
        return action.focus ? selectRoom(state, action.room) : state;
      }
      return {
        ...state,
        rooms: {
          ...state.rooms,
          [action.room]: newRoom(action.room, action.username, action.knownTrips ?? {}),
        },
        roomOrder: [...state.roomOrder, action.room],
        pendingFocus: action.focus ? action.room : state.pendingFocus,
        joinRefusal: null,
      };
    }
    case "join_refused":
      return joinRefused(state, action.room, action.error, action.at);
    case "join_refusal_dismissed":
      return { ...state, joinRefusal: null };
    case "room_state_received": {
      const next = updateRoom(state, action.state.room, (room) =>
        applyRoomState(room, action.state, action.at, state),
      );
      if (state.pendingFocus !== action.state.room) return next;
      return selectRoom({ ...next, pendingFocus: null, joinRefusal: null }, action.state.room);
    }
    case "member_joined":
      return updateRoom(state, action.membership.room, (room) =>
        memberJoined(room, action.membership, isMine(state, action.membership), action.at),
      );
    case "member_left": {
      const mine = isMine(state, action.membership);
      if (mine && isRemoval(action.membership)) return removed(state, action.membership, action.at);
      return updateRoom(state, action.membership.room, (room) =>
        memberLeft(room, action.membership, mine, action.at),
      );
    }
    case "room_info_received":
      return updateRoom(state, action.info.room, (room) => ({ ...room, info: action.info }));
    case "moderation_notice":
      return updateRoom(state, action.notice.room, (room) => ({
        ...room,
        knocks: room.knocks.filter((knock) => knock.id !== action.notice.knock),
        system: [...room.system, systemLine(room, noticeText(action.notice, action.at), action.at)],
      }));
    case "ignore_changed": {
      const key = personKey(action.person);
      const ignored = { ...state.ignored };
      if (action.on) ignored[key] = { key, name: action.person.username, at: action.at };
      else delete ignored[key];
      return { ...state, ignored };
    }
    case "ignored_loaded":
      return { ...state, ignored: action.ignored };
    case "proof_progress":
      return { ...state, proving: { room: action.room, progress: action.progress } };
    case "proof_done":
      return { ...state, proving: null };
    case "knock_sent": {
      const message = `You knocked on #${action.room}. Waiting for a moderator to let you in…`;
      return {
        ...state,
        knocking: { room: action.room, username: action.username },
        joinRefusal: { room: action.room, code: "knocking", message, field: "form", until: null, suggestion: null },
      };
    }
    case "knock_answered": {
      if (state.knocking?.room !== action.room) return state;
      if (action.approved) return { ...state, knocking: null, joinRefusal: null };
      const message = `${action.by} did not let you into #${action.room}.`;
      return {
        ...state,
        knocking: null,
        joinRefusal: { room: action.room, code: "turned_away", message, field: "form", until: null, suggestion: null },
      };
    }
    case "knock_received":
      return updateRoom(state, action.knock.room, (room) => ({
        ...room,
        knocks: [...room.knocks.filter((knock) => knock.id !== action.knock.id), action.knock],
        system: [
          ...room.system,
          systemLine(room, `${action.knock.username} is knocking: answer in Moderation`, action.at),
        ],
      }));
    case "report_received":
      return updateRoom(state, action.report.room, (room) => ({
        ...room,
        reports: [...room.reports.filter((report) => report.id !== action.report.id), action.report],
        system: [
          ...room.system,
          systemLine(room, `${action.report.reporter} reported a message of ${action.report.author}: see Moderation`, action.at),
        ],
      }));
    case "requests_loaded":
      return updateRoom(state, action.room, (room) => ({ ...room, knocks: action.knocks, reports: action.reports }));
    case "renamed":
      return updateRoom(state, action.renamed.room, (room) =>
        renamed(room, action.renamed, isMine(state, action.renamed), action.at),
      );
    case "renamed_after_return":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        username: action.to,
        system: [
          ...room.system,
          systemLine(
            room,
            `Someone else took the name ${action.from} here while you were away; you are ${action.to} now.`,
            action.at,
          ),
        ],
      }));
    case "messages_received":
      return action.messages.reduce(entryReceived, state);
    case "whisper_received":
      if (isIgnored(state, action.whisper)) return state;
      return updateRoom(state, action.whisper.room, (room) => {
        if (room.system.some((line) => line.whisper?.id === action.whisper.id)) return room;
        const line = { ...systemLine(room, action.whisper.message, action.at), whisper: action.whisper };
        const mine = isMine(state, action.whisper);
        const seen = !state.hidden && state.activeRoom === room.name;
        return {
          ...room,
          system: [...room.system, { ...line, id: `w-${action.whisper.id}` }],
          unread: mine || seen ? room.unread : room.unread + 1,
          unreadMentions: mine || seen ? room.unreadMentions : room.unreadMentions + 1,
        };
      });
    case "history_received":
      return updateRoom(state, action.page.room, (room) => {
        const merged = mergeMessages(room, action.page.messages, action.page.epoch, action.page.last_seq);
        if (!action.older) return merged;
        const first = action.page.messages[0];
        const exhausted = action.page.messages.length < action.requested || first?.seq === 1;
        return { ...merged, hasEarlier: !exhausted };
      });
    case "message_queued":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        pending: [
          ...room.pending,
          {
            clientId: action.clientId,
            text: action.text,
            ...(action.kind ? { kind: action.kind } : {}),
            ...(action.replyTo ? { replyTo: action.replyTo } : {}),
            createdAt: action.at,
            status: isLimited(state, action.at) ? "held" : "pending",
          },
        ],
      }));
    case "message_acked":
      return updateRoom(state, action.room, (room) => messageAcked(room, action, state.sid, state.trip));
    case "message_refused":
      return updateRoom(state, action.room, (room) =>
        changePending(room, action.clientId, { status: "failed", error: action.error }),
      );
    case "message_rate_limited": {
      // Everything not yet sent waits, in order, until the limit ends.
      const limited = { ...state, limitedUntil: Math.max(state.limitedUntil ?? 0, action.until) };
      return { ...limited, rooms: mapRooms(limited.rooms, holdPending) };
    }
    case "rate_limited":
      return { ...state, limitedUntil: Math.max(state.limitedUntil ?? 0, action.until) };
    case "limit_expired":
      if (state.limitedUntil === null || state.limitedUntil > action.now) return state;
      return { ...state, limitedUntil: null, rooms: mapRooms(state.rooms, releasePending) };
    case "pending_retried":
      return updateRoom(state, action.room, (room) =>
        changePending(room, action.clientId, {
          status: isLimited(state) ? "held" : "pending",
          error: undefined,
        }),
      );
    case "pending_discarded":
      return updateRoom(state, action.room, (room) => ({
        ...room,
        pending: room.pending.filter((p) => p.clientId !== action.clientId),
      }));
    case "typing_changed":
      if (isIgnored(state, action.notice)) return state;
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
      return { ...state, rooms: mapRooms(state.rooms, (room) => expireTyping(room, action.now)) };
    case "rooms_listed":
      return { ...state, lobbyRooms: action.rooms, lobbyRoomsLoaded: true };
    case "room_selected":
      if (action.room !== null && !state.rooms[action.room]) return state;
      return selectRoom(state, action.room);
    case "mentions_view":
      return action.open ? { ...lookAway(state), mentionsView: true, activeRoom: null } : { ...state, mentionsView: false };
    case "jump_requested": {
      if (!state.rooms[action.room]) return state;
      const jump = { room: action.room, id: action.id, n: (state.jump?.n ?? 0) + 1 };
      return { ...selectRoom(state, action.room), jump };
    }
    case "room_closed": {
      const left = lookAway(state);
      const rooms = { ...left.rooms };
      delete rooms[action.room];
      const roomOrder = left.roomOrder.filter((name) => name !== action.room);
      const closed = {
        ...left,
        rooms,
        roomOrder,
        pendingFocus: left.pendingFocus === action.room ? null : left.pendingFocus,
      };
      if (left.activeRoom !== action.room) return closed;
      // The room you were in goes: the last of your other rooms, or the lobby.
      const next = roomOrder[roomOrder.length - 1] ?? null;
      return lookAt({ ...closed, activeRoom: next }, next);
    }
    case "error_received":
      return {
        ...state,
        error: {
          code: action.error.code,
          message: action.error.message,
          room: action.room,
          suggestion: action.error.suggestion ?? null,
        },
      };
    case "error_dismissed":
      return { ...state, error: null };
    case "visibility_changed":
      if (action.hidden === state.hidden) return state;
      if (action.hidden) return { ...lookAway(state), hidden: true };
      return lookAt({ ...state, hidden: false }, state.activeRoom);
    default: {
      const unexpected: never = action;
      throw new Error(`unknown action ${JSON.stringify(unexpected)}`);
    }
  }
}

/** Who a person is in a room: their trip, or (unverified) their connection. */
export function personKey(person: { sid: string; trip: string | null }): string {
  return person.trip ?? `sid:${person.sid}`;
}

/** Whether `person` is someone you ignore. */
export function isIgnored(state: { ignored: Ignored }, person: { sid: string; trip?: string | null }): boolean {
  return personKey({ sid: person.sid, trip: person.trip ?? null }) in state.ignored;
}

/** How names are compared for "new identity": as people read them. */
export function nameKey(username: string): string {
  return username.normalize("NFKC").toLowerCase();
}

/** Whether this is us: this page's connection, or another of our identity's. */
export function isMine(state: ChatState, person: { sid: string; trip: string | null }): boolean {
  return state.mySids.includes(person.sid) || (Boolean(state.trip) && person.trip === state.trip);
}

/** Trips remembered per room at most (the oldest are forgotten first). */
export const MAX_KNOWN_TRIPS = 500;

/**
 * Remember the trip behind `username`; a name seen before under another trip (or
 * now without one) is flagged as a new identity. Our own names are never flagged.
 */
export function noteTrip(room: Room, username: string, trip: string | null, mine: boolean): Room {
  const key = nameKey(username);
  const value = trip ?? "";
  const before = room.knownTrips[key];
  if (before === value) return room;
  const knownTrips = { ...room.knownTrips };
  delete knownTrips[key]; // re-inserted last: the most recently seen
  knownTrips[key] = value;
  const keys = Object.keys(knownTrips);
  for (const old of keys.slice(0, Math.max(0, keys.length - MAX_KNOWN_TRIPS))) delete knownTrips[old];
  const changed = before !== undefined && !mine;
  const newIdentities = changed ? { ...room.newIdentities, [key]: true as const } : room.newIdentities;
  return { ...room, knownTrips, newIdentities };
}

/** Whether the server asked us to wait before sending anything more. */
export function isLimited(state: ChatState, now: number = Date.now()): boolean {
  return state.limitedUntil !== null && state.limitedUntil > now;
}

/** Messages that mention you across your rooms, newest first (the Mentions view). */
export function recentMentions(state: ChatState, limit = 100): ChatMessage[] {
  const found: ChatMessage[] = [];
  for (const room of Object.values(state.rooms)) {
    for (const message of room.messages) {
      if (!message.deleted && mentionsMe(state, message) && !isMine(state, message) && !isIgnored(state, message)) {
        found.push(message);
      }
    }
  }
  return found.sort((a, b) => b.timestamp - a.timestamp).slice(0, limit);
}

/** Unread mentions of you (and whispers) across every room. */
export function totalMentions(state: ChatState): number {
  return Object.values(state.rooms).reduce((sum, room) => sum + room.unreadMentions, 0);
}

/** Unread messages across every room, for the document title. */
export function totalUnread(state: ChatState): number {
  return Object.values(state.rooms).reduce((sum, room) => sum + room.unread, 0);
}

/** The highest seq this client holds in the room's current history lifetime
 * (a message's, or a change's). */
export function lastSeq(room: Room): number {
  const epoch = currentEpoch(room);
  const change = room.lastChange !== null && room.lastChange.epoch === epoch ? room.lastChange.seq : 0;
  for (let i = room.messages.length - 1; i >= 0; i--) {
    const message = room.messages[i];
    if (message && message.epoch === epoch) return Math.max(message.seq, change);
  }
  return change;
}

/** Whether `message` mentions us (our trip, or one of this page's connections). */
export function mentionsMe(state: ChatState, message: { mentions?: string[] }): boolean {
  const mentions = message.mentions;
  if (!mentions || mentions.length === 0) return false;
  return mentions.some((who) => (state.trip !== null && who === state.trip) || state.mySids.includes(who));
}

/** The lowest seq held in the current epoch (for scrolling back), or null. */
export function firstSeq(room: Room): number | null {
  const epoch = currentEpoch(room);
  const first = room.messages.find((m) => m.epoch === epoch);
  return first ? first.seq : null;
}

/**
 * Whether `incoming` (one room's messages, in seq order) skips a seq after what the
 * room holds, so the client must fetch the missing ones with `history`.
 */
export function skipsSeq(room: Room, incoming: readonly RoomEntry[]): boolean {
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

/** Whether `message` comes after `position` in the room's history. */
export function isAfter(room: Room, message: ChatMessage, position: Position): boolean {
  const rank = room.epochs.indexOf(message.epoch);
  const positionRank = room.epochs.indexOf(position.epoch);
  return rank > positionRank || (rank === positionRank && message.seq > position.seq);
}

function newRoom(name: string, username: string, knownTrips: Record<string, string>): Room {
  return {
    name,
    username,
    status: "joining",
    epochs: [],
    messages: [],
    pending: [],
    system: [],
    members: [],
    typing: {},
    unread: 0,
    unreadMentions: 0,
    lastChange: null,
    synced: false,
    lastRead: null,
    dividerAfter: null,
    hasEarlier: false,
    away: {},
    knownTrips,
    newIdentities: {},
    info: null,
    knocks: [],
    reports: [],
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
  const changed = change(room);
  return changed === room ? state : { ...state, rooms: { ...state.rooms, [name]: changed } };
}

/** Where "everything here is read" stands: after the newest message (or before the
 * first one of an empty room). */
function newest(room: Room): Position | null {
  const last = room.messages[room.messages.length - 1];
  if (last) return { epoch: last.epoch, seq: last.seq };
  const epoch = currentEpoch(room);
  return epoch === null ? null : { epoch, seq: 0 };
}

/** You stop looking at the active room: what it shows now counts as read. */
function lookAway(state: ChatState): ChatState {
  return updateRoom(state, state.activeRoom ?? "", (room) => ({
    ...room,
    lastRead: newest(room) ?? room.lastRead,
    dividerAfter: null,
  }));
}

/** You look at `name`: its unread count clears, and the divider marks what is new. */
function lookAt(state: ChatState, name: string | null): ChatState {
  return updateRoom(state, name ?? "", (room) => {
    const latest = room.messages[room.messages.length - 1];
    const fresh = room.lastRead !== null && latest !== undefined && isAfter(room, latest, room.lastRead);
    return { ...room, unread: 0, unreadMentions: 0, dividerAfter: fresh ? room.lastRead : null };
  });
}

function selectRoom(state: ChatState, name: string | null): ChatState {
  if (state.activeRoom === name) return { ...state, error: null, mentionsView: false };
  const away = lookAway(state);
  const next = { ...away, activeRoom: name, error: null, mentionsView: false };
  return state.hidden ? next : lookAt(next, name);
}

/** A moderator removed us from a room: it closes, and the lobby says who and until
 * when (a room you cannot rejoin yet is not joined again on reconnect). */
function removed(state: ChatState, membership: Membership, at: number): ChatState {
  const closed = chatReducer(state, { type: "room_closed", room: membership.room });
  const code = membership.reason === "kicked" ? "kicked" : "banned";
  const message = removalText(membership, true, at);
  // The lobby shows it as an alert, which is also what screen readers hear.
  return {
    ...closed,
    joinRefusal: { room: membership.room, code, message, field: "form", until: null, suggestion: null },
  };
}

/** Refusals that keep you out of one room for a long while: no countdown, which
 * would hold back joining any other room. */
const KEPT_OUT = new Set(["banned", "kicked"]);

function joinRefused(state: ChatState, name: string, error: ServerError, at: number): ChatState {
  const room = state.rooms[name];
  let next = state;
  if (room && room.status === "joining") {
    const rooms = { ...state.rooms };
    delete rooms[name];
    next = { ...state, rooms, roomOrder: state.roomOrder.filter((r) => r !== name) };
  }
  const field =
    error.code === "invalid_username" || error.code === "nickname_taken"
      ? "nickname"
      : error.code === "invalid_room" || error.code === "too_many_rooms"
        ? "room"
        : "form";
  return {
    ...next,
    pendingFocus: next.pendingFocus === name ? null : next.pendingFocus,
    activeRoom: next.activeRoom === name && room?.status === "joining" ? null : next.activeRoom,
    joinRefusal: {
      room: name,
      code: error.code,
      message: KEPT_OUT.has(error.code) ? `${error.message} (${untilText(error.until, at)})` : error.message,
      field,
      until: error.retry_after_ms && !KEPT_OUT.has(error.code) ? at + error.retry_after_ms : null,
      suggestion: error.suggestion ?? null,
    },
  };
}

function systemLine(room: Room, text: string, at: number): SystemLine {
  const epoch = currentEpoch(room) ?? "";
  return { id: `${epoch}:${room.system.length}:${at}`, text, epoch, afterSeq: lastSeq(room), at };
}

function applyRoomState(room: Room, state: RoomState, at: number, chat: ChatState): Room {
  // Members are replaced without a line each: after a reconnect, who is here now is
  // simply what the server says, not a burst of joins and leaves. Our name is the
  // server's (another tab of ours may have chosen it).
  let next: Room = {
    ...room,
    username: state.username ?? room.username,
    members: state.members,
    synced: true,
    typing: {},
    status: "joined",
    info: state.info ?? room.info,
  };
  for (const member of state.members) {
    next = noteTrip(next, member.username, member.trip, isMine(chat, member));
  }
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
  next = mergeMessages(next, state.messages, state.epoch, state.last_seq);
  if (room.status === "joining") {
    // What was said before we came is history, not unread news.
    const first = state.messages[0];
    next = {
      ...next,
      lastRead: newest(next),
      hasEarlier: first !== undefined && first.seq > 1,
    };
  }
  return next;
}

/**
 * Add a stream of server entries: messages (a copy already held is replaced by a
 * newer one) and changes to them, applied in seq order. `asOf`: the room's last_seq
 * when a page of history was taken (its messages show every change up to it); live
 * messages are current as of their own seq.
 */
function mergeMessages(room: Room, incoming: RoomEntry[], epoch: string, asOf?: number): Room {
  if (incoming.length === 0) return room;
  const epochs = room.epochs.includes(epoch) ? room.epochs : [...room.epochs, epoch];
  const arrived: ChatMessage[] = [];
  const changes: MessageChange[] = [];
  for (const entry of incoming) {
    if (isChange(entry)) changes.push(entry);
    else arrived.push({ ...entry, epoch, asOf: asOf ?? entry.seq });
  }
  let next: Room = { ...room, epochs };
  if (arrived.length > 0) {
    const held = new Map(room.messages.map((m, index) => [m.id, index]));
    let messages = room.messages;
    const fresh: ChatMessage[] = [];
    for (const message of arrived) {
      const index = held.get(message.id);
      if (index === undefined) {
        fresh.push(message);
      } else if ((messages[index]?.asOf ?? 0) < message.asOf) {
        if (messages === room.messages) messages = [...messages];
        messages[index] = message; // a newer picture of it
      }
    }
    if (fresh.length > 0) {
      const rank = new Map(epochs.map((e, i) => [e, i]));
      messages = [...messages, ...fresh].sort(
        (a, b) => (rank.get(a.epoch) ?? 0) - (rank.get(b.epoch) ?? 0) || a.seq - b.seq,
      );
    }
    next = { ...next, messages };
  }
  if (changes.length > 0) next = applyChanges(next, changes, epoch);
  return settlePending(next, arrived);
}

/** Edits, deletions and reactions, each applied once to the message it changes. */
function applyChanges(room: Room, changes: MessageChange[], epoch: string): Room {
  const ordered = [...changes].sort((a, b) => a.seq - b.seq);
  const messages = [...room.messages];
  const index = new Map(messages.map((m, i) => [m.id, i]));
  let lastChange = room.lastChange;
  for (const change of ordered) {
    if (lastChange === null || lastChange.epoch !== epoch || lastChange.seq < change.seq) {
      lastChange = { epoch, seq: change.seq };
    }
    const at = index.get(change.id);
    const target = at === undefined ? undefined : messages[at];
    if (at === undefined || !target || target.asOf >= change.seq) continue;
    messages[at] = { ...changedMessage(target, change), asOf: change.seq };
    if (change.event === "message_deleted") {
      for (let i = 0; i < messages.length; i++) {
        const quoting = messages[i];
        if (quoting?.reply_to?.id === change.id && !quoting.reply_to.deleted) {
          messages[i] = { ...quoting, reply_to: { ...quoting.reply_to, snippet: "", deleted: true } };
        }
      }
    }
  }
  return { ...room, messages, lastChange };
}

/** A message after one change (state/changes.py says the same for the server). */
export function changedMessage(message: ChatMessage, change: MessageChange): ChatMessage {
  switch (change.event) {
    case "message_edited": {
      const edited: ChatMessage = { ...message, message: change.message, edited_at: change.edited_at };
      if (change.mentions && change.mentions.length > 0) edited.mentions = change.mentions;
      else delete edited.mentions;
      return edited;
    }
    case "message_deleted": {
      const gone: ChatMessage = { ...message, message: "", deleted: true };
      delete gone.reactions;
      delete gone.mentions;
      delete gone.edited_at;
      delete gone.kind;
      return gone;
    }
    case "reaction": {
      const who = change.trip ?? change.sid;
      const reactions = { ...(message.reactions ?? {}) };
      const voters = (reactions[change.emoji] ?? []).filter((voter) => voter !== who);
      if (change.on) voters.push(who);
      if (voters.length > 0) reactions[change.emoji] = voters;
      else delete reactions[change.emoji];
      const reacted: ChatMessage = { ...message, reactions };
      if (Object.keys(reactions).length === 0) delete reacted.reactions;
      return reacted;
    }
  }
}

function settlePending(room: Room, incoming: ServerMessage[]): Room {
  const settled = new Set(incoming.map((m) => m.client_id).filter(Boolean));
  if (settled.size === 0 || room.pending.length === 0) return room;
  return { ...room, pending: room.pending.filter((p) => !settled.has(p.clientId)) };
}

function changePending(room: Room, clientId: string, change: Partial<PendingMessage>): Room {
  return {
    ...room,
    pending: room.pending.map((p) => (p.clientId === clientId ? { ...p, ...change } : p)),
  };
}

function holdPending(room: Room): Room {
  if (!room.pending.some((p) => p.status === "pending")) return room;
  return {
    ...room,
    pending: room.pending.map((p) => (p.status === "pending" ? { ...p, status: "held" } : p)),
  };
}

function releasePending(room: Room): Room {
  if (!room.pending.some((p) => p.status === "held")) return room;
  return {
    ...room,
    pending: room.pending.map((p) => (p.status === "held" ? { ...p, status: "pending" } : p)),
  };
}

function entryReceived(state: ChatState, entry: RoomEntry): ChatState {
  if (!isChange(entry)) return messageReceived(state, entry);
  const room = state.rooms[entry.room];
  const epoch = room ? currentEpoch(room) : null;
  if (!room || epoch === null) return state; // room_state will show it
  return updateRoom(state, room.name, (held) => mergeMessages(held, [entry], epoch));
}

function messageReceived(state: ChatState, message: ServerMessage): ChatState {
  const room = state.rooms[message.room];
  if (!room) return state;
  const epoch = currentEpoch(room);
  if (epoch === null) return state; // before room_state: it will carry this message
  const last = room.messages[room.messages.length - 1];
  const appends = !last || (last.epoch === epoch && last.seq < message.seq);
  // The usual case, the next message, needs no search for a copy we already hold;
  // a held copy is replaced only by a newer picture (our own, from its ack).
  if (!appends && room.messages.some((m) => m.id === message.id && m.asOf >= message.seq)) return state;
  let next: Room;
  if (appends) {
    const held: ChatMessage = { ...message, epoch, asOf: message.seq };
    next = settlePending({ ...room, messages: [...room.messages, held] }, [message]);
  } else {
    next = mergeMessages(room, [message], epoch);
  }
  const mine = isMine(state, message);
  next = noteTrip(next, message.username, message.trip, mine);
  // Someone ignored is neither counted, announced nor a mention.
  const seen = (!state.hidden && state.activeRoom === room.name) || isIgnored(state, message);
  if (!mine && !seen) next = { ...next, unread: next.unread + 1 };
  if (!mine && !seen && mentionsMe(state, message)) {
    next = { ...next, unreadMentions: next.unreadMentions + 1 };
  }
  if (!mine) {
    const typing = { ...next.typing };
    delete typing[message.sid];
    next = { ...next, typing };
  }
  return {
    ...state,
    rooms: { ...state.rooms, [room.name]: next },
    announcement: mine || isIgnored(state, message)
      ? state.announcement
      : { id: state.announcement.id + 1, text: `${message.username} in ${room.name}: ${message.message}` },
  };
}

function messageAcked(
  room: Room,
  action: { clientId: string; receipt: MessageReceipt },
  sid: string | null,
  trip: string | null,
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
    trip,
    message: pending.text,
    client_id: pending.clientId,
    ...(pending.kind ? { kind: pending.kind } : {}),
  };
  // Current as of just before its own seq: the server's copy of it (with its
  // reply quote and mentions) replaces it when that arrives.
  return mergeMessages(room, [confirmed], epoch, action.receipt.seq - 0.5);
}

function memberJoined(room: Room, membership: Membership, mine: boolean, at: number): Room {
  const person = personKey(membership);
  if (room.members.some((m) => personKey(m) === person)) return room;
  const member = { sid: membership.sid, username: membership.username, trip: membership.trip };
  const noted = noteTrip({ ...room, members: [...room.members, member] }, member.username, member.trip, mine);
  if (mine) return noted;
  const away = noted.away[membership.username];
  const returning = away !== undefined && at - away.at < RETURN_WINDOW_MS;
  const stillAway = { ...noted.away };
  delete stillAway[membership.username];
  if (returning && away.reason !== "disconnect") {
    return { ...noted, away: stillAway }; // their server restarted: they never left
  }
  const text = returning ? `${membership.username} is back` : `${membership.username} joined`;
  return { ...noted, away: stillAway, system: [...noted.system, systemLine(noted, text, at)] };
}

function memberLeft(room: Room, membership: Membership, mine: boolean, at: number): Room {
  if (mine) return room;
  const person = personKey(membership);
  const typing = { ...room.typing };
  delete typing[membership.sid];
  const members = room.members.filter((m) => personKey(m) !== person);
  const reason = membership.reason ?? "leave";
  if (isRemoval(membership)) {
    const text = removalText(membership, false, at);
    return { ...room, typing, members, system: [...room.system, systemLine(room, text, at)] };
  }
  if (reason === "leave") {
    return {
      ...room,
      typing,
      members,
      system: [...room.system, systemLine(room, `${membership.username} left`, at)],
    };
  }
  const away = { ...room.away, [membership.username]: { at, reason } };
  if (reason === "disconnect") {
    const text = `${membership.username} lost their connection`;
    return { ...room, typing, members, away, system: [...room.system, systemLine(room, text, at)] };
  }
  return { ...room, typing, members, away }; // shutdown, lost: only away for a moment
}

/** Someone (maybe us, from this or another tab) took a new name in the room. */
function renamed(room: Room, change: Renamed, mine: boolean, at: number): Room {
  const person = personKey(change);
  const members = room.members.map((m) => (personKey(m) === person ? { ...m, username: change.new } : m));
  const text = mine ? `You are now ${change.new}` : `${change.old} is now ${change.new}`;
  const next = {
    ...room,
    members,
    username: mine ? change.new : room.username,
    system: [...room.system, systemLine(room, text, at)],
  };
  return noteTrip(next, change.new, change.trip, mine);
}

function expireTyping(room: Room, now: number): Room {
  const stale = Object.entries(room.typing).filter(([, t]) => now - t.at > TYPING_TIMEOUT_MS);
  if (stale.length === 0) return room;
  const typing = { ...room.typing };
  for (const [sid] of stale) delete typing[sid];
  return { ...room, typing };
}
