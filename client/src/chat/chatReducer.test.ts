import { describe, expect, it } from "vitest";

import { chatReducer, initialState, isLimited, lastSeq, skipsSeq, totalUnread, type ChatState } from "./chatReducer";
import type { ServerMessage } from "./protocol";

const LIMITS = { max_message_length: 100, max_username_length: 32, max_room_length: 64, history_size: 100 };

function message(seq: number, overrides: Partial<ServerMessage> = {}): ServerMessage {
  return {
    room: "lobby",
    id: `id-${seq}`,
    seq,
    sid: "other",
    username: "bob",
    message: `m${seq}`,
    timestamp: 1000 + seq,
    ...overrides,
  };
}

function joinedState(messages: ServerMessage[] = [], epoch = "e1"): ChatState {
  let state = chatReducer(initialState, { type: "connected", sid: "me", limits: LIMITS });
  state = chatReducer(state, { type: "join_requested", room: "lobby", username: "alice" });
  return chatReducer(state, {
    type: "room_state_received",
    state: { room: "lobby", members: [{ sid: "me", username: "alice" }], messages, epoch, last_seq: messages.length },
    at: 1,
  });
}

function seqs(state: ChatState): number[] {
  return state.rooms.lobby?.messages.map((m) => m.seq) ?? [];
}

