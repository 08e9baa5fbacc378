import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { WINDOW_SIZE } from "./components/MessageList";
import { FakeSocket } from "./testing/fakeSocket";
import { renderChat, roomState, serverMessage } from "./testing/renderChat";

/** A socket whose server accepts every join and acks messages in order. */
function cooperativeSocket(): FakeSocket {
  const socket = new FakeSocket();
  let seq = 0;
  socket.respond = (event, payload) => {
    const data = payload as { room: string; client_id?: string; message?: string };
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

async function joinLobby(nickname = "alice") {
  const chat = renderChat(cooperativeSocket());
  await chat.user.type(screen.getByLabelText("Nickname"), nickname);
  await chat.user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
  await screen.findByRole("heading", { name: "#lobby" });
  return chat;
}

describe("lobby", () => {
  it("remembers the nickname and explains invalid room names as you type", async () => {
    window.localStorage.setItem("chat.nickname", "zoe");
    const { user } = renderChat(cooperativeSocket());
    expect(screen.getByLabelText("Nickname")).toHaveValue("zoe");
    await user.type(screen.getByLabelText("Room name"), "my room");
    expect(screen.getByRole("alert")).toHaveTextContent("no spaces");
  });

  it("lists active rooms with counts and joins one with a click", async () => {
    const { user, socket } = renderChat(cooperativeSocket());
    await user.type(screen.getByLabelText("Nickname"), "alice");
    const busy = await screen.findByRole("button", { name: /#busy\s*3 people/ });
    await user.click(busy);
    expect(socket.sentOf("join")).toContainEqual({ room: "busy", username: "alice" });
    expect(await screen.findByRole("heading", { name: "#busy" })).toBeInTheDocument();
    expect(window.localStorage.getItem("chat.nickname")).toBe("alice");
    expect(window.location.hash).toBe("#/room/busy");
  });
});

describe("room", () => {
  it("shows messages as text, links safely, and marks the user's own", async () => {
    const { socket } = await joinLobby();
    act(() => {
      socket.serverEmit("message", serverMessage(1, { message: "<img src=x onerror=alert(1)> see https://example.com" }));
      socket.serverEmit("message", serverMessage(2, { sid: "sid-1", username: "alice", message: "mine" }));
    });
    const log = screen.getByRole("log");
    expect(within(log).getByText(/<img src=x onerror=alert\(1\)>/)).toBeInTheDocument();
    expect(log.querySelector("img")).toBeNull();
    const link = within(log).getByRole("link", { name: "https://example.com" });
    expect(link).toHaveAttribute("rel", "noopener noreferrer");
    expect(link).toHaveAttribute("target", "_blank");
    expect(within(log).getByText("mine").closest("li")).toHaveClass("message--mine");
  });

  it("sends with Enter, breaks lines with Shift+Enter, and refuses empty messages", async () => {
    const { socket, user } = await joinLobby();
    const input = screen.getByLabelText("Message #lobby");
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

  it("shows a counter near the limit and blocks text over it", async () => {
    const { user } = await joinLobby();
    const input = screen.getByLabelText("Message #lobby");
    await user.type(input, "x".repeat(45));
    expect(screen.getByText("45 / 50")).toBeInTheDocument();
    await user.type(input, "x".repeat(10));
    expect(screen.getByText("5 characters too long")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });

  it("shows a server refusal next to the composer in plain words", async () => {
    const { socket, user } = await joinLobby();
    socket.respond = (event) =>
      event === "message" ? { ok: false, error: { code: "not_in_room", message: "You are not in that room; join it first." } } : undefined;
    await user.type(screen.getByLabelText("Message #lobby"), "hello{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("You are not in that room");
    expect(screen.getByText(/Not sent/)).toBeInTheDocument();
  });

  it("shows who is typing", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("typing", { room: "lobby", sid: "sid-bob", username: "bob", typing: true }));
    expect(screen.getByText("bob is typing…")).toBeInTheDocument();
    act(() => socket.serverEmit("typing", { room: "lobby", sid: "sid-bob", username: "bob", typing: false }));
    expect(screen.queryByText("bob is typing…")).toBeNull();
  });

  it("announces join and leave as quiet lines and keeps the members list current", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("joined", { room: "lobby", sid: "sid-bob", username: "bob", count: 2 }));
    expect(screen.getByText("bob joined")).toBeInTheDocument();
    expect(within(screen.getByRole("complementary", { name: "Members" })).getByText("bob")).toBeInTheDocument();
    act(() => socket.serverEmit("left", { room: "lobby", sid: "sid-bob", username: "bob", count: 1 }));
    expect(screen.getByText("bob left")).toBeInTheDocument();
  });

  it("fills a gap in seq with a history request", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1)));
    act(() => socket.serverEmit("message", serverMessage(4)));
    expect(socket.sentOf("history")).toEqual([{ room: "lobby", epoch: "e1", since: 1 }]);
  });

  it("shows a `messages` batch in order and fills a gap before it or inside it", async () => {
    const { socket } = await joinLobby();
    act(() => socket.serverEmit("messages", [serverMessage(1), serverMessage(2), serverMessage(3)]));
    const log = screen.getByRole("log");
    expect(within(log).getAllByText(/^message \d$/).map((node) => node.textContent)).toEqual([
      "message 1",
      "message 2",
      "message 3",
    ]);
    expect(socket.sentOf("history")).toEqual([]);
    // A repeat of what is held is ignored; a batch skipping seq 5 asks for it.
    act(() => socket.serverEmit("messages", [serverMessage(3), serverMessage(4), serverMessage(6)]));
    expect(within(log).getAllByText(/^message \d$/)).toHaveLength(5);
    expect(socket.sentOf("history")).toEqual([{ room: "lobby", epoch: "e1", since: 3 }]);
  });

  it("renders a bounded window of a very long room", async () => {
    const messages = Array.from({ length: 5000 }, (_, i) => serverMessage(i + 1));
    const socket = cooperativeSocket();
    const original = socket.respond;
    socket.respond = (event, payload) => {
      if (event !== "join") return original(event, payload);
      queueMicrotask(() => socket.serverEmit("room_state", roomState("lobby", { messages, last_seq: 5000 })));
      return { ok: true, ...roomState("lobby") };
    };
    const chat = renderChat(socket);
    await chat.user.type(screen.getByLabelText("Nickname"), "alice");
    await chat.user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
    await screen.findByText("message 5000");
    expect(screen.getByRole("log").querySelectorAll("li").length).toBe(WINDOW_SIZE);
    await chat.user.click(screen.getByRole("button", { name: "Show earlier messages" }));
    expect(screen.getByRole("log").querySelectorAll("li").length).toBe(2 * WINDOW_SIZE);
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
    expect(screen.getByText("message 1")).toBeInTheDocument();
  });
});

