import { useChatTools } from "../chat/ChatProvider";
import type { Ignored } from "../chat/ignore";

/** Everyone you ignore, in every room, each with a way back. */
export function IgnoredList({ ignored }: { ignored: Ignored }) {
  const { actions } = useChatTools();
  const people = Object.values(ignored).sort((a, b) => a.name.localeCompare(b.name));
  if (people.length === 0) return null;
  return (
    <section className="ignored" aria-labelledby="ignored-title">
      <h4 id="ignored-title" className="ignored__title">
        Ignored, in every room ({people.length})
      </h4>
      <ul className="ignored__list">
        {people.map((person) => (
          <li key={person.key}>
            <span dir="auto">{person.name}</span>{" "}
            <button
              type="button"
              className="link-button"
              onClick={() =>
                actions.ignore(
                  person.key.startsWith("sid:")
                    ? { sid: person.key.slice(4), trip: null, username: person.name }
                    : { sid: "", trip: person.key, username: person.name },
                  false,
                )
              }
            >
              Stop ignoring
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
