import { describe, expect, it } from "vitest";

import { TEST_LIMITS } from "../testing/limits";
import { serverMessage } from "../testing/renderChat";
import { chatReducer, initialState, lastSeq, skipsSeq, type ChatAction, type ChatState } from "./chatReducer";
import type { MessageChange, RoomEntry, ServerMessage, Whisper } from "./protocol";

const LIMITS = TEST_LIMITS;

function message(seq: number, overrides: Partial<ServerMessage> = {}): ServerMessage {
  return serverMessage(seq, { sid: "other", trip: "bobtrip000", message: `m${seq}`, timestamp: 1000 + seq, ...overrides });
}

const edit = (seq: number, id: string, text: string): MessageChange => ({
  event: "message_edited",
  room: "lobby",
  seq,
  id,
  message: text,
  edited_at: 5000 + seq,
});
const deletion = (seq: number, id: string): MessageChange => ({ event: "message_deleted", room: "lobby", seq, id });
const reaction = (seq: number, id: string, emoji: string, on: boolean, trip: string): MessageChange => ({
  event: "reaction",
  room: "lobby",
  seq,
  id,
  emoji,
  on,
  sid: `sid-${trip}`,
  trip,
  count: 0,
});

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

function joined(entries: RoomEntry[], lastSeqOfRoom?: number): ChatState {
  const start = chatReducer(initialState, { type: "connected", sid: "me", trip: "mytrip0000", limits: LIMITS });
  return run(
    start,
    { type: "join_requested", room: "lobby", username: "alice", focus: true },
    {
      type: "room_state_received",
      state: {
        room: "lobby",
        username: "alice",
        trip: "mytrip0000",
        members: [],
        messages: entries,
        epoch: "e1",
        last_seq: lastSeqOfRoom ?? entries.length,
      },
      at: 1,
    },
  );
}

const live = (...entries: RoomEntry[]): ChatAction => ({ type: "messages_received", messages: entries });

function shown(state: ChatState, id = "id-1") {
  const found = state.rooms.lobby?.messages.find((m) => m.id === id);
  if (!found) throw new Error(`no message ${id}`);
  return found;
}

describe("changes to messages", () => {
  it("applies a live edit, deletion and reaction once each", () => {
    let state = joined([message(1), message(2, { reply_to: { id: "id-1", username: "bob", trip: null, snippet: "m1" } })]);
    state = run(state, live(edit(3, "id-1", "fixed")));
    expect(shown(state).message).toBe("fixed");
    expect(shown(state).edited_at).toBe(5003);
    state = run(state, live(reaction(4, "id-1", "👍", true, "t1")), live(reaction(4, "id-1", "👍", true, "t1")));
    expect(shown(state).reactions).toEqual({ "👍": ["t1"] });
    state = run(state, live(deletion(5, "id-1")));
    expect(shown(state)).toMatchObject({ deleted: true, message: "" });
    expect(shown(state).reactions).toBeUndefined();
    expect(shown(state, "id-2").reply_to).toMatchObject({ deleted: true, snippet: "" });
    expect(lastSeq(state.rooms.lobby!)).toBe(5);
    expect(state.rooms.lobby?.messages).toHaveLength(2);
  });

  it("does not apply again what a page of history already shows", () => {
    // The server's picture after all three changes, and the changes themselves.
    const now = message(1, { message: "v2", edited_at: 5003, reactions: { "🎉": ["t2"] } });
    const state = joined([now, edit(2, "id-1", "v1"), reaction(3, "id-1", "🎉", true, "t1"), edit(4, "id-1", "v2"),
      reaction(5, "id-1", "🎉", false, "t1"), reaction(6, "id-1", "🎉", true, "t2")]);
    expect(shown(state).message).toBe("v2");
    expect(shown(state).reactions).toEqual({ "🎉": ["t2"] });
    expect(lastSeq(state.rooms.lobby!)).toBe(6);
  });

  it("counts changes in the seq stream: a missed one is a gap to fill", () => {
    const state = joined([message(1), message(2)]);
    const room = state.rooms.lobby!;
    expect(skipsSeq(room, [edit(3, "id-1", "x")])).toBe(false);
    expect(skipsSeq(room, [reaction(4, "id-1", "👍", true, "t")])).toBe(true);
    const after = run(state, live(edit(3, "id-1", "x")));
    expect(skipsSeq(after.rooms.lobby!, [message(4)])).toBe(false);
  });

  it("lands changes that arrive before the message they change from a gap fill", () => {
    let state = joined([message(1)]);
    // seq 3 (an edit of message 2) arrives live; 2 and 3 come with the fill.
    state = run(state, live(edit(3, "id-2", "edited")));
    expect(state.rooms.lobby?.messages.map((m) => m.id)).toEqual(["id-1"]);
    state = run(state, {
      type: "history_received",
      page: { room: "lobby", messages: [message(2, { message: "edited", edited_at: 5003 }), edit(3, "id-2", "edited")], epoch: "e1", last_seq: 3 },
      older: false,
      requested: 0,
    });
    expect(shown(state, "id-2").message).toBe("edited");
  });

  it("replaces our own acknowledged copy with the server's, quote and all", () => {
    let state = joined([message(1)]);
    state = run(
      state,
      { type: "message_queued", room: "lobby", clientId: "c1", text: "yes", at: 10, replyTo: "id-1" },
      { type: "message_acked", room: "lobby", clientId: "c1", receipt: { id: "id-2", seq: 2, timestamp: 20 } },
    );
    expect(shown(state, "id-2").reply_to).toBeUndefined();
    const quote = { id: "id-1", username: "bob", trip: null, snippet: "m1" };
    state = run(state, live(message(2, { sid: "me", message: "yes", reply_to: quote })));
    expect(shown(state, "id-2").reply_to).toEqual(quote);
    expect(state.rooms.lobby?.messages).toHaveLength(2);
  });

  it("counts unread mentions of us while we look elsewhere", () => {
    let state = run(joined([]), { type: "visibility_changed", hidden: true });
    state = run(state, live(message(1, { mentions: ["mytrip0000"] }), message(2), message(3, { mentions: ["other"] })));
    expect(state.rooms.lobby?.unread).toBe(3);
    expect(state.rooms.lobby?.unreadMentions).toBe(1);
    state = run(state, { type: "visibility_changed", hidden: false });
    expect(state.rooms.lobby?.unreadMentions).toBe(0);
  });
});

describe("whispers", () => {
  const whisper: Whisper = {
    room: "lobby",
    id: "w-1",
    sid: "other",
    username: "bob",
    trip: "bobtrip000",
    to: { sid: "me", username: "alice", trip: "mytrip0000" },
    message: "psst",
    timestamp: 50,
  };

  it("shows a whisper once in its room, where it was said", () => {
    let state = joined([message(1)]);
    state = run(state, { type: "whisper_received", whisper, at: 60 }, { type: "whisper_received", whisper, at: 61 });
    const lines = state.rooms.lobby?.system ?? [];
    expect(lines).toHaveLength(1);
    expect(lines[0]?.whisper?.message).toBe("psst");
    expect(lines[0]?.afterSeq).toBe(1);
  });
});