describe("chatReducer", () => {
  it("joins a room and makes it active", () => {
    const state = joinedState([message(1)]);
    expect(state.activeRoom).toBe("lobby");
    expect(state.roomOrder).toEqual(["lobby"]);
    expect(state.rooms.lobby?.synced).toBe(true);
    expect(seqs(state)).toEqual([1]);
  });

  it("records others joining and leaving as system lines, not its own join", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "member_joined", membership: { room: "lobby", sid: "me", username: "alice", count: 1 }, at: 2 });
    state = chatReducer(state, { type: "member_joined", membership: { room: "lobby", sid: "b", username: "bob", count: 2 }, at: 3 });
    state = chatReducer(state, { type: "member_left", membership: { room: "lobby", sid: "b", username: "bob", count: 1 }, at: 4 });
    expect(state.rooms.lobby?.system.map((line) => line.text)).toEqual(["bob joined", "bob left"]);
    expect(state.rooms.lobby?.members.map((m) => m.username)).toEqual(["alice"]);
  });

  it("merges history by seq without duplicates", () => {
    let state = joinedState([message(1), message(2)]);
    state = chatReducer(state, { type: "message_received", message: message(5) });
    state = chatReducer(state, {
      type: "history_received",
      page: { room: "lobby", epoch: "e1", last_seq: 5, messages: [message(2), message(3), message(4), message(5)] },
    });
    expect(seqs(state)).toEqual([1, 2, 3, 4, 5]);
    expect(lastSeq(state.rooms.lobby!)).toBe(5);
  });

  it("takes a batch in one step and knows when it skips a seq", () => {
    let state = joinedState([message(1)]);
    const room = state.rooms.lobby!;
    expect(skipsSeq(room, [message(1), message(2), message(3)])).toBe(false);
    expect(skipsSeq(room, [message(3)])).toBe(true);
    expect(skipsSeq(room, [message(2), message(4)])).toBe(true);
    state = chatReducer(state, { type: "messages_received", messages: [message(1), message(2), message(3)] });
    expect(seqs(state)).toEqual([1, 2, 3]);
  });

  it("ignores a message it already holds", () => {
    let state = joinedState([message(1)]);
    state = chatReducer(state, { type: "message_received", message: message(1) });
    expect(seqs(state)).toEqual([1]);
  });

  it("keeps a pending message until it is acknowledged, then shows it once", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "message_queued", room: "lobby", clientId: "c1", text: "hi", at: 5 });
    expect(state.rooms.lobby?.pending).toHaveLength(1);
    state = chatReducer(state, {
      type: "message_acked",
      room: "lobby",
      clientId: "c1",
      receipt: { id: "id-1", seq: 1, timestamp: 6 },
    });
    expect(state.rooms.lobby?.pending).toEqual([]);
    state = chatReducer(state, {
      type: "message_received",
      message: message(1, { sid: "me", username: "alice", message: "hi", client_id: "c1" }),
    });
    expect(state.rooms.lobby?.messages.map((m) => m.message)).toEqual(["hi"]);
  });

  it("settles a pending message when the broadcast arrives before the ack", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "message_queued", room: "lobby", clientId: "c1", text: "hi", at: 5 });
    state = chatReducer(state, { type: "message_received", message: message(1, { sid: "me", client_id: "c1" }) });
    expect(state.rooms.lobby?.pending).toEqual([]);
    state = chatReducer(state, { type: "message_acked", room: "lobby", clientId: "c1", receipt: { id: "id-1", seq: 1, timestamp: 6 } });
    expect(seqs(state)).toEqual([1]);
  });

  it("marks a refused message failed and can retry or discard it", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "message_queued", room: "lobby", clientId: "c1", text: "hi", at: 5 });
    state = chatReducer(state, { type: "message_refused", room: "lobby", clientId: "c1", error: "Too long" });
    expect(state.rooms.lobby?.pending[0]).toMatchObject({ status: "failed", error: "Too long" });
    state = chatReducer(state, { type: "pending_retried", room: "lobby", clientId: "c1" });
    expect(state.rooms.lobby?.pending[0]?.status).toBe("pending");
    state = chatReducer(state, { type: "pending_discarded", room: "lobby", clientId: "c1" });
    expect(state.rooms.lobby?.pending).toEqual([]);
  });

  it("counts unread messages in rooms not on screen, and clears them on selection", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "join_requested", room: "other", username: "alice" });
    state = chatReducer(state, { type: "message_received", message: message(1) });
    state = chatReducer(state, { type: "message_received", message: message(2) });
    expect(state.rooms.lobby?.unread).toBe(2);
    expect(totalUnread(state)).toBe(2);
    state = chatReducer(state, { type: "room_selected", room: "lobby" });
    expect(state.rooms.lobby?.unread).toBe(0);
  });

  it("counts unread in the active room while the tab is hidden", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "visibility_changed", hidden: true });
    state = chatReducer(state, { type: "message_received", message: message(1) });
    expect(totalUnread(state)).toBe(1);
    state = chatReducer(state, { type: "visibility_changed", hidden: false });
    expect(totalUnread(state)).toBe(0);
  });

  it("does not count its own messages as unread", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "room_selected", room: null });
    state = chatReducer(state, { type: "message_received", message: message(1, { sid: "me" }) });
    expect(totalUnread(state)).toBe(0);
  });

  it("marks rooms unsynced when the connection drops, keeping their messages", () => {
    let state = joinedState([message(1)]);
    state = chatReducer(state, { type: "connection_lost" });
    expect(state.status).toBe("reconnecting");
    expect(state.rooms.lobby?.synced).toBe(false);
    expect(seqs(state)).toEqual([1]);
  });

  it("keeps old messages when the server's history epoch changes", () => {
    let state = joinedState([message(1), message(2)], "old");
    state = chatReducer(state, {
      type: "room_state_received",
      state: { room: "lobby", members: [], messages: [message(1, { id: "new-1" })], epoch: "new", last_seq: 1 },
      at: 9,
    });
    const room = state.rooms.lobby!;
    expect(room.messages.map((m) => `${m.epoch}:${m.seq}`)).toEqual(["old:1", "old:2", "new:1"]);
    expect(room.system.at(-1)?.text).toMatch(/history was reset/);
    expect(lastSeq(room)).toBe(1);
  });

  it("expires typing indicators", () => {
    let state = joinedState();
    state = chatReducer(state, {
      type: "typing_changed",
      notice: { room: "lobby", sid: "b", username: "bob", typing: true },
      at: 1000,
    });
    expect(Object.keys(state.rooms.lobby!.typing)).toEqual(["b"]);
    state = chatReducer(state, { type: "typing_expired", now: 3000 });
    expect(Object.keys(state.rooms.lobby!.typing)).toEqual(["b"]);
    state = chatReducer(state, { type: "typing_expired", now: 10_000 });
    expect(state.rooms.lobby!.typing).toEqual({});
  });

  it("closing the active room selects the previous one", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "join_requested", room: "second", username: "alice" });
    state = chatReducer(state, { type: "room_closed", room: "second" });
    expect(state.activeRoom).toBe("lobby");
    expect(state.rooms.second).toBeUndefined();
  });

  it("throws on an unknown action", () => {
    expect(() => chatReducer(initialState, { type: "nonsense" } as never)).toThrow(/unknown action/);
  });
});

describe("rate limiting", () => {
  it("puts a rate-limited message back into the draft, ahead of newer text", () => {
    let state = joinedState();
    state = chatReducer(state, { type: "message_queued", room: "lobby", clientId: "c1", text: "first", at: 1 });
    state = chatReducer(state, { type: "draft_changed", room: "lobby", text: "second" });
    state = chatReducer(state, { type: "message_rate_limited", room: "lobby", clientId: "c1", until: 5000 });
    expect(state.rooms.lobby?.pending).toEqual([]);
    expect(state.drafts.lobby).toBe("first\nsecond");
    expect(isLimited(state, 4999)).toBe(true);
    state = chatReducer(state, { type: "limit_expired", now: 5000 });
    expect(isLimited(state, 5000)).toBe(false);
    expect(state.limitedUntil).toBeNull();
  });
});
