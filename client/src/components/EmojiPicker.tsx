/**
 * Every emoji, by group, with a search by name: the "More…" of the reaction menu.
 * Its data (unicode-emoji-json, pinned) is a file of its own, fetched the first
 * time the picker opens. Arrow keys move through the grid, Enter picks, Escape
 * closes.
 */
import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import groups from "unicode-emoji-json/data-by-group.json";

interface Entry {
  emoji: string;
  name: string;
}

const GROUPS = groups.map((group) => ({
  name: group.name,
  emojis: group.emojis.map((entry): Entry => ({ emoji: entry.emoji, name: entry.name })),
}));
const COLUMNS = 8;
const MAX_RESULTS = 160;

export default function EmojiPicker({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  const [query, setQuery] = useState("");
  const [group, setGroup] = useState(0);
  const [focused, setFocused] = useState(0);
  const search = useRef<HTMLInputElement>(null);
  const grid = useRef<HTMLDivElement>(null);
  const id = useId();

  const shown = useMemo(() => {
    const words = query.trim().toLowerCase();
    if (!words) return GROUPS[group]?.emojis ?? [];
    return GROUPS.flatMap((g) => g.emojis)
      .filter((entry) => entry.name.includes(words))
      .slice(0, MAX_RESULTS);
  }, [query, group]);

  useEffect(() => search.current?.focus(), []);

  function move(event: KeyboardEvent<HTMLDivElement>) {
    const steps: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
    const step = steps[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const next = Math.min(shown.length - 1, Math.max(0, focused + step));
    setFocused(next);
    grid.current?.querySelectorAll<HTMLButtonElement>("button")[next]?.focus();
  }

  return (
    <div
      className="emoji-picker"
      role="dialog"
      aria-label="Pick an emoji"
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onClose();
        }
      }}
    >
      <input
        ref={search}
        type="search"
        className="emoji-picker__search"
        placeholder="Search emoji"
        aria-label="Search emoji"
        aria-controls={`${id}-grid`}
        value={query}
        onChange={(event) => {
          setQuery(event.target.value);
          setFocused(0);
        }}
      />
      {query ? null : (
        <div className="emoji-picker__groups" role="tablist" aria-label="Emoji groups">
          {GROUPS.map((g, index) => (
            <button
              key={g.name}
              type="button"
              role="tab"
              aria-selected={index === group}
              className="emoji-picker__group"
              title={g.name}
              onClick={() => {
                setGroup(index);
                setFocused(0);
              }}
            >
              {g.emojis[0]?.emoji}
              <span className="visually-hidden">{g.name}</span>
            </button>
          ))}
        </div>
      )}
      <div id={`${id}-grid`} ref={grid} className="emoji-picker__grid" role="group" aria-label="Emoji" onKeyDown={move}>
        {shown.length === 0 ? <p className="emoji-picker__none">No emoji called “{query}”.</p> : null}
        {shown.map((entry, index) => (
          <button
            key={entry.emoji}
            type="button"
            className="emoji-picker__emoji"
            tabIndex={index === focused ? 0 : -1}
            aria-label={entry.name}
            title={entry.name}
            onClick={() => onPick(entry.emoji)}
          >
            {entry.emoji}
          </button>
        ))}
      </div>
    </div>
  );
}
