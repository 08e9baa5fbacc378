import { describe, expect, it } from "vitest";

import { TEST_LIMITS } from "../testing/limits";
import { chatReducer, initialState, type ChatAction, type ChatState } from "./chatReducer";
import { sha256 } from "@noble/hashes/sha2.js";

import { leadingZeroBits, search } from "./powSearch";
import { solveChallenge } from "./proofOfWork";
import { buildTimeline } from "./timeline";
import { parseLine } from "./commands";
import { durationMinutes, noticeText, removalText, untilText } from "./moderation";
import { roleOf, type RoomInfo } from "./protocol";

const NOW = new Date(2026, 10, 26, 14, 0).getTime();

function info(overrides: Partial<RoomInfo> = {}): RoomInfo {
  return {
    room: "r",
    owner: "ownertrip2",
    owner_name: "alice",
    moderators: ["modtrip222"],
    server_moderators: ["stafftrip2"],
    topic: "",
    listed: false,
    locked: false,
    slow_seconds: 0,
    raid_mode: false,
    ...overrides,
  };
}

function inRoom(): ChatState {
  const actions: ChatAction[] = [
    { type: "connected", sid: "me", trip: "mytrip2222", limits: TEST_LIMITS },
    { type: "join_requested", room: "r", username: "bob", focus: true },
    {
      type: "room_state_received",
      state: {
        room: "r",
        username: "bob",
        trip: "mytrip2222",
        members: [
          { sid: "me", username: "bob", trip: "mytrip2222" },
          { sid: "s2", username: "carol", trip: "caroltrip2" },
        ],
        messages: [],
        epoch: "e1",
        last_seq: 0,
        info: info(),
      },
      at: NOW,
    },
  ];
  return actions.reduce(chatReducer, initialState);
}

describe("moderator commands", () => {
  it("reads every spelling into a request", () => {
    expect(parseLine("/kick @bob")).toEqual({ kind: "moderate", event: "kick", payload: { name: "bob" } });
    expect(parseLine("/ban bob")).toEqual({ kind: "moderate", event: "ban", payload: { name: "bob", minutes: 60 } });
    expect(parseLine("/ban bob 2h")).toEqual({ kind: "moderate", event: "ban", payload: { name: "bob", minutes: 120 } });
    expect(parseLine("/ban bob 1 d")).toEqual({ kind: "moderate", event: "ban", payload: { name: "bob", minutes: 1440 } });
    expect(parseLine("/mute bob")).toEqual({ kind: "moderate", event: "mute", payload: { name: "bob", minutes: 10 } });
    expect(parseLine("/unmute bob")).toEqual({ kind: "moderate", event: "mute", payload: { name: "bob", minutes: 0 } });
    expect(parseLine("/topic  cats  and dogs ")).toEqual({ kind: "moderate", event: "topic", payload: { topic: "cats  and dogs" } });
    expect(parseLine("/topic")).toEqual({ kind: "moderate", event: "topic", payload: { topic: "" } });
    expect(parseLine("/slow 30")).toEqual({ kind: "moderate", event: "slow_mode", payload: { seconds: 30 } });
    expect(parseLine("/slow off")).toEqual({ kind: "moderate", event: "slow_mode", payload: { seconds: 0 } });
    expect(parseLine("/lock")).toEqual({ kind: "moderate", event: "lock", payload: { locked: true } });
    expect(parseLine("/UNLIST")).toEqual({ kind: "moderate", event: "list_room", payload: { listed: false } });
    expect(parseLine("/deop bob")).toEqual({ kind: "moderate", event: "moderator", payload: { name: "bob", on: false } });
    expect(parseLine("/handover bob")).toEqual({ kind: "moderate", event: "hand_over", payload: { name: "bob" } });
    expect(parseLine("/mod")).toEqual({ kind: "moderation_panel" });
    expect(parseLine("/raid")).toEqual({ kind: "moderate", event: "raid_mode", payload: { on: true } });
    expect(parseLine("/raid off")).toEqual({ kind: "moderate", event: "raid_mode", payload: { on: false } });
    expect(parseLine("/raid maybe").kind).toBe("problem");
  });

  it("explains a command it cannot read", () => {
    expect(parseLine("/kick").kind).toBe("problem");
    expect(parseLine("/ban bob forever").kind).toBe("problem");
    expect(parseLine("/ban bob 0").kind).toBe("problem");
    expect(parseLine("/slow soon").kind).toBe("problem");
    expect(parseLine("/slow 99999").kind).toBe("problem");
    expect(durationMinutes("45")).toBe(45);
    expect(durationMinutes("3h")).toBe(180);
    expect(durationMinutes("x")).toBeNull();
  });
});

