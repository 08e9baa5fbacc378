import { describe, expect, it } from "vitest";

import { TEST_LIMITS } from "../testing/limits";
import {
  chatReducer,
  initialState,
  isLimited,
  lastSeq,
  MAX_KNOWN_TRIPS,
  noteTrip,
  RETURN_WINDOW_MS,
  skipsSeq,
  totalUnread,
  type ChatAction,
  type ChatState,
} from "./chatReducer";
import type { ServerMessage } from "./protocol";
import { buildTimeline } from "./timeline";

const LIMITS = TEST_LIMITS;

function message(seq: number, overrides: Partial<ServerMessage> = {}): ServerMessage {
  return {
    room: "lobby",
    id: `id-${seq}`,
    seq,
    sid: "other",
    username: "bob",
    trip: null,
    message: `m${seq}`,
    timestamp: 1000 + seq,
    ...overrides,
  };
}

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

function joined(room: string, messages: ServerMessage[] = [], state?: ChatState, epoch = "e1"): ChatState {
  const start = state ?? chatReducer(initialState, { type: "connected", sid: "me", trip: null, limits: LIMITS });
  return run(
    start,
    { type: "join_requested", room, username: "alice", focus: true },
    {
      type: "room_state_received",
      state: {
        room,
        username: "alice",
        trip: null,
        members: [{ sid: "me", username: "alice", trip: null }],
        messages,
        epoch,
        last_seq: messages.length,
      },
      at: 1,
    },
  );
}

function seqs(state: ChatState, room = "lobby"): number[] {
  return state.rooms[room]?.messages.map((m) => m.seq) ?? [];
}

function lines(state: ChatState, room = "lobby"): string[] {
  return state.rooms[room]?.system.map((line) => line.text) ?? [];
}

const membership = (username: string, sid: string, reason?: "leave" | "disconnect" | "shutdown" | "lost") => ({
  room: "lobby",
  sid,
  username,
  trip: null,
  count: 1,
  ...(reason ? { reason } : {}),
});

describe("joining", () => {
  it("shows a room once the server lets us in, not before", () => {
    let state = chatReducer(initialState, { type: "connected", sid: "me", trip: null, limits: LIMITS });
    state = chatReducer(state, { type: "join_requested", room: "lobby", username: "alice", focus: true });
    expect(state.activeRoom).toBeNull();
    expect(state.rooms.lobby?.status).toBe("joining");
    state = joined("lobby", [message(1)], state);
    expect(state.activeRoom).toBe("lobby");
    expect(state.rooms.lobby?.status).toBe("joined");
    expect(seqs(state)).toEqual([1]);
  });

  it("a refused join leaves no room behind and says which field to fix", () => {
    let state = chatReducer(initialState, { type: "join_requested", room: "lobby", username: "Admin", focus: true });
    state = chatReducer(state, {
      type: "join_refused",
      room: "lobby",
      error: { code: "invalid_username", message: "That nickname is reserved.", event: "join" },
      at: 100,
    });
    expect(state.rooms).toEqual({});
    expect(state.roomOrder).toEqual([]);
    expect(state.pendingFocus).toBeNull();
    expect(state.joinRefusal).toMatchObject({ field: "nickname", message: "That nickname is reserved.", until: null });
  });

  it.each([
    ["invalid_room", "room"],
    ["too_many_rooms", "room"],
    ["rate_limited", "form"],
    ["unavailable", "form"],
  ])("a %s refusal is shown at the %s", (code, field) => {
    const state = run(
      initialState,
      { type: "join_requested", room: "lobby", username: "alice", focus: true },
      { type: "join_refused", room: "lobby", error: { code: code as "rate_limited", message: "no", event: "join", retry_after_ms: 3000 }, at: 100 },
    );
    expect(state.joinRefusal?.field).toBe(field);
    expect(state.joinRefusal?.until).toBe(3100);
  });

  it("rooms joined again in the background do not take the screen", () => {
    let state = joined("lobby");
    state = run(
      state,
      { type: "join_requested", room: "saved", username: "alice", focus: false },
      {
        type: "room_state_received",
        state: { room: "saved", username: "alice", trip: null, members: [], messages: [], epoch: "e9", last_seq: 0 },
        at: 2,
      },
    );
    expect(state.rooms.saved?.status).toBe("joined");
    expect(state.activeRoom).toBe("lobby");
  });
});

