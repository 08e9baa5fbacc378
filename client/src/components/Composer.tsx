import { useEffect, useId, useState, type FormEvent, type KeyboardEvent } from "react";

import { useChat } from "../chat/ChatProvider";
import { isLimited } from "../chat/chatReducer";

const COUNTER_FROM = 0.8;

/** Seconds left of a rate limit, ticking while it lasts. */
function useSecondsUntil(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
}

/** Write a message: Enter sends, Shift+Enter breaks the line, errors show beside it. */
export function Composer({ room }: { room: string }) {
  const { state, actions } = useChat();
  const text = state.drafts[room] ?? "";
  const inputId = useId();
  const limit = state.limits.max_message_length;
  const length = [...text.trim()].length;
  const tooLong = length > limit;
  const limited = isLimited(state);
  const secondsLeft = useSecondsUntil(limited ? state.limitedUntil : null);
  const canSend = length > 0 && !tooLong && !limited;
  const error =
    state.error && (state.error.room === null || state.error.room === room) ? state.error : null;
  const offline = state.status !== "connected";

  function update(value: string) {
    actions.setDraft(room, value);
    actions.setTyping(room, value.trim().length > 0);
    if (error && error.code !== "rate_limited") actions.dismissError();
  }

  function send() {
    if (!canSend) return;
    actions.sendMessage(room, text.trim());
    actions.setDraft(room, "");
    actions.setTyping(room, false);
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    send();
  }

  return (
    <form className="composer" onSubmit={onSubmit}>
      <label htmlFor={inputId} className="visually-hidden">
        Message #{room}
      </label>
      <div className="composer__row">
        <textarea
          id={inputId}
          className="composer__input"
          rows={1}
          value={text}
          placeholder={offline ? "Offline: messages are sent when you're back" : `Message #${room}`}
          aria-invalid={tooLong ? true : undefined}
          aria-describedby={`${inputId}-status`}
          onChange={(event) => update(event.target.value)}
          onKeyDown={onKeyDown}
          onBlur={() => actions.setTyping(room, false)}
        />
        <button type="submit" className="button button--primary composer__send" disabled={!canSend}>
          Send
        </button>
      </div>
      <div id={`${inputId}-status`} className="composer__status">
        {length >= limit * COUNTER_FROM ? (
          <span className={`composer__counter ${tooLong ? "composer__counter--over" : ""}`}>
            {tooLong ? `${length - limit} characters too long` : `${length} / ${limit}`}
          </span>
        ) : null}
        {limited ? (
          <span className="composer__error" role="status">
            You're sending too fast. You can send again in {secondsLeft} s.
          </span>
        ) : error && error.code !== "rate_limited" ? (
          <span className="composer__error" role="alert">
            {error.message}
            <button type="button" className="link-button" onClick={actions.dismissError}>
              Dismiss
            </button>
          </span>
        ) : null}
      </div>
    </form>
  );
}
