/**
 * `@name` in message text, as the server reads it (chat/conversation.py): up to a
 * space or another `@`, trailing punctuation not part of the name.
 */
const MENTION = /(^|[^\p{L}\p{N}_@])@([^\s@]{1,32})/gu;
const TRAILING = /[.,:;!?)\]}"'»”’…]+$/u;

export type TextPiece = { kind: "text"; text: string } | { kind: "mention"; text: string; mine: boolean };

/** How names are compared for a mention on this side: as people read them. */
function sameName(a: string, b: string): boolean {
  return a.normalize("NFKC").toLowerCase() === b.normalize("NFKC").toLowerCase();
}

/** `text` cut into plain pieces and `@name` pieces (`mine` when it names `myName`). */
export function splitMentions(text: string, myName?: string): TextPiece[] {
  const pieces: TextPiece[] = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    const before = match[1] ?? "";
    const word = match[2] ?? "";
    const name = word.replace(TRAILING, "");
    if (!name) continue;
    const start = (match.index ?? 0) + before.length;
    if (start > last) pieces.push({ kind: "text", text: text.slice(last, start) });
    const mine = myName !== undefined && sameName(name, myName);
    pieces.push({ kind: "mention", text: `@${name}`, mine });
    last = start + 1 + name.length;
  }
  if (last < text.length) pieces.push({ kind: "text", text: text.slice(last) });
  return pieces;
}

/** The `@word` being typed just before `caret`, for completion; null when none. */
export function mentionAt(text: string, caret: number): { start: number; prefix: string } | null {
  const match = /(^|\s)@([^\s@]{0,32})$/u.exec(text.slice(0, caret));
  if (!match) return null;
  const prefix = match[2] ?? "";
  return { start: caret - prefix.length - 1, prefix };
}
