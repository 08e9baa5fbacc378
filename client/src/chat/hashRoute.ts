/** Deep links: `#/room/<name>` names the room a page shows. */
const ROOM_PREFIX = "#/room/";

export function roomFromHash(hash: string): string | null {
  if (!hash.startsWith(ROOM_PREFIX)) return null;
  try {
    const name = decodeURIComponent(hash.slice(ROOM_PREFIX.length)).trim();
    return name || null;
  } catch {
    return null;
  }
}

export function hashForRoom(room: string | null): string {
  return room ? `${ROOM_PREFIX}${encodeURIComponent(room)}` : "#/";
}

export function roomLink(room: string, location: Location = window.location): string {
  return `${location.origin}${location.pathname}${hashForRoom(room)}`;
}
