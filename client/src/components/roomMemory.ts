/** What a room's view remembers while you are elsewhere: its scroll position. */
export interface RoomMemory {
  scroll: Map<string, { top: number; atBottom: boolean }>;
}

export function createRoomMemory(): RoomMemory {
  return { scroll: new Map() };
}