describe("presence", () => {
  it("announces others joining and leaving, never itself", () => {
    const state = run(
      joined("lobby"),
      { type: "member_joined", membership: membership("alice", "me"), at: 2 },
      { type: "member_joined", membership: membership("bob", "b"), at: 3 },
      { type: "member_left", membership: membership("bob", "b", "leave"), at: 4 },
    );
    expect(lines(state)).toEqual(["bob joined", "bob left"]);
    expect(state.rooms.lobby?.members.map((m) => m.username)).toEqual(["alice"]);
  });

  it("a server restart is not people leaving, and their return is not news", () => {
    const state = run(
      joined("lobby"),
      { type: "member_joined", membership: membership("bob", "b1"), at: 2 },
      { type: "member_left", membership: membership("bob", "b1", "shutdown"), at: 3 },
      { type: "connection_lost" },
      { type: "member_joined", membership: membership("bob", "b2"), at: 3 + RETURN_WINDOW_MS - 1 },
    );
    expect(lines(state)).toEqual(["bob joined"]);
    expect(state.rooms.lobby?.members.map((m) => m.username)).toEqual(["alice", "bob"]);
  });

  it("a lost connection is said as such, and a quick return as being back", () => {
    const state = run(
      joined("lobby"),
      { type: "member_left", membership: membership("bob", "b1", "disconnect"), at: 10 },
      { type: "member_joined", membership: membership("bob", "b2"), at: 20 },
      { type: "member_left", membership: membership("bob", "b2", "disconnect"), at: 30 },
      { type: "member_joined", membership: membership("bob", "b3"), at: 30 + RETURN_WINDOW_MS + 1 },
    );
    expect(lines(state)).toEqual([
      "bob lost their connection",
      "bob is back",
      "bob lost their connection",
      "bob joined",
    ]);
  });

  it("after a reconnect, members are what the server says, without a line each", () => {
    let state = run(joined("lobby"), { type: "connection_lost" });
    state = chatReducer(state, {
      type: "room_state_received",
      state: {
        room: "lobby",
        username: "alice",
        trip: null,
        members: [
          { sid: "me2", username: "alice", trip: null },
          { sid: "c", username: "carol", trip: null },
        ],
        messages: [],
        epoch: "e1",
        last_seq: 0,
      },
      at: 50,
    });
    expect(lines(state)).toEqual([]);
    expect(state.rooms.lobby?.members.map((m) => m.username)).toEqual(["alice", "carol"]);
  });
});

describe("messages", () => {
  it("merges history by seq without duplicates", () => {
    const state = run(
      joined("lobby", [message(1), message(2)]),
      { type: "messages_received", messages: [message(5)] },
      {
        type: "history_received",
        page: { room: "lobby", epoch: "e1", last_seq: 5, messages: [message(2), message(3), message(4), message(5)] },
        older: false,
        requested: 0,
      },
    );
    expect(seqs(state)).toEqual([1, 2, 3, 4, 5]);
    expect(lastSeq(state.rooms.lobby!)).toBe(5);
  });

  it("takes a batch in one step and knows when it skips a seq", () => {
    let state = joined("lobby", [message(1)]);
    const room = state.rooms.lobby!;
    expect(skipsSeq(room, [message(1), message(2), message(3)])).toBe(false);
    expect(skipsSeq(room, [message(3)])).toBe(true);
    expect(skipsSeq(room, [message(2), message(4)])).toBe(true);
    state = chatReducer(state, { type: "messages_received", messages: [message(1), message(2), message(3)] });
    expect(seqs(state)).toEqual([1, 2, 3]);
  });

  it("knows when older messages may exist, and when scrolling back reached the start", () => {
    let state = joined("lobby", [message(101), message(102)]);
    expect(state.rooms.lobby?.hasEarlier).toBe(true);
    const older = Array.from({ length: 100 }, (_, i) => message(i + 1));
    state = chatReducer(state, {
      type: "history_received",
      page: { room: "lobby", epoch: "e1", last_seq: 102, messages: older },
      older: true,
      requested: 100,
    });
    expect(seqs(state)).toHaveLength(102);
    expect(state.rooms.lobby?.hasEarlier).toBe(false);
  });

  it("keeps a pending message until it is acknowledged, then shows it once", () => {
    let state = run(joined("lobby"), { type: "message_queued", room: "lobby", clientId: "c1", text: "hi", at: 5 });
    expect(state.rooms.lobby?.pending).toHaveLength(1);
    state = run(
      state,
      { type: "message_acked", room: "lobby", clientId: "c1", receipt: { id: "id-1", seq: 1, timestamp: 6 } },
      { type: "messages_received", messages: [message(1, { sid: "me", username: "alice", message: "hi", client_id: "c1" })] },
    );
    expect(state.rooms.lobby?.pending).toEqual([]);
    expect(state.rooms.lobby?.messages.map((m) => m.message)).toEqual(["hi"]);
  });

  it("marks a refused message failed and can retry or discard it", () => {
    let state = run(
      joined("lobby"),
      { type: "message_queued", room: "lobby", clientId: "c1", text: "hi", at: 5 },
      { type: "message_refused", room: "lobby", clientId: "c1", error: "Too long" },
    );
    expect(state.rooms.lobby?.pending[0]).toMatchObject({ status: "failed", error: "Too long" });
    state = chatReducer(state, { type: "pending_retried", room: "lobby", clientId: "c1" });
    expect(state.rooms.lobby?.pending[0]?.status).toBe("pending");
    state = chatReducer(state, { type: "pending_discarded", room: "lobby", clientId: "c1" });
    expect(state.rooms.lobby?.pending).toEqual([]);
  });
});

