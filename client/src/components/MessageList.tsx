import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import { useChat } from "../chat/ChatProvider";
import type { Room } from "../chat/chatReducer";
import { buildTimeline, type TimelineItem } from "../chat/timeline";
import { MessageText } from "./MessageText";
import type { RoomMemory } from "./roomMemory";

/** Items rendered at once; older ones come in steps, so 5,000 messages stay fast. */
export const WINDOW_SIZE = 200;
const BOTTOM_SLACK_PX = 48;

function formatTime(timestamp: number): string {
  return new Date(timestamp).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** The room's messages; stays at the bottom unless you scrolled up. */
export function MessageList({ room, savedScroll }: { room: Room; savedScroll: RoomMemory["scroll"] }) {
  const { state, actions } = useChat();
  const items = useMemo(() => buildTimeline(room, state.mySids), [room, state.mySids]);
  const [windowSize, setWindowSize] = useState(WINDOW_SIZE);
  const [hasNew, setHasNew] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(savedScroll.get(room.name)?.atBottom ?? true);
  const heightBeforeGrow = useRef<number | null>(null);
  const lastKey = useRef<string | undefined>(undefined);
  const visible = items.slice(Math.max(0, items.length - windowSize));
  const newestKey = items[items.length - 1]?.key;

  useLayoutEffect(() => {
    const element = scroller.current;
    const saved = savedScroll.get(room.name);
    if (element && saved && !saved.atBottom) element.scrollTop = saved.top;
    else if (element) element.scrollTop = element.scrollHeight;
    return () => {
      if (element) {
        savedScroll.set(room.name, { top: element.scrollTop, atBottom: atBottom.current });
      }
    };
  }, [room.name, savedScroll]);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element || newestKey === lastKey.current) return;
    const first = lastKey.current === undefined;
    lastKey.current = newestKey;
    if (first) return;
    if (atBottom.current) element.scrollTop = element.scrollHeight;
    else setHasNew(true);
  }, [newestKey]);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element || heightBeforeGrow.current === null) return;
    element.scrollTop += element.scrollHeight - heightBeforeGrow.current;
    heightBeforeGrow.current = null;
  }, [windowSize]);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => {
      if (atBottom.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  function onScroll() {
    const element = scroller.current;
    if (!element) return;
    atBottom.current =
      element.scrollHeight - element.scrollTop - element.clientHeight < BOTTOM_SLACK_PX;
    if (atBottom.current) setHasNew(false);
  }

  function showEarlier() {
    heightBeforeGrow.current = scroller.current?.scrollHeight ?? null;
    setWindowSize((size) => size + WINDOW_SIZE);
  }

  function jumpToNewest() {
    const element = scroller.current;
    if (element) element.scrollTop = element.scrollHeight;
    atBottom.current = true;
    setHasNew(false);
  }

  return (
    <div className="messages">
      <div
        ref={scroller}
        className="messages__scroller"
        onScroll={onScroll}
        tabIndex={0}
        role="log"
        aria-label={`Messages in #${room.name}`}
      >
        {items.length > visible.length ? (
          <button type="button" className="link-button messages__earlier" onClick={showEarlier}>
            Show earlier messages
          </button>
        ) : null}
        {items.length === 0 ? (
          <p className="messages__empty">No messages yet. Say hello!</p>
        ) : null}
        <ol className="messages__list">
          {visible.map((item) => (
            <TimelineRow
              key={item.key}
              item={item}
              username={room.username}
              onRetry={(id) => actions.retryMessage(room.name, id)}
              onDiscard={(id) => actions.discardMessage(room.name, id)}
            />
          ))}
        </ol>
      </div>
      {hasNew ? (
        <button type="button" className="messages__new button" onClick={jumpToNewest}>
          New messages ↓
        </button>
      ) : null}
    </div>
  );
}

function TimelineRow({
  item,
  username,
  onRetry,
  onDiscard,
}: {
  item: TimelineItem;
  username: string;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
}) {
  if (item.kind === "system") {
    return <li className="message message--system">{item.line.text}</li>;
  }
  if (item.kind === "message") {
    const { message } = item;
    return (
      <li
        className={`message ${item.mine ? "message--mine" : ""} ${item.grouped ? "message--grouped" : ""}`}
        data-seq={message.seq}
      >
        {item.grouped ? null : (
          <div className="message__meta">
            <span className="message__author">{message.username}</span>
            <time className="message__time" dateTime={new Date(message.timestamp).toISOString()}>
              {formatTime(message.timestamp)}
            </time>
          </div>
        )}
        <div className="message__text">
          <MessageText text={message.message} />
        </div>
      </li>
    );
  }
  const { pending } = item;
  const failed = pending.status === "failed";
  return (
    <li
      className={`message message--mine message--pending ${item.grouped ? "message--grouped" : ""}`}
      aria-busy={!failed}
    >
      {item.grouped ? null : (
        <div className="message__meta">
          <span className="message__author">{username}</span>
        </div>
      )}
      <div className="message__text">
        <MessageText text={pending.text} />
      </div>
      <div className="message__state">
        {failed ? (
          <>
            Not sent: {pending.error}{" "}
            <button type="button" className="link-button" onClick={() => onRetry(pending.clientId)}>
              Retry
            </button>{" "}
            <button type="button" className="link-button" onClick={() => onDiscard(pending.clientId)}>
              Delete
            </button>
          </>
        ) : (
          "Sending…"
        )}
      </div>
    </li>
  );
}
