/**
 * Moderation as people read it: the lines a room shows for each action, and the
 * composer's moderator commands. Pure, so every wording is tested without a page.
 */
import type { Membership, ModerationEvent, ModerationNotice, ModerationRequests } from "./protocol";

/** "until 15:04", or "until 28 Nov, 15:04" when it is not today. */
export function untilText(until: number | undefined, now: number = Date.now()): string {
  if (until === undefined) return "";
  const date = new Date(until);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (new Date(now).toDateString() === date.toDateString()) return `until ${time}`;
  return `until ${date.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
}

/** What an action says: a room's `moderation` notice, or a line of its audit log. */
export function noticeText(
  notice: Pick<ModerationNotice, "action" | "by" | "target" | "until" | "value">,
  now: number = Date.now(),
): string {
  const { by, target, value } = notice;
  switch (notice.action) {
    case "owner":
      return `${by} became the owner`;
    case "kick":
      return `${by} kicked ${target}`;
    case "ban":
      return `${by} banned ${target} ${untilText(notice.until, now)}`;
    case "mute":
      return `${by} muted ${target} ${untilText(notice.until, now)}`;
    case "unmute":
      return `${by} unmuted ${target}`;
    case "unban":
      return `${by} let ${target} back in`;
    case "topic":
      return value ? `${by} set the topic: ${String(value)}` : `${by} cleared the topic`;
    case "slow":
      return value ? `${by} turned on slow mode: one message every ${String(value)} s` : `${by} turned slow mode off`;
    case "lock":
      return value ? `${by} locked the room: only people here now can come back in` : `${by} unlocked the room`;
    case "list":
      return value ? `${by} listed the room in the lobby` : `${by} took the room out of the lobby's list`;
    case "moderator":
      return `${by} made ${target} a moderator`;
    case "unmoderator":
      return `${by} took back ${target}'s moderator role`;
    case "hand_over":
      return `${by} handed the room over to ${target}`;
    case "raid":
      return value
        ? `${by} turned on raid mode: newcomers show their device is a person's, then start on probation`
        : `${by} turned raid mode off`;
    case "let_in":
      return `${by} let ${target} in`;
    case "turned_away":
      return `${by} turned ${target} away`;
    default:
      return `${by}: ${notice.action}${target ? ` ${target}` : ""}`;
  }
}

/** Whether a `left` is someone (maybe you) removed by a moderator. */
export function isRemoval(membership: Membership): boolean {
  return membership.reason === "kicked" || membership.reason === "banned";
}

/** What a kick or ban says: to the room, or to the person it removed. */
export function removalText(membership: Membership, mine: boolean, now: number = Date.now()): string {
  const by = membership.by ?? "A moderator";
  const until = untilText(membership.until, now);
  if (membership.reason === "kicked") {
    return mine
      ? `${by} kicked you out of #${membership.room}; you can come back ${until}.`
      : `${membership.username} was kicked out by ${by}`;
  }
  return mine
    ? `${by} banned you from #${membership.room} ${until}.`
    : `${membership.username} was banned by ${by} ${until}`;
}

export type ModerationLine =
  | { [E in ModerationEvent]: { kind: "moderate"; event: E; payload: ModerationRequests[E] } }[ModerationEvent]
  | { kind: "moderation_panel" };

export const MODERATOR_HELP: readonly { usage: string; what: string }[] = [
  { usage: "/kick name", what: "send someone out (they can come back in a few minutes)" },
  { usage: "/ban name 1h", what: "keep someone out for a while (m, h or d; 1 h without)" },
  { usage: "/unban name", what: "let someone back in" },
  { usage: "/mute name 10m", what: "stop someone writing for a while; /unmute name" },
  { usage: "/topic text", what: "set the room's topic (/topic alone clears it)" },
  { usage: "/slow 30", what: "one message per person every 30 s (/slow off)" },
  { usage: "/lock", what: "only people here now can come back in (/unlock)" },
  { usage: "/raid on", what: "newcomers prove they are people and start on probation (/raid off)" },
  { usage: "/list", what: "owner: show the room in the lobby (/unlist)" },
  { usage: "/op name", what: "owner: make someone a moderator (/deop name)" },
  { usage: "/handover name", what: "owner: give the room to someone" },
  { usage: "/mod", what: "the moderation panel: bans, mutes, audit log" },
];

