import { act, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";

import { EXPORT_PREFIX, randomIdentity, saveIdentity } from "./chat/identity";
import { nickCommand } from "./components/Composer";
import { FakeSocket } from "./testing/fakeSocket";
import { renderChat, roomState } from "./testing/renderChat";

// The key `secret` makes (see chat/identity.test.ts).
const SECRET_KEY = "P8T8ymCVny1pyl3c0rLCRNUBWjw033_kgJX0k-EQNI4";

type Payload = { room: string; username?: string };

/** A server that lets everyone in under the name they ask for, and renames. */
function friendlySocket(): FakeSocket {
  const socket = new FakeSocket();
  socket.respond = (event, payload) => {
    const data = payload as Payload;
    if (event === "join") {
      const state = roomState(data.room, {
        username: data.username ?? "alice",
        trip: "mytrip0001",
        members: [{ sid: "sid-1", username: data.username ?? "alice", trip: "mytrip0001" }],
      });
      queueMicrotask(() => socket.serverEmit("room_state", state));
      return { ok: true, ...state };
    }
    if (event === "leave") return { ok: true, room: data.room };
    return undefined;
  };
  return socket;
}

function storedIdentity(): { key: string; origin: string } {
  return JSON.parse(window.localStorage.getItem("chat.identity") ?? "null") as { key: string; origin: string };
}

async function inLobbyRoom(socket = friendlySocket()) {
  const chat = renderChat(socket, { accept: false });
  act(() => socket.accept("sid-1", "mytrip0001"));
  await chat.user.type(screen.getByLabelText("Nickname"), "alice");
  await chat.user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
  await screen.findByRole("heading", { name: "#lobby" });
  return chat;
}

beforeEach(() => {
  window.localStorage.clear();
  window.sessionStorage.clear();
  saveIdentity(randomIdentity()); // each test is a new visitor
});

describe("taken names", () => {
  it("shows a taken nickname at its field with a free suggestion to use", async () => {
    const socket = new FakeSocket();
    socket.respond = (event, payload) => {
      if (event !== "join") return undefined;
      if ((payload as Payload).username === "alice") {
        return {
          ok: false,
          error: { code: "nickname_taken", message: "Someone here is already called alice. Try alice2?", suggestion: "alice2" },
        };
      }
      return { ok: true, ...roomState("lobby", { username: "alice2" }) };
    };
    const { user } = renderChat(socket);
    await user.type(screen.getByLabelText("Nickname"), "alice");
    await user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("already called alice");
    expect(screen.getByLabelText("Nickname")).toHaveFocus();
    await user.click(within(alert).getByRole("button", { name: "Use alice2" }));
    expect(screen.getByLabelText("Nickname")).toHaveValue("alice2");
    expect(screen.getByLabelText("Nickname")).toHaveFocus();
    await user.click(screen.getByRole("button", { name: "Join" }));
    expect(socket.sentOf("join")).toContainEqual({ room: "lobby", username: "alice2" });
  });
});

describe("name#password", () => {
  it("makes the identity from the password here and never sends or saves the password", async () => {
    const socket = friendlySocket();
    const { user } = renderChat(socket);
    const firstKey = storedIdentity().key;
    await user.type(screen.getByLabelText("Nickname"), "alice#secret");
    expect(screen.getByText(/You'll join as alice, with the identity your password makes/)).toBeInTheDocument();
    await user.type(screen.getByLabelText("Room name"), "lobby{Enter}");
    // The socket reconnects with the new key: the server accepts it again.
    await waitFor(() => expect(storedIdentity()).toEqual({ key: SECRET_KEY, origin: "password" }), { timeout: 10_000 });
    expect(firstKey).not.toBe(SECRET_KEY);
    act(() => socket.accept("sid-2", "pwtrip0001"));
    await screen.findByRole("heading", { name: "#lobby" });
    expect(socket.sentOf("join")).toEqual([{ room: "lobby", username: "alice" }]);
    expect(JSON.stringify(socket.sent)).not.toContain("secret");
    expect(window.localStorage.getItem("chat.nickname")).toBe("alice");
    expect(JSON.stringify({ ...window.localStorage })).not.toContain("#secret");
  }, 15_000);
});

describe("/nick", () => {
  it("recognises the command", () => {
    expect(nickCommand("/nick alicia")).toBe("alicia");
    expect(nickCommand("  /NICK   al ice ")).toBe("al ice");
    expect(nickCommand("/nick")).toBe("");
    expect(nickCommand("/nickname x")).toBeNull();
    expect(nickCommand("hello /nick x")).toBeNull();
  });

  it("renames you in place, and is never sent as a message", async () => {
    const socket = friendlySocket();
    const respond = socket.respond;
    socket.respond = (event, payload) => {
      if (event !== "rename") return respond(event, payload);
      const wanted = (payload as Payload).username ?? "";
      if (wanted === "bob") {
        return {
          ok: false,
          error: { code: "nickname_taken", message: "Someone here is already called bob. Try bob2?", suggestion: "bob2" },
        };
      }
      const renamed = { room: "lobby", sid: "sid-1", trip: "mytrip0001", old: "alice", new: wanted };
      queueMicrotask(() => socket.serverEmit("renamed", renamed));
      return { ok: true, ...renamed };
    };
    const { user } = await inLobbyRoom(socket);
    const composer = screen.getByRole("textbox", { name: "Message #lobby" });
    await user.type(composer, "/nick bob{Enter}");
    const refusal = await screen.findByRole("alert");
    expect(refusal).toHaveTextContent("already called bob");
    await user.click(within(refusal).getByRole("button", { name: "Use bob2" }));
    expect(await screen.findByText("You are now bob2")).toBeInTheDocument();
    expect(composer).toHaveValue("");
    await user.type(composer, "/nick al#pw{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("A #password changes who you are");
    expect(socket.sentOf("rename")).toEqual([
      { room: "lobby", username: "bob" },
      { room: "lobby", username: "bob2" },
    ]);
    expect(socket.sentOf("message")).toEqual([]);
  });

  it("renames from the members panel too", async () => {
    const socket = friendlySocket();
    const respond = socket.respond;
    socket.respond = (event, payload) => {
      if (event !== "rename") return respond(event, payload);
      const renamed = { room: "lobby", sid: "sid-1", trip: "mytrip0001", old: "alice", new: "alicia" };
      queueMicrotask(() => socket.serverEmit("renamed", renamed));
      return { ok: true, ...renamed };
    };
    const { user } = await inLobbyRoom(socket);
    const members = screen.getByRole("complementary", { name: "Members" });
    await user.click(within(members).getByRole("button", { name: "Rename" }));
    const field = within(members).getByLabelText("Your name in #lobby");
    await user.clear(field);
    await user.type(field, "alicia{Enter}");
    expect(await screen.findByText("You are now alicia")).toBeInTheDocument();
    expect(within(members).getByRole("button", { name: /^alicia !mytrip0001$/ })).toBeInTheDocument();
  });
});

describe("what everyone sees", () => {
  it("lists a person with two tabs once, shows trips on a tap, and marks the unverified", async () => {
    const { socket, user } = await inLobbyRoom();
    act(() => {
      socket.serverEmit("joined", { room: "lobby", sid: "bob-1", username: "bob", trip: "bobtrip001", count: 2 });
      socket.serverEmit("joined", { room: "lobby", sid: "bob-2", username: "bob", trip: "bobtrip001", count: 2 });
      socket.serverEmit("joined", { room: "lobby", sid: "bot", username: "bot", trip: null, count: 3 });
    });
    const members = screen.getByRole("complementary", { name: "Members" });
    expect(within(members).getByRole("heading")).toHaveTextContent("People here (3)");
    const bob = within(members).getByRole("button", { name: "bob !bobtrip001" });
    expect(screen.queryByText("!bobtrip001")).toBeNull();
    await user.click(bob);
    expect(within(members).getByText("!bobtrip001")).toBeInTheDocument();
    expect(within(members).getByText("unverified")).toBeInTheDocument();
    expect(screen.getAllByText("bob joined")).toHaveLength(1);
  });

  it("marks a name that comes back under another identity, even after a reload", async () => {
    const first = await inLobbyRoom();
    act(() => first.socket.serverEmit("joined", { room: "lobby", sid: "b1", username: "bob", trip: "bobtrip001", count: 2 }));
    expect(screen.queryByText("new identity")).toBeNull();
    first.unmount();
    // Later, in a new page: "Bob" is someone else now.
    const socket = friendlySocket();
    const again = renderChat(socket, { accept: false });
    act(() => socket.accept("sid-9", "mytrip0001"));
    await screen.findByRole("heading", { name: "#lobby" });
    act(() => socket.serverEmit("joined", { room: "lobby", sid: "b2", username: "Bob", trip: "impostor01", count: 2 }));
    const members = screen.getByRole("complementary", { name: "Members" });
    expect(await within(members).findByText("new identity")).toBeInTheDocument();
    again.unmount();
  });
});

describe("your identity", () => {
  it("shows the key, exports it, imports another and makes a new one", async () => {
    const socket = friendlySocket();
    const { user } = renderChat(socket, { accept: false });
    act(() => socket.accept("sid-1", "mytrip0001"));
    const original = storedIdentity();
    await user.click(screen.getByText("Your identity"));
    expect(screen.getByText(/made in this browser/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Show key" }));
    expect(screen.getByLabelText("Your identity key")).toHaveTextContent(original.key);
    await user.click(screen.getByRole("button", { name: "Export" }));
    expect(screen.getByLabelText(/Paste this into “Import”/)).toHaveValue(`${EXPORT_PREFIX}${original.key}`);

    await user.click(screen.getByRole("button", { name: "Import" }));
    const paste = screen.getByLabelText("Paste an exported identity:");
    await user.type(paste, "not a key");
    await user.click(screen.getByRole("button", { name: "Use this identity" }));
    expect(screen.getByRole("alert")).toHaveTextContent("That is not an identity key");
    await user.clear(paste);
    await user.type(paste, `${EXPORT_PREFIX}${SECRET_KEY}`);
    await user.click(screen.getByRole("button", { name: "Use this identity" }));
    await waitFor(() => expect(storedIdentity()).toEqual({ key: SECRET_KEY, origin: "imported" }));
    expect(socket.connected).toBe(false); // reconnecting with the new key
    act(() => socket.accept("sid-2", "othertrip1"));
    expect(await screen.findByText(/imported from another browser/)).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "New identity" }));
    await user.click(screen.getByRole("button", { name: "Make a new identity" }));
    await waitFor(() => expect(storedIdentity().key).not.toBe(SECRET_KEY));
    expect(storedIdentity().origin).toBe("device");
  });

  it("leaves your rooms before switching, and joins them again as the new person", async () => {
    const { socket, user } = await inLobbyRoom();
    await user.click(screen.getByRole("button", { name: "+ Join a room" }));
    await user.click(screen.getByText("Your identity"));
    await user.click(screen.getByRole("button", { name: "New identity" }));
    await user.click(screen.getByRole("button", { name: "Make a new identity" }));
    await waitFor(() => expect(socket.sentOf("leave")).toEqual([{ room: "lobby" }]));
    await waitFor(() => expect(socket.connected).toBe(false));
    act(() => socket.accept("sid-2", "newtrip001"));
    await waitFor(() => expect(socket.sentOf("join")).toHaveLength(2));
    expect(socket.sentOf("join")[1]).toMatchObject({ room: "lobby", username: "alice" });
  });
});
