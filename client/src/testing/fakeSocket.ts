/**
 * A stand-in for the socket.io client with the parts ChatProvider uses: tests play
 * the server by calling `serverEmit`, and answer client emits through `onEmit`.
 */
import type { ChatSocket } from "../chat/socket";

type Listener = (...args: unknown[]) => void;
export type Responder = (event: string, payload: unknown) => unknown;

export interface SentEvent {
  event: string;
  payload: unknown;
}

export class FakeSocket {
  connected = false;
  sent: SentEvent[] = [];
  /** Answers acks: return the reply, or undefined to leave the ack unanswered. */
  respond: Responder = () => undefined;
  private listeners = new Map<string, Set<Listener>>();

  on(event: string, listener: Listener): this {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)?.add(listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  connect(): this {
    return this;
  }

  disconnect(): this {
    if (this.connected) this.drop();
    return this;
  }

  timeout(): { emit: (event: string, payload: unknown, ack?: Listener) => void } {
    return {
      emit: (event, payload, ack) => this.record(event, payload, (reply) => ack?.(null, reply)),
    };
  }

  emit(event: string, payload: unknown, ack?: Listener): this {
    this.record(event, payload, (reply) => ack?.(reply));
    return this;
  }

  /** The server side of a connection: `connect`, then `connected` with limits. */
  accept(sid = "sid-1", trip: string | null = null): void {
    this.connected = true;
    this.serverEmit("connect");
    this.serverEmit("connected", {
      sid,
      trip,
      server_time: Date.now(),
      limits: {
        max_message_length: 50,
        max_username_length: 32,
        max_room_length: 64,
        history_size: 100,
        edit_window_seconds: 600,
      },
    });
  }

  drop(): void {
    this.connected = false;
    this.serverEmit("disconnect", "transport close");
  }

  serverEmit(event: string, ...args: unknown[]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) listener(...args);
  }

  sentOf(event: string): unknown[] {
    return this.sent.filter((s) => s.event === event).map((s) => s.payload);
  }

  asSocket(): ChatSocket {
    return this as unknown as ChatSocket;
  }

  private record(event: string, payload: unknown, answer: (reply: unknown) => void): void {
    this.sent.push({ event, payload });
    const reply = this.respond(event, payload);
    if (reply !== undefined) queueMicrotask(() => answer(reply));
  }
}