const UNIT_MINUTES: Record<string, number> = { m: 1, h: 60, d: 1440 };

/** "90", "90m", "2h", "1d" in minutes; null when it is not a duration. */
export function durationMinutes(text: string): number | null {
  const match = /^(\d{1,6})\s*([mhd]?)$/iu.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * (UNIT_MINUTES[(match[2] || "m").toLowerCase()] ?? 1);
}

/**
 * A moderator command of the composer (`/kick bob`), null when `command` is none,
 * or a problem to show.
 */
export function parseModerationCommand(command: string, rest: string): ModerationLine | { kind: "problem"; message: string } | null {
  const [first = "", ...others] = rest.split(/\s+/u).filter(Boolean);
  const name = first.replace(/^@/u, "");
  const needName = (usage: string) => ({ kind: "problem" as const, message: `Type ${usage}.` });
  switch (command) {
    case "kick":
      return name ? { kind: "moderate", event: "kick", payload: { name } } : needName("/kick and a name");
    case "ban": {
      if (!name) return needName("/ban, a name and how long, e.g. /ban bob 2h");
      const minutes = others.length ? durationMinutes(others.join("")) : 60;
      if (minutes === null || minutes < 1) return { kind: "problem", message: "How long? e.g. /ban bob 30m, 2h or 1d." };
      return { kind: "moderate", event: "ban", payload: { name, minutes } };
    }
    case "unban":
      return name ? { kind: "moderate", event: "unban", payload: { name } } : needName("/unban and a name");
    case "mute": {
      if (!name) return needName("/mute, a name and how long, e.g. /mute bob 10m");
      const minutes = others.length ? durationMinutes(others.join("")) : 10;
      if (minutes === null || minutes < 1) return { kind: "problem", message: "How long? e.g. /mute bob 10m or 1h." };
      return { kind: "moderate", event: "mute", payload: { name, minutes } };
    }
    case "unmute":
      return name ? { kind: "moderate", event: "mute", payload: { name, minutes: 0 } } : needName("/unmute and a name");
    case "topic":
      return { kind: "moderate", event: "topic", payload: { topic: rest.trim() } };
    case "slow": {
      const seconds = /^(off|0)?$/iu.test(rest.trim()) ? 0 : Number(rest.trim().replace(/s$/iu, ""));
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) {
        return { kind: "problem", message: "Type /slow and seconds between messages (up to 3600), or /slow off." };
      }
      return { kind: "moderate", event: "slow_mode", payload: { seconds } };
    }
    case "lock":
    case "unlock":
      return { kind: "moderate", event: "lock", payload: { locked: command === "lock" } };
    case "list":
    case "unlist":
      return { kind: "moderate", event: "list_room", payload: { listed: command === "list" } };
    case "op":
    case "deop":
      return name ? { kind: "moderate", event: "moderator", payload: { name, on: command === "op" } } : needName(`/${command} and a name`);
    case "handover":
      return name ? { kind: "moderate", event: "hand_over", payload: { name } } : needName("/handover and a name");
    case "raid": {
      const on = /^(on)?$/iu.test(rest.trim()) ? true : /^off$/iu.test(rest.trim()) ? false : null;
      if (on === null) return { kind: "problem", message: "Type /raid on or /raid off." };
      return { kind: "moderate", event: "raid_mode", payload: { on } };
    }
    case "mod":
      return { kind: "moderation_panel" };
    default:
      return null;
  }
}
