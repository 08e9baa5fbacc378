import { io, type Socket } from "socket.io-client";

import { loadIdentity } from "./identity";
import { FEATURES, type ClientToServerEvents, type ConnectAuth, type ServerToClientEvents } from "./protocol";
import { sessionId } from "./storage";

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The connect auth: batches, this tab's session, and the identity key saved now. */
export function connectAuth(): ConnectAuth {
  return { features: [...FEATURES], session: sessionId(), identity: loadIdentity().key };
}

/**
 * The single socket of the app. It connects to the page's own origin (the dev server
 * proxies /socket.io to the chat server), and only when the provider says so. Each
 * (re)connection announces `messages` batches, this tab's session (so that a message
 * retried after a reconnect is recognised as the same one) and the identity key as
 * saved at that moment, so a new identity takes effect with the next connection.
 */
export function createChatSocket(url: string = window.location.origin): ChatSocket {
  return io(url, {
    autoConnect: false,
    auth: (send) => send(connectAuth()),
    transports: ["websocket", "polling"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
}
