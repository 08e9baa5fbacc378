/**
 * What this browser remembers: the nickname and the rooms you are in (to rejoin
 * them after a reload), in localStorage; and one session id per tab, in
 * sessionStorage. Storage may be disabled (private mode): then nothing is remembered.
 */
const NICKNAME_KEY = "chat.nickname";
const ROOMS_KEY = "chat.rooms";
const SESSION_KEY = "chat.session";

export interface SavedRoom {
  name: string;
  username: string;
}

function read(storage: () => Storage, key: string): string | null {
  try {
    return storage().getItem(key);
  } catch {
    return null;
  }
}

function write(storage: () => Storage, key: string, value: string): void {
  try {
    storage().setItem(key, value);
  } catch {
    // Storage disabled or full: the value just isn't remembered.
  }
}

const local = () => window.localStorage;
const perTab = () => window.sessionStorage;

export function loadNickname(): string {
  return read(local, NICKNAME_KEY) ?? "";
}

export function saveNickname(nickname: string): void {
  write(local, NICKNAME_KEY, nickname);
}

export function loadRooms(): SavedRoom[] {
  try {
    const parsed: unknown = JSON.parse(read(local, ROOMS_KEY) ?? "[]");
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (room): room is SavedRoom =>
        typeof room === "object" &&
        room !== null &&
        typeof (room as SavedRoom).name === "string" &&
        typeof (room as SavedRoom).username === "string",
    );
  } catch {
    return [];
  }
}

export function saveRooms(rooms: readonly SavedRoom[]): void {
  write(local, ROOMS_KEY, JSON.stringify(rooms.map(({ name, username }) => ({ name, username }))));
}

/** This tab's session id, made once and kept while the tab lives (reloads too). */
export function sessionId(): string {
  const saved = read(perTab, SESSION_KEY);
  if (saved && /^[A-Za-z0-9_-]{16,64}$/.test(saved)) return saved;
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const made = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  write(perTab, SESSION_KEY, made);
  return made;
}
