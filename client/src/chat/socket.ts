import { io, type Socket } from "socket.io-client";

import { CONNECT_AUTH, type ClientToServerEvents, type ServerToClientEvents } from "./protocol";

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The single socket of the app. It connects to the page's own origin (the dev server
 * proxies /socket.io to the chat server), and only when the provider says so. It
 * announces that it takes room messages in `messages` batches.
 */
export function createChatSocket(url: string = window.location.origin): ChatSocket {
  return io(url, {
    autoConnect: false,
    auth: { features: [...CONNECT_AUTH.features] },
    transports: ["websocket", "polling"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
}
