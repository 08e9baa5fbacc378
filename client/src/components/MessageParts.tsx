/**
 * The parts of a message row beyond its text: the quote of what it answers, its
 * reactions, and the actions on it (reply, react, edit, delete, copy), shown on
 * hover or keyboard focus, and with the "…" button on touch screens.
 */
import { lazy, Suspense, useId, useState } from "react";

import type { ChatMessage } from "../chat/chatReducer";
import type { ReplyQuote as Quote } from "../chat/protocol";
import { QUICK_REACTIONS, useMessageActions } from "./messageActions";

// Every emoji: its own file (data and all), fetched when first asked for.
const EmojiPicker = lazy(() => import("./EmojiPicker"));

/** What a reply answers; a click shows the original (when it is still here). */
export function ReplyQuote({ quote }: { quote: Quote }) {
  const actions = useMessageActions();
  return (
    <button
      type="button"
      className="reply-quote"
      disabled={quote.deleted === true}
      onClick={() => actions?.jumpTo(quote.id)}
      aria-label={
        quote.deleted ? `Reply to a deleted message of ${quote.username}` : `Reply to ${quote.username}: ${quote.snippet}. Show it`
      }
    >
      <span className="reply-quote__author">↪ {quote.username}</span>{" "}
      <span className="reply-quote__snippet" dir="auto">
        {quote.deleted ? "deleted message" : quote.snippet}
      </span>
    </button>
  );
}

/** Each emoji with its count; yours are pressed, and a click takes yours back. */
export function Reactions({ message }: { message: ChatMessage }) {
  const actions = useMessageActions();
  const reactions = Object.entries(message.reactions ?? {});
  if (reactions.length === 0) return null;
  return (
    <div className="reactions">
      {reactions.map(([emoji, voters]) => {
        const pressed = actions?.voter != null && voters.includes(actions.voter);
        return (
          <button
            key={emoji}
            type="button"
            className="reaction"
            aria-pressed={pressed}
            aria-label={`${emoji} ${voters.length}${pressed ? ", yours: take it back" : ""}`}
            onClick={() => actions?.react(message, emoji, !pressed)}
          >
            <span aria-hidden="true">{emoji}</span> {voters.length}
          </button>
        );
      })}
    </div>
  );
}

/** A report's optional reason, then sent to the room's moderators. */
function ReportForm({ message, onDone }: { message: ChatMessage; onDone: (sent: boolean) => void }) {
  const actions = useMessageActions();
  const [reason, setReason] = useState("");
  const id = useId();
  return (
    <form
      className="report-form"
      onSubmit={(event) => {
        event.preventDefault();
        void actions?.report(message, reason.trim()).then(onDone);
      }}
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onDone(false);
        }
      }}
    >
      <label htmlFor={id}>Why report this message of {message.username}? (optional)</label>
      <input id={id} value={reason} maxLength={300} autoFocus onChange={(event) => setReason(event.target.value)} />
      <button type="submit" className="row__action row__action--danger">
        Send report
      </button>
      <button type="button" className="row__action" onClick={() => onDone(false)}>
        Cancel
      </button>
    </form>
  );
}

/** Reply, react, edit, delete, copy; report someone else's. */
export function MessageToolbar({ message, mine }: { message: ChatMessage; mine: boolean }) {
  const actions = useMessageActions();
  const [picking, setPicking] = useState(false);
  const [browsing, setBrowsing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [copied, setCopied] = useState(false);
  const [reporting, setReporting] = useState<"form" | "sent" | null>(null);
  if (!actions || message.deleted) return null;
  const voter = actions.voter;

  function copy() {
    void navigator.clipboard?.writeText(message.message).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  }

  return (
    <div className="row__actions" role="toolbar" aria-label={`Message from ${message.username}`}>
      <button type="button" className="row__action" onClick={() => actions.reply(message)} title="Reply">
        Reply
      </button>
      <button
        type="button"
        className="row__action"
        aria-expanded={picking}
        onClick={() => setPicking((open) => !open)}
        title="React"
      >
        React
      </button>
      {mine && actions.canEdit(message) ? (
        <button type="button" className="row__action" onClick={() => actions.edit(message)} title="Edit">
          Edit
        </button>
      ) : null}
      {mine ? (
        confirming ? (
          <>
            <button
              type="button"
              className="row__action row__action--danger"
              onClick={() => {
                setConfirming(false);
                actions.remove(message);
              }}
            >
              Delete for everyone
            </button>
            <button type="button" className="row__action" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" className="row__action" onClick={() => setConfirming(true)} title="Delete">
            Delete
          </button>
        )
      ) : null}
      <button type="button" className="row__action" onClick={copy} title="Copy text">
        {copied ? "Copied" : "Copy"}
      </button>
      {mine ? null : reporting === "sent" ? (
        <span className="row__action row__action--done" role="status">
          Reported to the moderators
        </span>
      ) : (
        <button
          type="button"
          className="row__action"
          aria-expanded={reporting === "form"}
          onClick={() => setReporting((open) => (open ? null : "form"))}
          title="Report to the room's moderators"
        >
          Report
        </button>
      )}
      {reporting === "form" ? <ReportForm message={message} onDone={(sent) => setReporting(sent ? "sent" : null)} /> : null}
      {picking ? (
        <div className="reaction-picker" role="group" aria-label="Reactions">
          {QUICK_REACTIONS.map((emoji) => {
            const mineAlready = voter != null && (message.reactions?.[emoji] ?? []).includes(voter);
            return (
              <button
                key={emoji}
                type="button"
                className="reaction-picker__emoji"
                aria-pressed={mineAlready}
                aria-label={`React with ${emoji}`}
                onClick={() => {
                  setPicking(false);
                  actions.react(message, emoji, !mineAlready);
                }}
              >
                {emoji}
              </button>
            );
          })}
          <button
            type="button"
            className="reaction-picker__more"
            aria-expanded={browsing}
            onClick={() => setBrowsing((open) => !open)}
          >
            More…
          </button>
        </div>
      ) : null}
      {picking && browsing ? (
        <Suspense fallback={<p className="emoji-picker emoji-picker--loading">Loading emoji…</p>}>
          <EmojiPicker
            onClose={() => setBrowsing(false)}
            onPick={(emoji) => {
              setBrowsing(false);
              setPicking(false);
              const mineAlready = voter != null && (message.reactions?.[emoji] ?? []).includes(voter);
              actions.react(message, emoji, !mineAlready);
            }}
          />
        </Suspense>
      ) : null}
    </div>
  );
}
