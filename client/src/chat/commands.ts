/**
 * What the composer makes of a line: a message, or a command (`/me`, `/nick`, `/w`,
 * `/msg`, `/join`, `/leave`, `/help`, and the moderators' of moderation.ts). Pure, so
 * every spelling is tested without a page. `//text` sends "/text" as a message.
 */
import { mentionAt } from "./mentions";
import { MODERATOR_HELP, parseModerationCommand, type ModerationLine } from "./moderation";

export type ComposerLine =
  | { kind: "message"; text: string }
  | { kind: "action"; text: string }
  | { kind: "nick"; name: string }
  | { kind: "whisper"; to: string; text: string }
  | { kind: "join"; room: string }
  | { kind: "leave" }
  | { kind: "help" }
  | ModerationLine
  | { kind: "problem"; message: string };

export const COMMAND_HELP: readonly { usage: string; what: string }[] = [
  { usage: "/me waves", what: "say what you do (shown as “alice waves”)" },
  { usage: "/nick name", what: "take a new name in this room" },
  { usage: "/w name text", what: "whisper to one person here (also /msg)" },
  { usage: "/join room", what: "join another room" },
  { usage: "/leave", what: "leave this room" },
  { usage: "/help", what: "this list" },
  { usage: "//text", what: "send a message that starts with /" },
  ...MODERATOR_HELP,
];

/** Read one line of the composer (already trimmed). */
export function parseLine(line: string): ComposerLine {
  if (!line.startsWith("/")) return { kind: "message", text: line };
  if (line.startsWith("//")) return { kind: "message", text: line.slice(1) };
  const match = /^\/(\S+)(?:\s+([\s\S]*))?$/u.exec(line);
  const name = (match?.[1] ?? "").toLowerCase();
  const rest = (match?.[2] ?? "").trim();
  switch (name) {
    case "me":
      return rest ? { kind: "action", text: rest } : problem("Type /me and what you do, e.g. /me waves.");
    case "nick":
      return { kind: "nick", name: rest };
    case "w":
    case "whisper":
    case "msg": {
      const parts = /^(\S+)\s+([\s\S]+)$/u.exec(rest);
      if (!parts?.[1] || !parts[2]) return problem(`Type /${name} then a name and your message, e.g. /${name} bob hi.`);
      return { kind: "whisper", to: parts[1].replace(/^@/u, ""), text: parts[2].trim() };
    }
    case "join":
      return rest ? { kind: "join", room: rest.replace(/^#/u, "") } : problem("Type /join and a room name.");
    case "leave":
    case "part":
      return { kind: "leave" };
    case "help":
    case "?":
      return { kind: "help" };
    default: {
      const moderation = parseModerationCommand(name, rest);
      if (moderation) return moderation;
      return problem(`There is no /${name} command. /help lists them; //${name} sends it as text.`);
    }
  }
}

function problem(message: string): ComposerLine {
  return { kind: "problem", message };
}

/**
 * Complete a member's name at the caret: `@bo` (or `bo` at the very start) becomes
 * `@bob ` (`bob: `). `skip` cycles through further matches on repeated Tabs.
 */
export function completeName(
  text: string,
  caret: number,
  names: readonly string[],
  skip = 0,
): { text: string; caret: number } | null {
  const mention = mentionAt(text, caret);
  const leading = mention ? null : /^([^\s@/]+)$/u.exec(text.slice(0, caret));
  const prefix = mention ? mention.prefix : (leading?.[1] ?? null);
  if (prefix === null) return null;
  const matches = namesStartingWith(names, prefix);
  if (matches.length === 0) return null;
  const chosen = matches[skip % matches.length] ?? matches[0]!;
  const start = caret - prefix.length;
  const completed = mention ? `${chosen} ` : `${chosen}: `;
  const next = text.slice(0, start) + completed + text.slice(caret);
  return { text: next, caret: start + completed.length };
}

/** Names that `prefix` could be the start of (case aside); names with spaces
 * cannot follow an `@`, so they are left out. */
export function namesStartingWith(names: readonly string[], prefix: string): string[] {
  const lower = prefix.toLowerCase();
  return names.filter((name) => name.toLowerCase().startsWith(lower) && !/\s/u.test(name));
}
