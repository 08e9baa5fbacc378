import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { SHOW_EVERY_MS } from "./chat/ChatProvider";
import { overLimitText } from "./components/Composer";
import { FakeSocket } from "./testing/fakeSocket";
import { renderChat, roomState, serverMessage } from "./testing/renderChat";

type Payload = { room: string; client_id?: string; message?: string; before?: number; limit?: number };

/** A socket whose server accepts every join and acks messages in order. */
function cooperativeSocket(): FakeSocket {
  const socket = new FakeSocket();
  let seq = 0;
  socket.respond = (event, payload) => {
    const data = payload as Payload;
    if (event === "join") {
      queueMicrotask(() => socket.serverEmit("room_state", roomState(data.room)));
      return { ok: true, ...roomState(data.room) };
    }
    if (event === "message") {
      seq += 1;
      return { ok: true, id: `id-${seq}`, seq, timestamp: Date.now() };
    }
    if (event === "list_rooms") return { ok: true, rooms: [{ room: "busy", count: 3 }] };
    return undefined;
  };
  return socket;
}

async function joinLobby(nickname = "alice", socket = cooperativeSocket()) {
  const chat = renderChat(socket);
  await chat.user.type(screen.getByLabelText("Nickname"), nickname);
  await chat.user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
  await screen.findByRole("heading", { name: "#lobby" });
  return chat;
}

/** Lets what just arrived be shown (incoming messages are shown at most every
 * SHOW_EVERY_MS) and the virtualized list place it (it waits a frame). */
async function settle(): Promise<void> {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, SHOW_EVERY_MS + 50));
  });
}

function texts(): string[] {
  return within(screen.getByRole("log"))
    .getAllByText(/^message \d+$/)
    .map((node) => node.textContent ?? "");
}

