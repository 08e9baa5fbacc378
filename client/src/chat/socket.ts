import { io, type Socket } from "socket.io-client";

import { FEATURES, type ClientToServerEvents, type ServerToClientEvents } from "./protocol";
import { sessionId } from "./storage";

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The single socket of the app. It connects to the page's own origin (the dev server
 * proxies /socket.io to the chat server), and only when the provider says so. It
 * announces `messages` batches and this tab's session, so that a message retried
 * after a reconnect is recognised as the same one.
 */
export function createChatSocket(url: string = window.location.origin): ChatSocket {
  return io(url, {
    autoConnect: false,
    auth: { features: [...FEATURES], session: sessionId() },
    transports: ["websocket", "polling"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
}
