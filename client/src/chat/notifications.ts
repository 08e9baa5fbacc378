/**
 * Telling you about messages while you look elsewhere: per room, "all" messages,
 * only "mentions" of you (and whispers to you), or "none". Desktop notifications go
 * through the browser's Notification API once you allow them, each with a short
 * tone; the tab's title and icon count what is unread (favicon.ts) in any case.
 */

export type NotifyLevel = "all" | "mentions" | "none";
export const NOTIFY_LEVELS: readonly NotifyLevel[] = ["all", "mentions", "none"];
export const DEFAULT_LEVEL: NotifyLevel = "mentions";

const STORAGE_KEY = "chat.notify";

function readAll(): Record<string, NotifyLevel> {
  try {
    const raw = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "{}") as unknown;
    if (typeof raw !== "object" || raw === null) return {};
    const levels: Record<string, NotifyLevel> = {};
    for (const [room, level] of Object.entries(raw)) {
      if (NOTIFY_LEVELS.includes(level as NotifyLevel)) levels[room] = level as NotifyLevel;
    }
    return levels;
  } catch {
    return {};
  }
}

export function notifyLevel(room: string): NotifyLevel {
  return readAll()[room] ?? DEFAULT_LEVEL;
}

export function setNotifyLevel(room: string, level: NotifyLevel): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...readAll(), [room]: level }));
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

/** Whether something in a room deserves a notification at this level. */
export function deserves(level: NotifyLevel, about: { mentionsMe: boolean }): boolean {
  return level === "all" || (level === "mentions" && about.mentionsMe);
}

export type Permission = NotificationPermission | "unsupported";

export function permission(): Permission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

/** Ask the browser (only from a click: browsers refuse it otherwise). */
export async function askPermission(): Promise<Permission> {
  if (typeof Notification === "undefined") return "unsupported";
  return Notification.requestPermission();
}

let audio: AudioContext | null = null;

/** A short, soft two-note tone (no sound file to download). */
export function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.08, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
    gain.connect(audio.destination);
    for (const [frequency, start] of [
      [880, 0],
      [1320, 0.12],
    ] as const) {
      const tone = audio.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(now + start);
      tone.stop(now + start + 0.2);
    }
  } catch {
    // No audio here (or not allowed before a click): the notification is enough.
  }
}

/** Show one desktop notification, with a tone, once the person has allowed them
 * (opt-in: until then only the tab's title and icon count); a click opens the room. */
export function notify(title: string, body: string, tag: string, onClick: () => void): void {
  if (permission() !== "granted") return;
  chime();
  try {
    const shown = new Notification(title, { body: body.slice(0, 180), tag });
    shown.onclick = () => {
      window.focus();
      onClick();
      shown.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker.
  }
}
