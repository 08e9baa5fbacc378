/** What a room's view remembers while you are elsewhere: its draft and scroll position. */
export interface RoomMemory {
  drafts: Map<string, string>;
  scroll: Map<string, { top: number; atBottom: boolean }>;
}

export function createRoomMemory(): RoomMemory {
  return { drafts: new Map(), scroll: new Map() };
}