describe("rate limits", () => {
  it("holds every unsent message, in order, and releases them when the limit ends", () => {
    const now = Date.now();
    let state = run(
      joined("lobby"),
      { type: "message_queued", room: "lobby", clientId: "c1", text: "one", at: now },
      { type: "message_queued", room: "lobby", clientId: "c2", text: "two", at: now },
      { type: "message_rate_limited", room: "lobby", clientId: "c1", until: now + 5000 },
      { type: "message_queued", room: "lobby", clientId: "c3", text: "three", at: now + 1 },
    );
    const pending = state.rooms.lobby!.pending;
    expect(pending.map((p) => [p.text, p.status])).toEqual([
      ["one", "held"],
      ["two", "held"],
      ["three", "held"],
    ]);
    expect(isLimited(state, now + 1000)).toBe(true);
    state = chatReducer(state, { type: "limit_expired", now: now + 5000 });
    expect(state.limitedUntil).toBeNull();
    expect(state.rooms.lobby!.pending.map((p) => p.status)).toEqual(["pending", "pending", "pending"]);
  });
});

describe("reading", () => {
  it("counts unread messages in rooms not on screen, and clears them on selection", () => {
    let state = joined("other", [], joined("lobby"));
    state = chatReducer(state, { type: "messages_received", messages: [message(1), message(2)] });
    expect(state.rooms.lobby?.unread).toBe(2);
    expect(totalUnread(state)).toBe(2);
    state = chatReducer(state, { type: "room_selected", room: "lobby" });
    expect(state.rooms.lobby?.unread).toBe(0);
  });

  it("puts the new-messages divider where you left, and keeps it while you read", () => {
    let state = joined("lobby", [message(1), message(2)]);
    state = run(state, { type: "visibility_changed", hidden: true });
    state = chatReducer(state, { type: "messages_received", messages: [message(3), message(4)] });
    state = chatReducer(state, { type: "visibility_changed", hidden: false });
    expect(state.rooms.lobby?.dividerAfter).toEqual({ epoch: "e1", seq: 2 });
    state = chatReducer(state, { type: "messages_received", messages: [message(5)] });
    // Older messages loaded above do not move it.
    state = chatReducer(state, {
      type: "history_received",
      page: { room: "lobby", epoch: "e1", last_seq: 5, messages: [] },
      older: true,
      requested: 100,
    });
    const items = buildTimeline(state.rooms.lobby!, state.mySids, null, {}, 2000);
    const kinds = items.filter((i) => i.kind === "message" || i.kind === "divider").map((i) => (i.kind === "message" ? i.message.seq : "|"));
    expect(kinds).toEqual([1, 2, "|", 3, 4, 5]);
    // Looking away and back with nothing new: no divider.
    state = run(state, { type: "visibility_changed", hidden: true }, { type: "visibility_changed", hidden: false });
    expect(state.rooms.lobby?.dividerAfter).toBeNull();
  });

  it("what was said before you joined is history, not unread", () => {
    const state = joined("lobby", [message(1), message(2)]);
    expect(state.rooms.lobby?.dividerAfter).toBeNull();
    expect(state.rooms.lobby?.unread).toBe(0);
  });

  it("leaving the room you look at shows your last other room, or the lobby", () => {
    let state = joined("two", [], joined("one"));
    state = chatReducer(state, { type: "room_closed", room: "two" });
    expect(state.activeRoom).toBe("one");
    state = chatReducer(state, { type: "room_closed", room: "one" });
    expect(state.activeRoom).toBeNull();
  });
});

describe("identity", () => {
  it("renames a person wherever they are listed, and says so", () => {
    let state = joined("lobby");
    state = run(
      state,
      { type: "member_joined", membership: { ...membership("bob", "b1"), trip: "bobtrip001" }, at: 2 },
      { type: "renamed", renamed: { room: "lobby", sid: "b2", trip: "bobtrip001", old: "bob", new: "robert" }, at: 3 },
    );
    expect(state.rooms.lobby?.members.map((m) => m.username)).toEqual(["alice", "robert"]);
    expect(lines(state)).toEqual(["bob joined", "bob is now robert"]);
    expect(state.rooms.lobby?.username).toBe("alice");
  });

  it("remembers at most MAX_KNOWN_TRIPS names per room, the most recent", () => {
    let room = joined("lobby").rooms.lobby!;
    for (let i = 0; i < MAX_KNOWN_TRIPS + 20; i++) room = noteTrip(room, `name${i}`, `trip${i}`, false);
    const names = Object.keys(room.knownTrips);
    expect(names).toHaveLength(MAX_KNOWN_TRIPS);
    expect(names[names.length - 1]).toBe(`name${MAX_KNOWN_TRIPS + 19}`);
    expect(room.newIdentities).toEqual({});
    room = noteTrip(room, "NAME30", null, false); // unverified now: flagged
    expect(room.newIdentities).toEqual({ name30: true });
    room = noteTrip(room, "name31", "other", true); // our own: never flagged
    expect(room.newIdentities).toEqual({ name30: true });
  });
});
