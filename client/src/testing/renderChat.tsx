import { act, render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { VirtuosoMockContext } from "react-virtuoso";

import { App } from "../App";
import { ChatProvider } from "../chat/ChatProvider";
import type { RoomState, ServerMessage } from "../chat/protocol";
import { FakeSocket } from "./fakeSocket";

/** jsdom has no layout: the virtualized list is told a viewport and row height. */
export const MOCK_VIEWPORT = { viewportHeight: 600, itemHeight: 40 };

/** The whole app on a fake socket that already accepted the connection. */
export function renderChat(socket = new FakeSocket(), options: { accept?: boolean } = {}) {
  const user = userEvent.setup();
  const view = render(
    <VirtuosoMockContext.Provider value={MOCK_VIEWPORT}>
      <ChatProvider socket={socket.asSocket()}>
        <App />
      </ChatProvider>
    </VirtuosoMockContext.Provider>,
  );
  if (options.accept ?? true) act(() => socket.accept());
  return { socket, user, ...view };
}

export function roomState(room: string, overrides: Partial<RoomState> = {}): RoomState {
  return {
    room,
    username: "alice",
    trip: null,
    members: [{ sid: "sid-1", username: "alice", trip: null }],
    messages: [],
    epoch: "e1",
    last_seq: 0,
    ...overrides,
  };
}

export function serverMessage(seq: number, overrides: Partial<ServerMessage> = {}): ServerMessage {
  return {
    room: "lobby",
    id: `id-${seq}`,
    seq,
    sid: "sid-bob",
    username: "bob",
    trip: null,
    message: `message ${seq}`,
    timestamp: Date.UTC(2026, 10, 24, 12, 0, seq),
    ...overrides,
  };
}
