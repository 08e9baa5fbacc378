/** What a room's view remembers while you are elsewhere: where you were reading. */
export interface ScrollPlace {
  /** You were at the newest message (then you come back to the newest, or to the
   * first unread if there is news). */
  atBottom: boolean;
  /** Otherwise: the item at the top of the view. */
  topKey: string | null;
}

export interface RoomMemory {
  scroll: Map<string, ScrollPlace>;
}

export function createRoomMemory(): RoomMemory {
  return { scroll: new Map() };
}