describe("what people read", () => {
  it("says until when, with the date when it is not today", () => {
    expect(untilText(NOW + 65 * 60_000, NOW)).toMatch(/^until \d\d:\d\d|^until \d{1,2}:\d\d/u);
    expect(untilText(NOW + 3 * 86_400_000, NOW)).toMatch(/^until .*29.*,/u);
  });

  it("words every notice", () => {
    const base = { room: "r", by: "alice", by_trip: "t", at: NOW };
    expect(noticeText({ ...base, action: "mute", target: "bob", until: NOW + 60_000 }, NOW)).toMatch(/^alice muted bob until/u);
    expect(noticeText({ ...base, action: "topic", value: "cats" })).toBe("alice set the topic: cats");
    expect(noticeText({ ...base, action: "topic", value: "" })).toBe("alice cleared the topic");
    expect(noticeText({ ...base, action: "slow", value: 30 })).toBe("alice turned on slow mode: one message every 30 s");
    expect(noticeText({ ...base, action: "lock", value: false })).toBe("alice unlocked the room");
    expect(noticeText({ ...base, action: "hand_over", target: "bob" })).toBe("alice handed the room over to bob");
  });

  it("tells a removed person who did it and until when", () => {
    const left = { room: "r", sid: "me", username: "bob", trip: null, count: 1, by: "alice", until: NOW + 60_000 };
    expect(removalText({ ...left, reason: "kicked" }, true, NOW)).toMatch(/^alice kicked you out of #r; you can come back until/u);
    expect(removalText({ ...left, reason: "banned" }, false, NOW)).toMatch(/^bob was banned by alice until/u);
  });
});

describe("roles", () => {
  it("ranks staff, owner, moderators and members by trip", () => {
    expect(roleOf(info(), "stafftrip2")).toBe("server_moderator");
    expect(roleOf(info(), "ownertrip2")).toBe("owner");
    expect(roleOf(info(), "modtrip222")).toBe("moderator");
    expect(roleOf(info(), "someone222")).toBe("member");
    expect(roleOf(info(), null)).toBe("member");
    expect(roleOf(undefined, "ownertrip2")).toBe("member");
  });
});

describe("the reducer", () => {
  it("keeps the room's info and shows notices in the timeline", () => {
    let state = inRoom();
    expect(state.rooms.r?.info?.owner_name).toBe("alice");
    state = chatReducer(state, { type: "room_info_received", info: info({ topic: "cats", locked: true }) });
    expect(state.rooms.r?.info?.topic).toBe("cats");
    state = chatReducer(state, {
      type: "moderation_notice",
      notice: { room: "r", action: "lock", by: "alice", by_trip: "ownertrip2", at: NOW, value: true },
      at: NOW,
    });
    expect(state.rooms.r?.system.at(-1)?.text).toBe("alice locked the room: only people here now can come back in");
  });

  it("shows someone else's kick as a line and closes the room when it is ours", () => {
    let state = inRoom();
    state = chatReducer(state, {
      type: "member_left",
      membership: { room: "r", sid: "s2", username: "carol", trip: "caroltrip2", count: 1, reason: "kicked", by: "alice", until: NOW },
      at: NOW,
    });
    expect(state.rooms.r?.members.map((m) => m.username)).toEqual(["bob"]);
    expect(state.rooms.r?.system.at(-1)?.text).toBe("carol was kicked out by alice");
    state = chatReducer(state, {
      type: "member_left",
      membership: { room: "r", sid: "other-tab", username: "bob", trip: "mytrip2222", count: 0, reason: "banned", by: "alice", until: NOW + 3_600_000 },
      at: NOW,
    });
    expect(state.rooms.r).toBeUndefined();
    expect(state.activeRoom).toBeNull();
    expect(state.joinRefusal?.code).toBe("banned");
    expect(state.joinRefusal?.message).toMatch(/^alice banned you from #r until/u);
    expect(state.joinRefusal?.until).toBeNull();
  });

  it("refuses a banned join without a countdown that would hold back other rooms", () => {
    let state = chatReducer(initialState, { type: "connected", sid: "me", trip: null, limits: TEST_LIMITS });
    state = chatReducer(state, { type: "join_requested", room: "r", username: "bob", focus: true });
    state = chatReducer(state, {
      type: "join_refused",
      room: "r",
      error: { code: "banned", message: "You were banned.", event: "join", until: NOW + 3_600_000, retry_after_ms: 3_600_000 },
      at: NOW,
    });
    expect(state.joinRefusal?.until).toBeNull();
    expect(state.joinRefusal?.message).toMatch(/^You were banned\. \(until/u);
  });
});

describe("knocks and reports", () => {
  it("waits on a knock, and says so when turned away", () => {
    let state = chatReducer(initialState, { type: "connected", sid: "me", trip: null, limits: TEST_LIMITS });
    state = chatReducer(state, { type: "knock_sent", room: "r", username: "bob" });
    expect(state.knocking).toEqual({ room: "r", username: "bob" });
    expect(state.joinRefusal?.code).toBe("knocking");
    expect(chatReducer(state, { type: "knock_answered", room: "other", approved: false, by: "x" })).toBe(state);
    const let_in = chatReducer(state, { type: "knock_answered", room: "r", approved: true, by: "alice" });
    expect(let_in.knocking).toBeNull();
    expect(let_in.joinRefusal).toBeNull();
    const turned = chatReducer(state, { type: "knock_answered", room: "r", approved: false, by: "alice" });
    expect(turned.joinRefusal?.message).toBe("alice did not let you into #r.");
  });

  it("keeps knocks and reports for moderators until answered", () => {
    let state = inRoom();
    const knock = { room: "r", id: "k1", username: "newbie", trip: null, at: NOW };
    state = chatReducer(state, { type: "knock_received", knock, at: NOW });
    state = chatReducer(state, { type: "knock_received", knock, at: NOW });
    expect(state.rooms.r?.knocks).toEqual([knock]);
    expect(state.rooms.r?.system.at(-1)?.text).toBe("newbie is knocking: answer in Moderation");
    state = chatReducer(state, {
      type: "moderation_notice",
      notice: { room: "r", action: "let_in", by: "alice", by_trip: "t", at: NOW, target: "newbie", knock: "k1" },
      at: NOW,
    });
    expect(state.rooms.r?.knocks).toEqual([]);
    expect(state.rooms.r?.system.at(-1)?.text).toBe("alice let newbie in");
    const report = {
      room: "r",
      id: "p1",
      message_id: "m1",
      snippet: "spam",
      author: "carol",
      author_trip: null,
      reporter: "bob",
      reason: "",
      at: NOW,
    };
    state = chatReducer(state, { type: "report_received", report, at: NOW });
    expect(state.rooms.r?.reports).toEqual([report]);
    state = chatReducer(state, { type: "requests_loaded", room: "r", knocks: [], reports: [] });
    expect(state.rooms.r?.reports).toEqual([]);
  });
});

describe("ignore", () => {
  it("hides someone's messages, whispers, typing and mentions, and brings them back", () => {
    let state = chatReducer(inRoom(), { type: "room_selected", room: null });
    const carol = { sid: "s2", username: "carol", trip: "caroltrip2" };
    state = chatReducer(state, { type: "ignore_changed", person: carol, on: true, at: NOW });
    state = chatReducer(state, {
      type: "messages_received",
      messages: [
        { room: "r", id: "m1", seq: 1, sid: "s2", username: "carol", trip: "caroltrip2", message: "@bob hi", timestamp: NOW, mentions: ["mytrip2222"] },
        { room: "r", id: "m2", seq: 2, sid: "s3", username: "dave", trip: null, message: "hello", timestamp: NOW },
      ],
    });
    const room = state.rooms.r!;
    expect(room.unread).toBe(1);
    expect(room.unreadMentions).toBe(0);
    expect(buildTimeline(room, state.mySids, state.trip, state.ignored, NOW).filter((i) => i.kind === "message")).toHaveLength(1);
    state = chatReducer(state, {
      type: "typing_changed",
      notice: { room: "r", sid: "s2", username: "carol", trip: "caroltrip2", typing: true },
      at: NOW,
    });
    expect(state.rooms.r?.typing).toEqual({});
    const whisper = {
      room: "r",
      id: "w1",
      sid: "s2",
      username: "carol",
      trip: "caroltrip2",
      to: { sid: "me", username: "bob", trip: "mytrip2222" },
      message: "psst",
      timestamp: NOW,
    };
    expect(chatReducer(state, { type: "whisper_received", whisper, at: NOW })).toBe(state);
    state = chatReducer(state, { type: "ignore_changed", person: carol, on: false, at: NOW });
    expect(buildTimeline(state.rooms.r!, state.mySids, state.trip, state.ignored, NOW).filter((i) => i.kind === "message")).toHaveLength(2);
  });
});

describe("proof of work", () => {
  it("finds a solution the server's rule accepts", async () => {
    const challenge = { nonce: "abc.1.8.sig", bits: 8, expires: 0 };
    const seen: number[] = [];
    const solution = await solveChallenge(challenge, (progress) => seen.push(progress));
    const digest = sha256(new TextEncoder().encode(`${challenge.nonce}:${solution}`));
    expect(leadingZeroBits(digest)).toBeGreaterThanOrEqual(8);
    expect(seen.every((p) => p > 0 && p < 1)).toBe(true);
    expect(search(challenge, 0, 0)).toBeNull();
  });

  it("counts leading zero bits as the server does", () => {
    expect(leadingZeroBits(new Uint8Array([0, 0, 0xff]))).toBe(16);
    expect(leadingZeroBits(new Uint8Array([0, 0x1f]))).toBe(11);
    expect(leadingZeroBits(new Uint8Array([0x80]))).toBe(0);
  });
});
