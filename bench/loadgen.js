// Load generator: N raw Engine.IO/Socket.IO websocket clients spread over several
// worker processes (so the generator is not the bottleneck), speaking the chat
// protocol. Every message carries its send time and (sender, counter), so each
// receipt gives an end-to-end latency, and the totals give delivery accounting:
// expected vs received, duplicates, and order per sender.
//
// Usage: node loadgen.js '<json spec>'   (bench/bench.py builds the spec)
// Spec: { urls: [..], clients, rooms, senders, workers, serverPid | serverPids, redisPid?,
//         steps: [{ rate, seconds }] | null, idle: bool, batches: bool, drainMs? }
// serverPids: several server processes (nodes) whose CPU and RSS are added up.
// redisPid: a Redis the server uses; its CPU per step is reported next to the server's.
// batches: clients announce `messages` batches on connect, as the React client does
// (servers that do not know the feature ignore it and send `message` events).
// drainMs: how long after a step's last send its deliveries still count (default
// 1000); what arrives later is counted lost. A longer drain tells late from lost.
// Prints one JSON object on stdout.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";

import WebSocket from "ws";

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const BUCKET_MS = 0.1;
const BUCKETS = 20000; // up to 2 s
// The cores this process (and the workers it forks) may run on: respects taskset.
const GENERATOR_CORES = availableParallelism();

// Adds each worker's counts by key (room, error code) into `total`.
function addCounts(total, counts) {
  for (const [key, count] of Object.entries(counts)) total[key] = (total[key] ?? 0) + count;
}

