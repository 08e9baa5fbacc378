/**
 * What each room's composer holds, kept while you look at other rooms. A plain
 * store outside React state: a keystroke changes the composer alone, never the
 * chat state, so nothing else re-renders while you type.
 */
export class DraftStore {
  private readonly drafts = new Map<string, string>();

  get(room: string): string {
    return this.drafts.get(room) ?? "";
  }

  set(room: string, text: string): void {
    if (text) this.drafts.set(room, text);
    else this.drafts.delete(room);
  }

  delete(room: string): void {
    this.drafts.delete(room);
  }
}
