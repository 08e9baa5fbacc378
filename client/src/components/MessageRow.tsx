import { memo, useState, type ReactNode } from "react";

import type { ChatMessage } from "../chat/chatReducer";
import type { TimelineItem } from "../chat/timeline";
import { Author } from "./Author";
import { MessageToolbar, Reactions, ReplyQuote } from "./MessageParts";
import { MessageText } from "./MessageText";
import { RichText } from "./RichText";

function timeOfDay(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fullDate(at: number): string {
  return new Date(at).toLocaleString([], { dateStyle: "full", timeStyle: "medium" });
}

/** The time of a line; hover shows the full date, a tap or long-press spells it out. */
export function Timestamp({ at }: { at: number }) {
  const [open, setOpen] = useState(false);
  const full = fullDate(at);
  return (
    <button
      type="button"
      className="timestamp"
      title={full}
      aria-label={full}
      aria-expanded={open}
      onClick={() => setOpen((value) => !value)}
      onContextMenu={(event) => {
        event.preventDefault(); // a long-press on a phone
        setOpen(true);
      }}
    >
      <time dateTime={new Date(at).toISOString()}>{open ? full : timeOfDay(at)}</time>
    </button>
  );
}

/**
 * A message's row. Its actions are made only while it is hovered or holds focus:
 * a room of thousands of rows does not carry thousands of hidden toolbars. It is
 * focusable (not in the Tab order), so a tap on a phone shows them.
 */
function ActionableRow({
  className,
  message,
  mine,
  children,
}: {
  className: string;
  message: ChatMessage;
  mine: boolean;
  children: ReactNode;
}) {
  const [hovered, setHovered] = useState(false);
  const [focused, setFocused] = useState(false);
  return (
    <div
      className={className}
      data-seq={message.seq}
      data-id={message.id}
      tabIndex={-1}
      onMouseEnter={() => setHovered(true)}
      onMouseLeave={() => setHovered(false)}
      onFocus={() => setFocused(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget)) setFocused(false);
      }}
    >
      {children}
      {hovered || focused ? <MessageToolbar message={message} mine={mine} /> : null}
    </div>
  );
}

interface RowProps {
  item: TimelineItem;
  username: string;
  /** Our trip, for our own unsent messages. */
  myTrip: string | null;
  /** The author's name had another trip when last seen here ("new identity"). */
  flagged: boolean;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
}

/** One line of the timeline. Memoized: a new message re-renders only itself. */
export const MessageRow = memo(function MessageRow({ item, username, myTrip, flagged, onRetry, onDiscard }: RowProps) {
  switch (item.kind) {
    case "date":
      return (
        <div className="row row--date" role="separator">
          <span>{item.label}</span>
        </div>
      );
    case "divider":
      return (
        <div className="row row--divider" role="separator" data-testid="unread-divider">
          <span>New messages</span>
        </div>
      );
    case "system":
      if (item.line.whisper) {
        const { whisper } = item.line;
        return (
          <div className="row row--whisper" data-testid="whisper">
            <div className="row__meta">
              <span className="whisper__label">
                Whisper · {whisper.username} → {whisper.to.username}
              </span>
              <Timestamp at={whisper.timestamp} />
            </div>
            <div className="row__text" dir="auto">
              <RichText text={whisper.message} myName={username} />
            </div>
          </div>
        );
      }
      return (
        <div className="row row--system">
          <span dir="auto">{item.line.text}</span>
          <Timestamp at={item.line.at} />
        </div>
      );
    case "message": {
      const { message } = item;
      const classes = [
        "row",
        "row--message",
        item.mine && "row--mine",
        item.grouped && !message.reply_to && "row--grouped",
        item.mentionsMe && "row--mention",
        message.deleted && "row--deleted",
      ];
      return (
        <ActionableRow className={classes.filter(Boolean).join(" ")} message={message} mine={item.mine}>
          {item.grouped && !message.reply_to ? null : (
            <div className="row__meta">
              <Author name={message.username} trip={message.trip ?? null} flagged={flagged} />
              <Timestamp at={message.timestamp} />
            </div>
          )}
          {message.reply_to ? <ReplyQuote quote={message.reply_to} /> : null}
          <div className="row__text" dir="auto">
            {message.deleted ? (
              <em className="row__tombstone">Message deleted</em>
            ) : message.kind === "action" ? (
              <span className="row__me">
                {message.username} <MessageText text={message.message} myName={username} />
              </span>
            ) : (
              <RichText text={message.message} myName={username} />
            )}
            {message.edited_at && !message.deleted ? (
              <span className="row__edited" title={`Edited ${fullDate(message.edited_at)}`}>
                {" "}
                (edited)
              </span>
            ) : null}
          </div>
          <Reactions message={message} />
        </ActionableRow>
      );
    }
    case "pending": {
      const { pending } = item;
      const classes = ["row", "row--message", "row--mine", "row--pending", item.grouped && "row--grouped"];
      return (
        <div className={classes.filter(Boolean).join(" ")} aria-busy={pending.status !== "failed"}>
          {item.grouped ? null : (
            <div className="row__meta">
              <Author name={username} trip={myTrip} />
            </div>
          )}
          <div className="row__text" dir="auto">
            {pending.kind === "action" ? (
              <span className="row__me">
                {username} <MessageText text={pending.text} />
              </span>
            ) : (
              <MessageText text={pending.text} />
            )}
          </div>
          <div className="row__state">
            {pending.status === "failed" ? (
              <>
                Not sent: {pending.error}{" "}
                <button type="button" className="link-button" onClick={() => onRetry(pending.clientId)}>
                  Retry
                </button>{" "}
                <button type="button" className="link-button" onClick={() => onDiscard(pending.clientId)}>
                  Delete
                </button>
              </>
            ) : pending.status === "held" ? (
              "Waiting: you're sending too fast"
            ) : (
              "Sending…"
            )}
          </div>
        </div>
      );
    }
  }
}, sameRow);

/** Rows are rebuilt on every change; they are the same row while what they show is. */
function sameRow(before: RowProps, after: RowProps): boolean {
  if (before.username !== after.username || before.myTrip !== after.myTrip) return false;
  if (before.flagged !== after.flagged) return false;
  const a = before.item;
  const b = after.item;
  if (a.kind !== b.kind || a.key !== b.key) return false;
  switch (a.kind) {
    case "message":
      return (
        b.kind === "message" &&
        a.message === b.message &&
        a.grouped === b.grouped &&
        a.mine === b.mine &&
        a.mentionsMe === b.mentionsMe
      );
    case "pending":
      return b.kind === "pending" && a.pending === b.pending && a.grouped === b.grouped;
    case "system":
      return b.kind === "system" && a.line === b.line;
    case "date":
      return b.kind === "date" && a.label === b.label;
    case "divider":
      return true;
  }
}
