/**
 * What the message list shows, in order: stored messages by (epoch, seq) with the
 * system lines where they happened, then this page's unacknowledged messages.
 */
import type { ChatMessage, PendingMessage, Room, SystemLine } from "./chatReducer";

const GROUP_WINDOW_MS = 5 * 60 * 1000;

export type TimelineItem =
  | { kind: "message"; key: string; message: ChatMessage; mine: boolean; grouped: boolean }
  | { kind: "pending"; key: string; pending: PendingMessage; grouped: boolean }
  | { kind: "system"; key: string; line: SystemLine };

export function buildTimeline(room: Room, mySids: readonly string[]): TimelineItem[] {
  const rank = new Map(room.epochs.map((epoch, index) => [epoch, index]));
  const lines = [...room.system].sort(
    (a, b) =>
      (rank.get(a.epoch) ?? -1) - (rank.get(b.epoch) ?? -1) || a.afterSeq - b.afterSeq || a.at - b.at,
  );
  const items: TimelineItem[] = [];
  let lineIndex = 0;
  let previous: { sid: string; at: number } | null = null;

  const flushLinesBefore = (epochRank: number, seq: number) => {
    while (lineIndex < lines.length) {
      const line = lines[lineIndex];
      if (!line) break;
      const lineRank = rank.get(line.epoch) ?? -1;
      if (lineRank > epochRank || (lineRank === epochRank && line.afterSeq >= seq)) break;
      items.push({ kind: "system", key: `s-${line.id}`, line });
      previous = null;
      lineIndex++;
    }
  };

  for (const message of room.messages) {
    flushLinesBefore(rank.get(message.epoch) ?? 0, message.seq);
    const grouped =
      previous !== null &&
      previous.sid === message.sid &&
      message.timestamp - previous.at < GROUP_WINDOW_MS;
    items.push({
      kind: "message",
      key: `m-${message.id}`,
      message,
      mine: mySids.includes(message.sid),
      grouped,
    });
    previous = { sid: message.sid, at: message.timestamp };
  }
  flushLinesBefore(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

  let mineBefore = previous !== null && mySids.includes((previous as { sid: string }).sid);
  for (const pending of room.pending) {
    items.push({ kind: "pending", key: `p-${pending.clientId}`, pending, grouped: mineBefore });
    mineBefore = true;
  }
  return items;
}
