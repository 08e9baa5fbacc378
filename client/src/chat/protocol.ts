/**
 * The event contract of docs/protocol.md, typed. server/chat/protocol.py holds the
 * same event names and error codes; tests/chat/test_protocol_doc.py checks all three
 * agree.
 */

export const CLIENT_EVENTS = [
  "test_message",
  "join",
  "leave",
  "message",
  "history",
  "typing",
  "list_rooms",
  "rename",
  "edit",
  "delete",
  "react",
  "whisper",
  "kick",
  "ban",
  "unban",
  "mute",
  "topic",
  "slow_mode",
  "lock",
  "list_room",
  "moderator",
  "hand_over",
  "audit_log",
  "knock",
  "answer_knock",
  "report",
  "resolve_report",
  "raid_mode",
  "solve",
] as const;

export const SERVER_EVENTS = [
  "connected",
  "test_response",
  "joined",
  "room_state",
  "left",
  "message",
  "messages",
  "typing",
  "renamed",
  "rooms",
  "room_seq",
  "message_edited",
  "message_deleted",
  "reaction",
  "whisper",
  "room_info",
  "moderation",
  "audit_log",
  "knock",
  "knock_answered",
  "report",
  "error",
] as const;

/** What this client announces in its connect auth (see docs/protocol.md). */
export interface ConnectAuth {
  /** This client takes room messages as `messages` batches. */
  features: string[];
  /** One random id per tab: a message retried after a reconnect is recognised. */
  session: string;
  /** The identity key (chat/identity.ts): the server knows us by its trip. */
  identity: string;
}

export const FEATURES = ["messages"] as const;