function serverUsage(pids) {
  if (Array.isArray(pids)) {
    const usages = pids.map(serverUsage);
    if (usages.some((usage) => usage === null)) return null;
    return {
      cpuSeconds: usages.reduce((sum, usage) => sum + usage.cpuSeconds, 0),
      systemCpuSeconds: usages.reduce((sum, usage) => sum + usage.systemCpuSeconds, 0),
      rssKiB: usages.reduce((sum, usage) => sum + usage.rssKiB, 0),
    };
  }
  const pid = pids;
  if (!pid) return null;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime: the kernel's share is mostly the sockets' system calls (on
  // loopback a send also runs the receiving side of TCP), alike for every server.
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  return { cpuSeconds: (userTicks + systemTicks) / 100, systemCpuSeconds: systemTicks / 100, rssKiB: rss };
}

// ---------------------------------------------------------------- worker side

class Client {
  constructor(url, index, room, username, batches) {
    this.url = url;
    this.batches = batches;
    this.index = index;
    this.room = room;
    this.username = username;
    this.ws = null;
  }

  open(onEvent) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.url}/socket.io/?EIO=4&transport=websocket`, {
        perMessageDeflate: false,
      });
      this.ws = ws;
      let stage = 0;
      let refusedJoins = 0;
      const join = () => ws.send(`420${JSON.stringify(["join", { room: this.room, username: this.username }])}`);
      ws.on("error", reject);
      ws.on("message", (raw) => {
        const frame = raw.toString();
        if (frame === "2") return ws.send("3");
        if (stage === 0 && frame.startsWith("0{")) {
          stage = 1;
          return ws.send(this.batches ? `40${JSON.stringify({ features: ["messages"] })}` : "40");
        }
        if (stage === 1 && frame.startsWith("40")) {
          stage = 2;
          return join();
        }
        if (stage === 2 && frame.startsWith("430")) {
          const ack = JSON.parse(frame.slice(3))[0];
          if (ack?.ok) {
            stage = 3;
            this.refusedJoins = refusedJoins;
            return resolve();
          }
          // A server still busy with an earlier step may refuse (`unavailable`):
          // try again for up to 10 s; a client that never joins would measure nothing.
          refusedJoins += 1;
          if (refusedJoins > 40) return reject(new Error(`join refused: ${frame}`));
          return setTimeout(join, 250);
        }
        if (frame.startsWith("42")) onEvent(frame);
      });
    });
  }

  send(payload) {
    this.ws.send(`42${JSON.stringify(["message", payload])}`);
  }
}

async function runWorker() {
  // The assignment comes over IPC: thousands of clients do not fit in argv.
  const spec = await new Promise((resolve) => {
    const listener = (message) => {
      if (message.type === "assign") {
        process.off("message", listener);
        resolve(message);
      }
    };
    process.on("message", listener);
  });
  const histogram = new Uint32Array(BUCKETS);
  const stats = { received: 0, duplicates: 0, outOfOrder: 0, maxLatency: 0, sent: 0, refused: 0 };
  const lastSeen = new Map(); // lastSeen.get(`${receiver}/${sender}`) = counter
  const clients = [];
  // roomReceived[room] = distinct deliveries to that room's members (loss per room)
  let roomReceived = {};
  // refusedCodes[code] = `error` events with that code (why the server refused)
  let refusedCodes = {};
  const roomOfClient = new Map();

  function record(receiver, message) {
    const [sender, counterText] = message.message.split(":");
    const counter = Number(counterText);
    const key = `${receiver}/${sender}`;
    const last = lastSeen.get(key) ?? -1;
    if (counter === last) stats.duplicates += 1;
    else if (counter < last) stats.outOfOrder += 1;
    else lastSeen.set(key, counter);
    stats.received += 1;
    if (counter !== last) {
      const room = roomOfClient.get(receiver);
      roomReceived[room] = (roomReceived[room] ?? 0) + 1;
    }
    const latency = now() - message.client_timestamp;
    stats.maxLatency = Math.max(stats.maxLatency, latency);
    histogram[Math.min(BUCKETS - 1, Math.max(0, Math.floor(latency / BUCKET_MS)))] += 1;
  }

  function onEvent(receiver, frame) {
    if (frame.startsWith('42["message"')) {
      record(receiver, JSON.parse(frame.slice(2))[1]);
    } else if (frame.startsWith('42["messages"')) {
      for (const message of JSON.parse(frame.slice(2))[1]) record(receiver, message);
    } else if (frame.startsWith('42["error"')) {
      stats.refused += 1;
      const code = JSON.parse(frame.slice(2))[1]?.code ?? "unknown";
      refusedCodes[code] = (refusedCodes[code] ?? 0) + 1;
    }
  }

  const connectStart = now();
  for (let i = 0; i < spec.mine.length; i += 50) {
    await Promise.all(
      spec.mine.slice(i, i + 50).map(async ({ index, url, room, sender }) => {
        const client = new Client(url, index, room, `u${index}`, spec.batches === true);
        client.sender = sender;
        roomOfClient.set(index, room);
        await client.open((frame) => onEvent(index, frame));
        clients.push(client);
      }),
    );
  }
  process.send({
    type: "ready",
    connectSeconds: (now() - connectStart) / 1000,
    refusedJoins: clients.reduce((sum, client) => sum + client.refusedJoins, 0),
  });

  let go = null; // resolves a step's wait for "go"
  process.on("message", async (command) => {
    if (command.type === "go") {
      go?.();
    } else if (command.type === "step") {
      histogram.fill(0);
      Object.assign(stats, { received: 0, duplicates: 0, outOfOrder: 0, maxLatency: 0, sent: 0, refused: 0 });
      roomReceived = {};
      refusedCodes = {};
      const roomSent = {};
      // Every worker has zeroed its counts before any sends: a receipt counted
      // before another worker's reset would be zeroed with it, and seen as lost.
      await new Promise((resolve) => {
        go = resolve;
        process.send({ type: "armed" });
      });
      const cpuStart = process.cpuUsage();
      const senders = clients.filter((c) => c.sender);
      const tickMs = 10;
      const counters = new Map(senders.map((s) => [s.index, command.counterBase]));
      const start = now();
      const end = start + command.seconds * 1000;
      // What is owed follows the clock, not the count of ticks: a timer fires late
      // (by ~1.5 ms a tick here), and counting ticks sent about 0.87 of the rate.
      const total = Math.round(command.rate * command.seconds);
      let rounds = 0;
      for (let at = start; at < end; at = now()) {
        const owed = Math.min(total, Math.floor((command.rate * (at - start)) / 1000) + 1);
        for (; rounds < owed; rounds++) {
          for (const sender of senders) {
            const counter = counters.get(sender.index);
            counters.set(sender.index, counter + 1);
            sender.send({ room: sender.room, message: `${sender.index}:${counter}`, timestamp: now() });
            stats.sent += 1;
            roomSent[sender.room] = (roomSent[sender.room] ?? 0) + 1;
          }
        }
        await sleep(tickMs);
      }
      await sleep(command.drainMs);
      const cpu = process.cpuUsage(cpuStart);
      process.send({
        type: "stepped",
        stats: { ...stats },
        roomReceived,
        roomSent,
        refusedCodes,
        histogram: Array.from(histogram),
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      });
    } else if (command.type === "close") {
      for (const client of clients) client.ws.close();
      await sleep(200);
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------- parent side

function percentile(histogram, total, fraction) {
  if (total === 0) return null;
  const target = Math.ceil(total * fraction);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= target) return (i + 1) * BUCKET_MS;
  }
  return histogram.length * BUCKET_MS;
}

async function runParent() {
  const spec = JSON.parse(process.argv[2]);
  const workers = Math.max(1, Math.min(spec.workers ?? 2, spec.clients));
  const roomOf = (index) => `bench-${index % spec.rooms}`;
  const roomSize = new Map();
  const assignments = Array.from({ length: workers }, () => []);
  const sendersPerRoom = new Map();
  for (let index = 0; index < spec.clients; index++) {
    const room = roomOf(index);
    roomSize.set(room, (roomSize.get(room) ?? 0) + 1);
    const sender = index < spec.senders;
    if (sender) sendersPerRoom.set(room, (sendersPerRoom.get(room) ?? 0) + 1);
    const url = spec.urls[index % spec.urls.length];
    assignments[index % workers].push({ index, url, room, sender });
  }
  const serverPids = spec.serverPids ?? spec.serverPid;
  const before = serverUsage(serverPids);
  const children = assignments.map((mine) => {
    const child = fork(new URL(import.meta.url).pathname, ["worker"]);
    child.send({ type: "assign", mine, batches: spec.batches === true });
    return child;
  });
  const next = (child, type) =>
    new Promise((resolve) => {
      const listener = (message) => {
        if (message.type === type) {
          child.off("message", listener);
          resolve(message);
        }
      };
      child.on("message", listener);
    });
  const started = now();
  const ready = await Promise.all(children.map((child) => next(child, "ready")));
  const connectSeconds = (now() - started) / 1000;
  await sleep(500);
  const afterConnect = serverUsage(serverPids);
  const result = {
    clients: spec.clients,
    connectSeconds,
    slowestWorkerConnectSeconds: Math.max(...ready.map((r) => r.connectSeconds)),
    refusedJoins: ready.reduce((sum, r) => sum + r.refusedJoins, 0),
    server: { before, afterConnect },
    steps: [],
  };

  let counterBase = 0;
  const steps = spec.steps ?? [];
  let retried = false;
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index];
    const cpuBefore = serverUsage(serverPids);
    const redisBefore = serverUsage(spec.redisPid);
    await Promise.all(
      children.map((child) => {
        const armed = next(child, "armed");
        child.send({ type: "step", rate: step.rate, seconds: step.seconds, drainMs: spec.drainMs ?? 1000, counterBase });
        return armed;
      }),
    );
    const replies = await Promise.all(
      children.map((child) => {
        const reply = next(child, "stepped");
        child.send({ type: "go" });
        return reply;
      }),
    );
    const cpuAfter = serverUsage(serverPids);
    const redisAfter = serverUsage(spec.redisPid);
    counterBase += 1_000_000;
    const histogram = new Array(BUCKETS).fill(0);
    const totals = { received: 0, duplicates: 0, outOfOrder: 0, maxLatency: 0, sent: 0, refused: 0 };
    let generatorCpu = 0;
    const roomReceived = {};
    const roomSent = {};
    const refusedCodes = {};
    for (const reply of replies) {
      addCounts(refusedCodes, reply.refusedCodes);
      addCounts(roomReceived, reply.roomReceived);
      addCounts(roomSent, reply.roomSent);
      reply.histogram.forEach((count, i) => (histogram[i] += count));
      for (const key of Object.keys(totals)) {
        totals[key] = key === "maxLatency" ? Math.max(totals[key], reply.stats[key]) : totals[key] + reply.stats[key];
      }
      generatorCpu += reply.cpuSeconds;
    }
    let expected = 0;
    for (const [room, senders] of sendersPerRoom) expected += senders * roomSize.get(room);
    expected = (expected * totals.sent) / Math.max(1, spec.senders);
    const serverCpu = cpuAfter && cpuBefore ? cpuAfter.cpuSeconds - cpuBefore.cpuSeconds : null;
    const serverSystemCpu = cpuAfter && cpuBefore ? cpuAfter.systemCpuSeconds - cpuBefore.systemCpuSeconds : null;
    // Per room: messages its senders sent x its members, against what they received.
    const roomLoss = {};
    for (const [room, size] of roomSize) {
      const lost = (roomSent[room] ?? 0) * size - (roomReceived[room] ?? 0);
      if (lost !== 0) roomLoss[room] = lost;
    }
    result.steps.push({
      rate: step.rate,
      seconds: step.seconds,
      sent: totals.sent,
      expected,
      received: totals.received,
      lost: expected - (totals.received - totals.duplicates),
      duplicates: totals.duplicates,
      outOfOrder: totals.outOfOrder,
      refused: totals.refused,
      refusedCodes,
      roomLoss,
      roomsWithLoss: Object.keys(roomLoss).length,
      deliveriesPerSecond: totals.received / step.seconds,
      p50: percentile(histogram, totals.received, 0.5),
      p99: percentile(histogram, totals.received, 0.99),
      max: totals.maxLatency,
      serverCpuSeconds: serverCpu,
      serverCpuMicrosPerDelivery: serverCpu !== null && totals.received ? (serverCpu * 1e6) / totals.received : null,
      serverSystemCpuMicrosPerDelivery:
        serverSystemCpu !== null && totals.received ? (serverSystemCpu * 1e6) / totals.received : null,
      redisCpuSeconds: redisAfter && redisBefore ? redisAfter.cpuSeconds - redisBefore.cpuSeconds : null,
      generatorCpuSeconds: generatorCpu,
      // Against the cores the generator may run on (taskset pins it to one): its
      // workers share them, so near 1.0 the figure is the generator's, not the server's.
      generatorCpuShare: generatorCpu / (step.seconds + 1) / GENERATOR_CORES,
    });
    const failed =
      spec.stopWhen &&
      (percentile(histogram, totals.received, 0.99) > spec.stopWhen.p99 || expected - totals.received > 0);
    if (failed && !retried) {
      // One slow step on a shared machine is not the limit: each step gets a second try.
      retried = true;
      index -= 1;
    } else if (failed) {
      break;
    } else {
      retried = false;
    }
  }
  for (const child of children) child.send({ type: "close" });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[2] === "worker") runWorker();
else runParent();