describe("connection", () => {
  it("queues messages while offline and delivers them once after re-joining with epoch and since", async () => {
    const { socket, user } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1)));
    act(() => socket.drop());
    expect(screen.getAllByRole("status")[0]).toHaveTextContent("Reconnecting…");
    await user.type(screen.getByLabelText("Message #lobby"), "while away{Enter}");
    expect(screen.getByText("Sending…")).toBeInTheDocument();
    expect(socket.sentOf("message")).toEqual([]);

    socket.sent = [];
    act(() => socket.accept("sid-2"));
    expect(socket.sentOf("join")).toEqual([{ room: "lobby", username: "alice", epoch: "e1", since: 1 }]);
    await screen.findByText("while away");
    await act(async () => {});
    const sent = socket.sentOf("message") as { client_id: string }[];
    expect(sent).toHaveLength(1);
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
    expect(document.title).toBe("(2) #lobby · Chat");
    setHidden(false);
    expect(document.title).toBe("#lobby · Chat");
  });

  it("announces other people's messages to screen readers", async () => {
    const { socket, container } = await joinLobby();
    act(() => socket.serverEmit("message", serverMessage(1, { message: "hello there" })));
    const live = container.querySelector('[aria-live="polite"][aria-atomic="true"]');
    expect(live).toHaveTextContent("bob in lobby: hello there");
  });
});

describe("rate limits", () => {
  it("keeps refused text in the composer, counts down, and sends nothing meanwhile", async () => {
    const { socket, user } = await joinLobby();
    let refusals = 0;
    socket.respond = (event) => {
      if (event !== "message") return undefined;
      refusals += 1;
      return {
        ok: false,
        error: { code: "rate_limited", message: "You are sending too fast; wait a moment.", retry_after_ms: 1500 },
      };
    };
    const input = screen.getByLabelText("Message #lobby");
    await user.type(input, "too quick{Enter}");
    expect(await screen.findByText(/You can send again in 2 s/)).toBeInTheDocument();
    expect(input).toHaveValue("too quick");
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
    await user.type(input, "{Enter}");
    expect(refusals).toBe(1);
    expect(screen.queryByText("Sending…")).toBeNull();
    await waitFor(() => expect(screen.queryByText(/You can send again/)).toBeNull(), { timeout: 3000 });
    expect(screen.getByRole("button", { name: "Send" })).toBeEnabled();
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
