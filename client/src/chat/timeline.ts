/**
 * What the message list shows, in order: stored messages by (epoch, seq) with the
 * system lines where they happened, a date line where the day changes, the "new
 * messages" divider where you left off, then this page's unacknowledged messages.
 * People you ignore are left out.
 */
import { isAfter, personKey, type ChatMessage, type PendingMessage, type Room, type SystemLine } from "./chatReducer";
import type { Ignored } from "./ignore";

const GROUP_WINDOW_MS = 5 * 60 * 1000;

export type TimelineItem =
  | { kind: "message"; key: string; message: ChatMessage; mine: boolean; grouped: boolean; mentionsMe: boolean }
  | { kind: "pending"; key: string; pending: PendingMessage; grouped: boolean }
  | { kind: "system"; key: string; line: SystemLine }
  | { kind: "date"; key: string; label: string; at: number }
  | { kind: "divider"; key: string };

/** "Today", "Yesterday", or the date, for the day of `at` as seen from `now`. */
export function dayLabel(at: number, now: number = Date.now()): string {
  const day = startOfDay(at);
  const today = startOfDay(now);
  if (day === today) return "Today";
  if (day === startOfDay(today - 1)) return "Yesterday"; // DST-proof: the day before
  const sameYear = new Date(at).getFullYear() === new Date(now).getFullYear();
  return new Date(at).toLocaleDateString([], {
    weekday: "long",
    day: "numeric",
    month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  });
}

function startOfDay(at: number): number {
  const date = new Date(at);
  date.setHours(0, 0, 0, 0);
  return date.getTime();
}

export function buildTimeline(
  room: Room,
  mySids: readonly string[],
  myTrip: string | null = null,
  ignored: Ignored = {},
  now: number = Date.now(),
): TimelineItem[] {
  const rank = new Map(room.epochs.map((epoch, index) => [epoch, index]));
  const lines = [...room.system].sort(
    (a, b) =>
      (rank.get(a.epoch) ?? -1) - (rank.get(b.epoch) ?? -1) || a.afterSeq - b.afterSeq || a.at - b.at,
  );
  const items: TimelineItem[] = [];
  let lineIndex = 0;
  let previous: { author: string; at: number; mine: boolean } | null = null;
  // The day being laid out, [dayStart, dayEnd): most messages fall in it, and need
  // no Date of their own (10,000 of them are rebuilt as messages arrive).
  let dayStart = Number.POSITIVE_INFINITY;
  let dayEnd = Number.NEGATIVE_INFINITY;
  let dividerPlaced = room.dividerAfter === null;

  const dateLine = (at: number) => {
    if (at >= dayStart && at < dayEnd) return;
    const start = startOfDay(at);
    if (start === dayStart) return;
    dayStart = start;
    dayEnd = startOfDay(start + 36 * 3_600_000); // the next midnight, DST or not
    items.push({ kind: "date", key: `d-${start}`, label: dayLabel(at, now), at: start });
    previous = null;
  };

  const flushLinesBefore = (epochRank: number, seq: number) => {
    while (lineIndex < lines.length) {
      const line = lines[lineIndex];
      if (!line) break;
      const lineRank = rank.get(line.epoch) ?? -1;
      if (lineRank > epochRank || (lineRank === epochRank && line.afterSeq >= seq)) break;
      lineIndex++;
      if (line.whisper && personKey(line.whisper) in ignored) continue;
      dateLine(line.at);
      items.push({ kind: "system", key: `s-${line.id}`, line });
      previous = null;
    }
  };

  const sids = new Set(mySids);
  // Yours: sent from this page, or from another tab or device of your identity.
  const isMine = (message: ChatMessage) => sids.has(message.sid) || (Boolean(myTrip) && message.trip === myTrip);
  for (const message of room.messages) {
    if (lineIndex < lines.length) flushLinesBefore(rank.get(message.epoch) ?? 0, message.seq);
    const author = personKey(message);
    if (author in ignored) continue;
    dateLine(message.timestamp);
    if (!dividerPlaced && room.dividerAfter && isAfter(room, message, room.dividerAfter)) {
      items.push({ kind: "divider", key: "divider" });
      dividerPlaced = true;
      previous = null;
    }
    const last = previous as { author: string; at: number; mine: boolean } | null;
    const grouped = last !== null && last.author === author && message.timestamp - last.at < GROUP_WINDOW_MS;
    const mine = isMine(message);
    const mentionsMe =
      message.mentions !== undefined &&
      message.mentions.some((who) => sids.has(who) || (myTrip !== null && who === myTrip));
    items.push({ kind: "message", key: `m-${message.id}`, message, mine, grouped, mentionsMe });
    previous = { author, at: message.timestamp, mine };
  }
  flushLinesBefore(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

  const lastAuthor = previous as { mine: boolean } | null;
  let mineBefore = lastAuthor !== null && lastAuthor.mine;
  for (const pending of room.pending) {
    dateLine(pending.createdAt);
    items.push({ kind: "pending", key: `p-${pending.clientId}`, pending, grouped: mineBefore });
    mineBefore = true;
  }
  return items;
}