describe("lobby", () => {
  it("introduces the product, remembers the nickname and checks room names as you type", async () => {
    window.localStorage.setItem("chat.nickname", "zoe");
    const { user } = renderChat(cooperativeSocket());
    expect(screen.getByRole("heading", { name: "Welcome to Murmur" })).toBeInTheDocument();
    expect(screen.getByText(/no account, just a nickname/)).toBeInTheDocument();
    expect(screen.getByLabelText("Nickname")).toHaveValue("zoe");
    expect(screen.getByLabelText("Room name")).toHaveFocus();
    await user.type(screen.getByLabelText("Room name"), "my room");
    expect(screen.getByText(/no spaces/)).toBeInTheDocument();
  });

  it("asks for a nickname first on a first visit", () => {
    renderChat(cooperativeSocket());
    expect(screen.getByLabelText("Nickname")).toHaveFocus();
  });

  it("lists rooms with people and joins one with a click; says why the list is empty", async () => {
    const socket = cooperativeSocket();
    const { user } = renderChat(socket);
    await user.type(screen.getByLabelText("Nickname"), "alice");
    const busy = await screen.findByRole("button", { name: /#busy\s*3 people/ });
    await user.click(busy);
    expect(socket.sentOf("join")).toContainEqual({ room: "busy", username: "alice" });
    expect(await screen.findByRole("heading", { name: "#busy" })).toBeInTheDocument();
    expect(window.localStorage.getItem("chat.nickname")).toBe("alice");
    expect(window.location.hash).toBe("#/room/busy");
  });

  it("says why there are no rooms to show", async () => {
    const socket = cooperativeSocket();
    socket.respond = (event) => (event === "list_rooms" ? { ok: true, rooms: [] } : undefined);
    renderChat(socket);
    expect(await screen.findByText(/No listed room has people in it right now/)).toBeInTheDocument();
    expect(screen.getByText("You are not in any room yet.")).toBeInTheDocument();
  });

  it("shows a refused nickname at its field, keeps what was typed, and focuses it", async () => {
    const socket = new FakeSocket();
    socket.respond = (event) =>
      event === "join"
        ? { ok: false, error: { code: "invalid_username", message: "That nickname is reserved." } }
        : undefined;
    const { user } = renderChat(socket);
    await user.type(screen.getByLabelText("Nickname"), "Аdmin");
    await user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("That nickname is reserved.");
    expect(screen.getByLabelText("Nickname")).toHaveFocus();
    expect(screen.getByLabelText("Nickname")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Room name")).toHaveValue("lobby");
    expect(screen.queryByRole("heading", { name: "#lobby" })).toBeNull();
    expect(screen.getAllByRole("alert")).toHaveLength(1);
  });

  it("counts down a rate-limited join and lets you try again after it", async () => {
    const socket = new FakeSocket();
    socket.respond = (event) =>
      event === "join"
        ? { ok: false, error: { code: "rate_limited", message: "You are sending too fast; wait a moment.", retry_after_ms: 1200 } }
        : undefined;
    const { user } = renderChat(socket);
    await user.type(screen.getByLabelText("Nickname"), "alice");
    await user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("You can try again in 2 s.");
    expect(screen.getByRole("button", { name: "Join" })).toBeDisabled();
    await waitFor(() => expect(screen.getByRole("button", { name: "Join" })).toBeEnabled(), { timeout: 3000 });
  });

  it("shows a room that is full at the room field", async () => {
    const socket = new FakeSocket();
    socket.respond = (event) =>
      event === "join"
        ? { ok: false, error: { code: "too_many_rooms", message: "You can be in at most 20 rooms at once." } }
        : undefined;
    const { user } = renderChat(socket);
    await user.type(screen.getByLabelText("Nickname"), "alice");
    await user.type(screen.getByLabelText("Room name"), "one-too-many{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("at most 20 rooms");
    expect(screen.getByLabelText("Room name")).toHaveFocus();
    expect(screen.getByLabelText("Room name")).toHaveValue("one-too-many");
  });
});

describe("room", () => {
  it("shows messages as text, links safely, and marks the user's own", async () => {
    const { socket } = await joinLobby();
    act(() => {
      socket.serverEmit("message", serverMessage(1, { message: "<img src=x onerror=alert(1)> see https://example.com" }));
      socket.serverEmit("message", serverMessage(2, { sid: "sid-1", username: "alice", message: "mine" }));
    });
    await settle();
    const log = screen.getByRole("log");
    expect(within(log).getByText(/<img src=x onerror=alert\(1\)>/)).toBeInTheDocument();
    expect(log.querySelector("img")).toBeNull();
    const link = within(log).getByRole("link", { name: "https://example.com" });
    expect(link).toHaveAttribute("rel", "noopener noreferrer");
    expect(link).toHaveAttribute("target", "_blank");
    expect(within(log).getByText("mine").closest(".row")).toHaveClass("row--mine");
  });

  it("focuses the composer after joining, sends with Enter, breaks lines with Shift+Enter", async () => {
    const { socket, user } = await joinLobby();
    const input = screen.getByLabelText("Message #lobby");
    expect(input).toHaveFocus();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
    await user.type(input, "   {Enter}");
    expect(socket.sentOf("message")).toEqual([]);
    await user.clear(input);
    await user.type(input, "line one{Shift>}{Enter}{/Shift}line two{Enter}");
    const [sent] = socket.sentOf("message") as { message: string; client_id: string }[];
    expect(sent?.message).toBe("line one\nline two");
    expect(sent?.client_id).toMatch(/.+/);
    expect(input).toHaveValue("");
  });

  it("counts characters near the limit, in good grammar", async () => {
    const { user } = await joinLobby();
    const input = screen.getByLabelText("Message #lobby");
    await user.type(input, "x".repeat(45));
    expect(screen.getByText("45 / 50")).toBeInTheDocument();
    await user.type(input, "x".repeat(6));
    expect(screen.getByText("1 character too long")).toBeInTheDocument();
    expect(overLimitText(5)).toBe("5 characters too long");
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });

  it("keeps each room's draft while you look at another", async () => {
    const { user } = await joinLobby();
    await user.type(screen.getByLabelText("Message #lobby"), "half a thought");
    await user.click(screen.getByRole("button", { name: "+ Join a room" }));
    await user.type(screen.getByLabelText("Room name"), "second{Enter}");
    await screen.findByRole("heading", { name: "#second" });
    await user.click(within(screen.getByRole("navigation", { name: "Your rooms" })).getByRole("button", { name: /#lobby/ }));
    expect(screen.getByLabelText("Message #lobby")).toHaveValue("half a thought");
  });

  it("shows a server refusal next to the message, in plain words", async () => {
    const { socket, user } = await joinLobby();
    socket.respond = (event) =>
      event === "message" ? { ok: false, error: { code: "empty_message", message: "The message is empty." } } : undefined;
    await user.type(screen.getByLabelText("Message #lobby"), "hello{Enter}");
    expect(await screen.findByText(/Not sent: The message is empty./)).toBeInTheDocument();
  });

  it("shows who is typing", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("typing", { room: "lobby", sid: "sid-bob", username: "bob", typing: true }));
    expect(screen.getByText("bob is typing…")).toBeInTheDocument();
    act(() => socket.serverEmit("typing", { room: "lobby", sid: "sid-bob", username: "bob", typing: false }));
    expect(screen.queryByText("bob is typing…")).toBeNull();
  });

  it("tells joins and leaves in quiet lines, but not a server restart", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("joined", { room: "lobby", sid: "sid-bob", username: "bob", count: 2 }));
    expect(await screen.findByText("bob joined")).toBeInTheDocument();
    expect(within(screen.getByRole("complementary", { name: "Members" })).getByText("bob")).toBeInTheDocument();
    act(() => socket.serverEmit("left", { room: "lobby", sid: "sid-bob", username: "bob", count: 1, reason: "shutdown" }));
    act(() => socket.serverEmit("joined", { room: "lobby", sid: "sid-bob2", username: "bob", count: 2 }));
    expect(screen.queryByText("bob left")).toBeNull();
    expect(screen.getAllByText("bob joined")).toHaveLength(1);
    act(() => socket.serverEmit("left", { room: "lobby", sid: "sid-bob2", username: "bob", count: 1, reason: "leave" }));
    expect(await screen.findByText("bob left")).toBeInTheDocument();
  });

  it("fills a gap in seq with a history request", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1)));
    await settle();
    act(() => socket.serverEmit("message", serverMessage(4)));
    await settle();
    expect(socket.sentOf("history")).toEqual([{ room: "lobby", epoch: "e1", since: 1 }]);
  });

  it("shows a `messages` batch in order and fills a gap before it or inside it", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("messages", [serverMessage(1), serverMessage(2), serverMessage(3)]));
    await settle();
    expect(texts()).toEqual(["message 1", "message 2", "message 3"]);
    expect(socket.sentOf("history")).toEqual([]);
    act(() => socket.serverEmit("messages", [serverMessage(3), serverMessage(4), serverMessage(6)]));
    await settle();
    expect(texts()).toHaveLength(5);
    expect(socket.sentOf("history")).toEqual([{ room: "lobby", epoch: "e1", since: 3 }]);
  });

  it("renders only what is on screen of a long room, newest first in view", async () => {
    const messages = Array.from({ length: 5000 }, (_, i) => serverMessage(i + 1));
    const socket = cooperativeSocket();
    const original = socket.respond;
    socket.respond = (event, payload) => {
      if (event !== "join") return original(event, payload);
      queueMicrotask(() => socket.serverEmit("room_state", roomState("lobby", { messages, last_seq: 5000 })));
      return { ok: true, ...roomState("lobby") };
    };
    await joinLobby("alice", socket);
    await screen.findByText("message 5000");
    const rows = screen.getByRole("log").querySelectorAll(".row--message");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(100);
  });
});

