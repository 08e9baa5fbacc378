/**
 * People you ignore: their messages, whispers, typing and mentions are hidden in
 * every room, on this browser only (nobody is told). Kept by person key (their
 * trip, or a connection of someone unverified), so a new name does not bring them
 * back; remembered in localStorage.
 */
const IGNORED_KEY = "chat.ignored";
/** People ignored at most (the oldest are forgotten first). */
export const MAX_IGNORED = 500;

export interface IgnoredPerson {
  /** personKey(): their trip, or `sid:<sid>` without one. */
  key: string;
  /** The name they had when ignored, to list them. */
  name: string;
  at: number;
}

export type Ignored = Record<string, IgnoredPerson>;

export function loadIgnored(): Ignored {
  try {
    const parsed: unknown = JSON.parse(window.localStorage.getItem(IGNORED_KEY) ?? "[]");
    if (!Array.isArray(parsed)) return {};
    const people = parsed.filter(
      (entry): entry is IgnoredPerson =>
        typeof entry === "object" &&
        entry !== null &&
        typeof (entry as IgnoredPerson).key === "string" &&
        typeof (entry as IgnoredPerson).name === "string" &&
        typeof (entry as IgnoredPerson).at === "number",
    );
    return Object.fromEntries(people.map((person) => [person.key, person]));
  } catch {
    return {};
  }
}

export function saveIgnored(ignored: Ignored): void {
  const people = Object.values(ignored)
    .sort((a, b) => a.at - b.at)
    .slice(-MAX_IGNORED);
  try {
    window.localStorage.setItem(IGNORED_KEY, JSON.stringify(people));
  } catch {
    // Storage disabled or full: ignoring lasts for this page only.
  }
}
