/**
 * Which trip this browser last saw behind each name, per room, kept across visits
 * so that a name that comes back under another identity is marked "new identity"
 * even after a reload. Bounded: rooms beyond MAX_ROOMS are forgotten, least
 * recently saved first (each room keeps at most MAX_KNOWN_TRIPS names).
 */
const STORAGE_KEY = "chat.trips";
const MAX_ROOMS = 50;

type Memory = Record<string, Record<string, string>>;

function readAll(): Memory {
  try {
    const parsed: unknown = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    return parsed as Memory;
  } catch {
    return {};
  }
}

export function loadKnownTrips(room: string): Record<string, string> {
  const known = readAll()[room];
  if (typeof known !== "object" || known === null) return {};
  const clean: Record<string, string> = {};
  for (const [name, trip] of Object.entries(known)) if (typeof trip === "string") clean[name] = trip;
  return clean;
}

export function saveKnownTrips(room: string, trips: Record<string, string>): void {
  const all = readAll();
  delete all[room]; // re-inserted last: the most recently saved
  all[room] = trips;
  const rooms = Object.keys(all);
  for (const old of rooms.slice(0, Math.max(0, rooms.length - MAX_ROOMS))) delete all[old];
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(all));
  } catch {
    // Storage disabled or full: remembered for this visit only.
  }
}
