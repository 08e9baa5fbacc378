import { useState, type CSSProperties } from "react";

import { nameColor } from "./nameColor";

/** The colour seed of a person: their trip, or (unverified) their name. */
export function colorSeed(name: string, trip: string | null): string {
  return trip ?? `name:${name}`;
}

export function tripBadge(trip: string): string {
  return `!${trip}`;
}

/**
 * A person's name, coloured by their trip (stable across names and devices). Hover
 * shows the trip; a tap (or Enter) shows it inline. Marked "unverified" without a
 * trip, and "new identity" when this name had another trip when last seen here.
 */
export function Author({ name, trip, flagged = false }: { name: string; trip: string | null; flagged?: boolean }) {
  const [open, setOpen] = useState(false);
  const color = nameColor(colorSeed(name, trip));
  const style = { "--name-light": color.light, "--name-dark": color.dark } as CSSProperties;
  const about = trip ? `${name} ${tripBadge(trip)}` : `${name}: unverified, no identity`;
  return (
    <span className="author" style={style}>
      <button
        type="button"
        className="author__name"
        dir="auto"
        title={about}
        aria-expanded={open}
        aria-label={about}
        onClick={() => setOpen((value) => !value)}
      >
        {name}
      </button>
      {open && trip ? <span className="author__trip">{tripBadge(trip)}</span> : null}
      {trip === null ? (
        <span className="tag tag--unverified" title="Connected without an identity key: anyone could use this name">
          unverified
        </span>
      ) : null}
      {flagged ? (
        <span className="tag tag--new-identity" title="When you last saw this name here, it belonged to another identity">
          new identity
        </span>
      ) : null}
    </span>
  );
}
