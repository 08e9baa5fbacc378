import { useEffect, useRef } from "react";

import { useChat } from "../chat/ChatProvider";
import { recentMentions } from "../chat/chatReducer";
import { Author } from "./Author";
import { Timestamp } from "./MessageRow";
import { RichText } from "./RichText";

/** Recent messages that mention you, across your rooms; each opens its room there. */
export function MentionsView() {
  const { state, actions } = useChat();
  const mentions = recentMentions(state);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="mentions" aria-labelledby="mentions-title">
      <h2 id="mentions-title" className="mentions__title" tabIndex={-1} ref={heading}>
        Mentions of you
      </h2>
      {mentions.length === 0 ? (
        <p className="mentions__empty">Nobody has mentioned you yet. When someone writes @{"your name"}, it shows here.</p>
      ) : (
        <ul className="mentions__list">
          {mentions.map((message) => (
            <li key={`${message.room}-${message.id}`} className="mentions__item">
              <div className="row__meta">
                <span className="mentions__room">#{message.room}</span>
                <Author name={message.username} trip={message.trip ?? null} flagged={false} />
                <Timestamp at={message.timestamp} />
              </div>
              <div className="row__text" dir="auto">
                <RichText text={message.message} myName={state.rooms[message.room]?.username} />
              </div>
              <button type="button" className="link-button" onClick={() => actions.jumpTo(message.room, message.id)}>
                Show in #{message.room}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