describe("several rooms", () => {
  it("counts unread messages of rooms in the background", async () => {
    const { socket, user } = await joinLobby();
    await user.click(screen.getByRole("button", { name: "+ Join a room" }));
    await user.type(screen.getByLabelText("Room name"), "second{Enter}");
    await screen.findByRole("heading", { name: "#second" });
    act(() => socket.serverEmit("message", serverMessage(1)));
    const rooms = screen.getByRole("navigation", { name: "Your rooms" });
    expect(within(rooms).getByLabelText("1 unread")).toBeInTheDocument();
    await user.click(within(rooms).getByRole("button", { name: /#lobby/ }));
    expect(within(rooms).queryByLabelText("1 unread")).toBeNull();
    expect(await screen.findByText("message 1")).toBeInTheDocument();
  });

  it("joins the rooms you were in again after a reload", async () => {
    window.localStorage.setItem(
      "chat.rooms",
      JSON.stringify([
        { name: "one", username: "alice" },
        { name: "two", username: "alice" },
      ]),
    );
    const socket = cooperativeSocket();
    renderChat(socket);
    await waitFor(() => expect(socket.sentOf("join")).toHaveLength(2));
    const rooms = screen.getByRole("navigation", { name: "Your rooms" });
    expect(await within(rooms).findByRole("button", { name: /#two/ })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Welcome to Murmur" })).toBeInTheDocument();
  });

  it("after leaving a room the next one is shown, and the lobby after the last", async () => {
    const { user } = await joinLobby();
    await user.click(screen.getByRole("button", { name: "+ Join a room" }));
    await user.type(screen.getByLabelText("Room name"), "second{Enter}");
    await screen.findByRole("heading", { name: "#second" });
    await user.click(screen.getAllByRole("button", { name: /Leave/ })[0]!);
    expect(await screen.findByRole("heading", { name: "#lobby" })).toBeInTheDocument();
    expect(screen.getByLabelText("Message #lobby")).toHaveFocus();
    await user.click(screen.getAllByRole("button", { name: /Leave/ })[0]!);
    expect(await screen.findByLabelText("Room name")).toHaveFocus();
    expect(JSON.parse(window.localStorage.getItem("chat.rooms") ?? "[]")).toEqual([]);
  });
});

describe("connection", () => {
  it("queues messages while offline and delivers them once after re-joining with epoch and since", async () => {
    const { socket, user } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1)));
    act(() => socket.drop());
    expect(screen.getAllByRole("status")[0]).toHaveTextContent("Reconnecting…");
    await user.type(screen.getByLabelText("Message #lobby"), "while away{Enter}");
    expect(await screen.findByText("Sending…")).toBeInTheDocument();
    expect(socket.sentOf("message")).toEqual([]);

    socket.sent = [];
    act(() => socket.accept("sid-2"));
    expect(socket.sentOf("join")).toEqual([{ room: "lobby", username: "alice", epoch: "e1", since: 1 }]);
    await screen.findByText("while away");
    await act(async () => {});
    expect(socket.sentOf("message")).toHaveLength(1);
    expect(screen.queryByText("Sending…")).toBeNull();
  });
});

describe("attention", () => {
  function setHidden(hidden: boolean) {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
    act(() => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
  }

  it("shows the unread total in the title while the tab is hidden", async () => {
    const { socket } = await joinLobby();
    setHidden(true);
    act(() => {
      socket.serverEmit("message", serverMessage(1));
      socket.serverEmit("message", serverMessage(2));
    });
    await settle();
    expect(document.title).toBe("(2) #lobby · Murmur");
    setHidden(false);
    expect(document.title).toBe("#lobby · Murmur");
    expect(await screen.findByTestId("unread-divider")).toBeInTheDocument();
  });

  it("announces each message of others once, in one live region", async () => {
    const { socket, container } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1, { message: "hello there" })));
    const live = container.querySelectorAll('[aria-live="polite"]');
    expect(live).toHaveLength(1);
    expect(live[0]).toHaveTextContent("bob in lobby: hello there");
    expect(screen.getByRole("log")).toHaveAttribute("aria-live", "off");
  });
});

describe("rate limits", () => {
  it("holds what you send, in order, and sends it when the limit ends", async () => {
    const { socket, user } = await joinLobby();
    let refusals = 0;
    const accepted: string[] = [];
    socket.respond = (event, payload) => {
      if (event !== "message") return undefined;
      if (refusals === 0) {
        refusals += 1;
        return { ok: false, error: { code: "rate_limited", message: "You are sending too fast; wait a moment.", retry_after_ms: 1200 } };
      }
      accepted.push((payload as Payload).message ?? "");
      return { ok: true, id: `id-${accepted.length}`, seq: accepted.length, timestamp: Date.now() };
    };
    const input = screen.getByLabelText("Message #lobby");
    await user.type(input, "first{Enter}");
    expect(await screen.findByText(/Your messages go out in 2 s/)).toBeInTheDocument();
    await user.type(input, "second{Enter}third{Enter}");
    expect(input).toHaveValue("");
    await waitFor(() => expect(screen.getAllByText("Waiting: you're sending too fast")).toHaveLength(3));
    await waitFor(() => expect(accepted).toEqual(["first", "second", "third"]), { timeout: 4000 });
    expect(refusals).toBe(1);
  });
});

describe("catching up", () => {
  it("asks for history when room_seq shows it is behind", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1)));
    act(() => socket.serverEmit("room_seq", { room: "lobby", epoch: "e1", last_seq: 3 }));
    expect(socket.sentOf("history")).toEqual([{ room: "lobby", epoch: "e1", since: 1 }]);
    act(() => socket.serverEmit("room_seq", { room: "lobby", epoch: "e1", last_seq: 1 }));
    expect(socket.sentOf("history")).toHaveLength(1);
  });
});

describe("members on a phone", () => {
  it("closes the drawer with Escape and gives focus back", async () => {
    const { user } = await joinLobby();
    const toggle = screen.getByRole("button", { name: /1 person/ });
    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    await user.keyboard("{Escape}");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(toggle).toHaveFocus();
  });
});
