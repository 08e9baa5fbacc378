// The reference peer: stock socket.io 4.8 on Node.js serving the same chat events
// (connect/connected, join/joined/room_state, message) with the same payloads, so
// bench/ can compare our server with it side by side. Deliberately plain: the
// socket.io way, no tuning. With REDIS_URL set it broadcasts through the stock
// @socket.io/redis-adapter (its documented setup), the peer of our Redis mode.
import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 5100);
const host = process.env.HOST ?? "127.0.0.1";
const ROOM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const HISTORY_SIZE = 100;

const http = createServer((request, response) => {
  if (request.url === "/healthz") {
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end('{"status":"ok"}');
    return;
  }
  response.writeHead(404);
  response.end();
});

const io = new Server(http, { maxHttpBufferSize: 16096, cors: { origin: true } });
if (process.env.REDIS_URL) {
  const pubClient = createClient({ url: process.env.REDIS_URL });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}
const rooms = new Map(); // rooms.get(name) = { seq, members: Map(sid -> username), history: [] }
let nextId = 0;

function refuse(socket, ack, event, code, message) {
  socket.emit("error", { code, message, event });
  if (typeof ack === "function") ack({ ok: false, error: { code, message } });
}

io.on("connection", (socket) => {
  socket.emit("connected", {
    sid: socket.id,
    server_time: Date.now(),
    limits: { max_message_length: 2000, max_username_length: 32, max_room_length: 64, history_size: HISTORY_SIZE },
  });
  const names = new Map(); // names.get(room) = username in that room

  socket.on("join", (payload, ack) => {
    const room = typeof payload?.room === "string" ? payload.room.toLowerCase() : "";
    if (!ROOM_PATTERN.test(room)) return refuse(socket, ack, "join", "invalid_room", "Bad room name.");
    const username = typeof payload.username === "string" ? payload.username.trim().slice(0, 32) : `anon-${socket.id.slice(0, 4)}`;
    let state = rooms.get(room);
    if (!state) {
      state = { seq: 0, members: new Map(), history: [] };
      rooms.set(room, state);
    }
    if (!state.members.has(socket.id)) {
      state.members.set(socket.id, username);
      names.set(room, username);
      socket.join(`room:${room}`);
      io.to(`room:${room}`).emit("joined", { room, sid: socket.id, username, count: state.members.size });
    }
    const members = [...state.members].map(([sid, name]) => ({ sid, username: name }));
    const roomState = { room, members, messages: state.history, epoch: "node", last_seq: state.seq };
    socket.emit("room_state", roomState);
    if (typeof ack === "function") ack({ ok: true, ...roomState });
  });

  socket.on("message", (payload, ack) => {
    const room = typeof payload?.room === "string" ? payload.room.toLowerCase() : "";
    const state = rooms.get(room);
    const username = names.get(room);
    if (!state || username === undefined) return refuse(socket, ack, "message", "not_in_room", "Join first.");
    const text = typeof payload.message === "string" ? payload.message.trim() : "";
    if (!text) return refuse(socket, ack, "message", "empty_message", "Empty.");
    state.seq += 1;
    const message = {
      room,
      id: `n-${(nextId += 1).toString(16)}`,
      seq: state.seq,
      sid: socket.id,
      username,
      message: text,
      timestamp: Date.now(),
    };
    if (typeof payload.timestamp === "number") message.client_timestamp = payload.timestamp;
    state.history.push(message);
    if (state.history.length > HISTORY_SIZE) state.history.shift();
    io.to(`room:${room}`).emit("message", message);
    if (typeof ack === "function") ack({ ok: true, id: message.id, seq: message.seq, timestamp: message.timestamp });
  });

  socket.on("disconnect", () => {
    for (const [room, username] of names) {
      const state = rooms.get(room);
      if (!state) continue;
      state.members.delete(socket.id);
      io.to(`room:${room}`).emit("left", { room, sid: socket.id, username, count: state.members.size });
    }
  });
});

http.listen(port, host, () => {
  console.log(`node socket.io peer listening on http://${host}:${port}`);
});