export const ERROR_CODES = [
  "invalid_payload",
  "invalid_room",
  "invalid_username",
  "nickname_taken",
  "empty_message",
  "message_too_long",
  "not_in_room",
  "unknown_event",
  "rate_limited",
  "too_many_rooms",
  "too_many_connections",
  "connecting_too_fast",
  "unknown_message",
  "not_author",
  "edit_window_passed",
  "too_many_reactions",
  "no_such_member",
  "not_allowed",
  "no_trip",
  "not_banned",
  "unknown_request",
  "challenge_required",
  "challenge_failed",
  "on_probation",
  "banned",
  "kicked",
  "room_locked",
  "muted",
  "slow_mode",
  "unavailable",
  "internal_error",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export interface Limits {
  max_message_length: number;
  max_username_length: number;
  max_room_length: number;
  history_size: number;
  /** How long after sending a message its author may edit it. */
  edit_window_seconds: number;
}

export interface Member {
  sid: string;
  username: string;
  /** Who they are across tabs and visits; null: unverified (no identity key). */
  trip: string | null;
}

/** What a reply shows of the message it answers (empty once that is deleted). */
export interface ReplyQuote {
  id: string;
  username: string;
  trip: string | null;
  snippet: string;
  deleted?: boolean;
}

export interface ServerMessage {
  room: string;
  id: string;
  seq: number;
  sid: string;
  username: string;
  trip: string | null;
  message: string;
  timestamp: number;
  client_id?: string;
  client_timestamp?: number;
  /** "action": a `/me` message. */
  kind?: "action";
  reply_to?: ReplyQuote;
  /** Trips (or sids, without one) of the members this message mentions. */
  mentions?: string[];
  edited_at?: number;
  deleted?: boolean;
  /** emoji -> trips (or sids) of who reacted with it. */
  reactions?: Record<string, string[]>;
}

/** A change to a message: numbered like messages, in history after it. */
export type MessageChange =
  | {
      event: "message_edited";
      room: string;
      seq: number;
      id: string;
      message: string;
      edited_at: number;
      mentions?: string[];
    }
  | { event: "message_deleted"; room: string; seq: number; id: string }
  | {
      event: "reaction";
      room: string;
      seq: number;
      id: string;
      emoji: string;
      on: boolean;
      sid: string;
      trip: string | null;
      count: number;
    };

/** An entry of a room's numbered stream: a message, or a change to one. */
export type RoomEntry = ServerMessage | MessageChange;

export function isChange(entry: RoomEntry): entry is MessageChange {
  return "event" in entry;
}

/** A message to one person, seen only by them and the sender; never stored. */
export interface Whisper {
  room: string;
  id: string;
  sid: string;
  username: string;
  trip: string | null;
  to: { sid: string; username: string; trip: string | null };
  message: string;
  timestamp: number;
}

export interface Connected {
  sid: string;
  trip: string | null;
  server_time: number;
  limits: Limits;
  /** During a connection flood: solve this (`solve`) before anything else. */
  challenge?: Challenge;
}

/** Why someone is no longer in a room (`left` events). */
export type LeaveReason = "leave" | "disconnect" | "shutdown" | "lost" | "kicked" | "banned";

export interface Membership {
  room: string;
  sid: string;
  username: string;
  trip: string | null;
  count: number;
  /** On `left`: whether they left, lost their connection, or their server went away. */
  reason?: LeaveReason;
  /** On `left` of someone kicked or banned: the moderator's name, and until when. */
  by?: string;
  until?: number;
}

/** A room's owner, moderators and rules (`room_info`, and in `room_state`). */
export interface RoomInfo {
  room: string;
  /** The owner's trip, or null: the next person with a trip to join owns it. */
  owner: string | null;
  owner_name: string | null;
  moderators: string[];
  server_moderators: string[];
  topic: string;
  listed: boolean;
  locked: boolean;
  slow_seconds: number;
  /** Newcomers prove work to join, then are on probation (docs/protocol.md). */
  raid_mode: boolean;
}

export type Role = "server_moderator" | "owner" | "moderator" | "member";

/** What someone with `trip` may do in a room described by `info`. */
export function roleOf(info: RoomInfo | undefined, trip: string | null): Role {
  if (!info || !trip) return "member";
  if (info.server_moderators.includes(trip)) return "server_moderator";
  if (info.owner === trip) return "owner";
  if (info.moderators.includes(trip)) return "moderator";
  return "member";
}

/** A moderation action, announced to the whole room. */
export interface ModerationNotice {
  room: string;
  action: string;
  by: string;
  by_trip: string | null;
  at: number;
  target?: string;
  target_trip?: string | null;
  until?: number;
  value?: string | number | boolean;
  /** On `let_in` and `turned_away`: the knock it answered. */
  knock?: string;
}

/** Someone asking into a locked room, as its moderators see it. */
export interface Knock {
  room: string;
  id: string;
  username: string;
  trip: string | null;
  at: number;
}

/** A member's report of a message, as the room's moderators see it. */
export interface Report {
  room: string;
  id: string;
  message_id: string;
  snippet: string;
  author: string;
  author_trip: string | null;
  reporter: string;
  reason: string;
  at: number;
}

export interface AuditLog {
  room: string;
  entries: {
    at: number;
    action: string;
    by: string;
    by_trip: string | null;
    target?: string;
    target_trip?: string | null;
    until?: number;
    setting?: string;
    value?: string | number | boolean;
  }[];
  bans: { username: string; trip: string | null; until: number; by: string; kind: string }[];
  mutes: { username: string; until: number; by: string }[];
  knocks: Knock[];
  reports: Report[];
}

export interface RoomState {
  room: string;
  /** Your name and trip in the room (another tab of yours may have named you). */
  username: string;
  trip: string | null;
  members: Member[];
  messages: RoomEntry[];
  epoch: string;
  last_seq: number;
  /** The room's owner, moderators and rules (sent by every server of this version). */
  info?: RoomInfo;
}

export interface HistoryPage {
  room: string;
  messages: RoomEntry[];
  epoch: string;
  last_seq: number;
}

export interface TypingNotice {
  room: string;
  sid: string;
  username: string;
  trip: string | null;
  typing: boolean;
}

/** Someone took a new name in a room (`rename`, `/nick`). */
export interface Renamed {
  room: string;
  sid: string;
  trip: string | null;
  old: string;
  new: string;
}

export interface RoomCount {
  room: string;
  count: number;
  topic?: string;
  owner_name?: string | null;
}

/** A room's position, sent after an outage so clients can fetch what they missed. */
export interface RoomSeq {
  room: string;
  epoch: string;
  last_seq: number;
}

export interface ServerError {
  code: ErrorCode;
  message: string;
  event: string;
  /** Present on `rate_limited`: when the same request would be accepted. */
  retry_after_ms?: number;
  /** Present on `nickname_taken`: a free name close to the one asked for. */
  suggestion?: string;
  /** Present on `banned`, `kicked`, `muted`: when it runs out (ms since the epoch). */
  until?: number;
  /** Present on `challenge_required` and `challenge_failed`: the work to do. */
  challenge?: Challenge;
}

/** A proof of work the server asks for (docs/protocol.md, raid mode and floods). */
export interface Challenge {
  nonce: string;
  bits: number;
  expires: number;
}

export interface Refusal {
  ok: false;
  error: {
    code: ErrorCode;
    message: string;
    retry_after_ms?: number;
    suggestion?: string;
    until?: number;
    challenge?: Challenge;
  };
}

export type Ack<T> = ({ ok: true } & T) | Refusal;

export interface JoinRequest {
  room: string;
  username?: string;
  epoch?: string;
  since?: number;
  proof?: { nonce: string; solution: string };
}

export interface MessageRequest {
  room: string;
  message: string;
  client_id?: string;
  timestamp?: number;
  kind?: "action";
  reply_to?: string;
}

export interface ChangeReceipt {
  id: string;
  seq: number;
}

export interface HistoryRequest {
  room: string;
  epoch?: string;
  since?: number;
  before?: number;
  limit?: number;
}

export interface MessageReceipt {
  id: string;
  seq: number;
  timestamp: number;
}

export interface ServerToClientEvents {
  connected: (payload: Connected) => void;
  test_response: (payload: {
    status: "ok";
    data: { message: string; timestamp?: number };
    server_time: number;
  }) => void;
  joined: (payload: Membership) => void;
  room_state: (payload: RoomState) => void;
  left: (payload: Membership) => void;
  message: (payload: ServerMessage) => void;
  messages: (payload: ServerMessage[]) => void;
  typing: (payload: TypingNotice) => void;
  renamed: (payload: Renamed) => void;
  rooms: (payload: { rooms: RoomCount[] }) => void;
  room_seq: (payload: RoomSeq) => void;
  message_edited: (payload: Extract<MessageChange, { event: "message_edited" }>) => void;
  message_deleted: (payload: Extract<MessageChange, { event: "message_deleted" }>) => void;
  reaction: (payload: Extract<MessageChange, { event: "reaction" }>) => void;
  whisper: (payload: Whisper) => void;
  room_info: (payload: RoomInfo) => void;
  moderation: (payload: ModerationNotice) => void;
  audit_log: (payload: AuditLog) => void;
  knock: (payload: Knock) => void;
  knock_answered: (payload: { room: string; approved: boolean; by: string }) => void;
  report: (payload: Report) => void;
  error: (payload: ServerError) => void;
}

/** The moderation requests (docs/protocol.md) and what each carries besides `room`. */
export interface ModerationRequests {
  kick: { name: string };
  ban: { name: string; minutes: number };
  unban: { name: string };
  mute: { name: string; minutes: number };
  topic: { topic: string };
  slow_mode: { seconds: number };
  lock: { locked: boolean };
  list_room: { listed: boolean };
  moderator: { name: string; on: boolean };
  hand_over: { name: string };
  raid_mode: { on: boolean };
}

export type ModerationEvent = keyof ModerationRequests;

type ModerationEmitters = {
  [E in ModerationEvent]: (
    payload: { room: string } & ModerationRequests[E],
    ack: (reply: Ack<Record<string, unknown>>) => void,
  ) => void;
};

export interface ClientToServerEvents extends ModerationEmitters {
  audit_log: (payload: { room: string }, ack: (reply: Ack<AuditLog>) => void) => void;
  solve: (
    payload: { proof: { nonce: string; solution: string } },
    ack: (reply: Ack<Record<string, never>>) => void,
  ) => void;
  knock: (
    payload: { room: string; username?: string },
    ack: (reply: Ack<{ room: string; locked: boolean; id?: string }>) => void,
  ) => void;
  answer_knock: (
    payload: { room: string; id: string; approve: boolean },
    ack: (reply: Ack<{ room: string; approved: boolean; by: string }>) => void,
  ) => void;
  report: (
    payload: { room: string; id: string; reason?: string },
    ack: (reply: Ack<{ room: string; id: string }>) => void,
  ) => void;
  resolve_report: (payload: { room: string; id: string }, ack: (reply: Ack<{ room: string; id: string }>) => void) => void;
  test_message: (
    payload: { message: string; timestamp?: number },
    ack: (reply: Ack<{ data: unknown }>) => void,
  ) => void;
  join: (payload: JoinRequest, ack: (reply: Ack<RoomState>) => void) => void;
  leave: (payload: { room: string }, ack: (reply: Ack<{ room: string }>) => void) => void;
  message: (payload: MessageRequest, ack: (reply: Ack<MessageReceipt>) => void) => void;
  history: (payload: HistoryRequest, ack: (reply: Ack<HistoryPage>) => void) => void;
  typing: (payload: { room: string; typing: boolean }) => void;
  list_rooms: (
    payload: Record<string, never>,
    ack: (reply: Ack<{ rooms: RoomCount[] }>) => void,
  ) => void;
  rename: (payload: { room: string; username: string }, ack: (reply: Ack<Renamed>) => void) => void;
  edit: (
    payload: { room: string; id: string; message: string; client_id?: string },
    ack: (reply: Ack<ChangeReceipt>) => void,
  ) => void;
  delete: (
    payload: { room: string; id: string; client_id?: string },
    ack: (reply: Ack<ChangeReceipt>) => void,
  ) => void;
  react: (
    payload: { room: string; id: string; emoji: string; on: boolean; client_id?: string },
    ack: (reply: Ack<ChangeReceipt>) => void,
  ) => void;
  whisper: (
    payload: { room: string; to: string; message: string },
    ack: (reply: Ack<Whisper>) => void,
  ) => void;
}

/** Why a room name is not valid, in words for people; null when it is fine. */
export function roomNameProblem(name: string): string | null {
  if (name.length === 0) return "Enter a room name.";
  if (name.length > 64) return "Room names are at most 64 characters.";
  if (!ROOM_NAME_PATTERN.test(name)) {
    return "Use only letters, digits, '-', '_' and '.' (no spaces).";
  }
  return null;
}

/** Why a nickname is not valid; null when it is fine. */
export function nicknameProblem(name: string, maxLength = 32): string | null {
  const trimmed = name.normalize("NFKC").trim();
  if (trimmed.length === 0) return "Pick a nickname.";
  if ([...trimmed].length > maxLength) return `Nicknames are at most ${maxLength} characters.`;
  if (/[\p{C}]/u.test(trimmed)) return "Nicknames can't contain control characters.";
  return null;
}
