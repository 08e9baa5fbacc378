import {
  memo,
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
} from "react";

import { useChatTools } from "../chat/ChatProvider";
import type { ChatMessage, ShownError } from "../chat/chatReducer";
import { COMMAND_HELP, completeName, namesStartingWith, parseLine } from "../chat/commands";
import { mentionAt } from "../chat/mentions";
import { splitNickname } from "../chat/identity";
import { nicknameProblem, roomNameProblem } from "../chat/protocol";

const COUNTER_FROM = 0.8;
/** The composer grows with its text up to this many pixels, then scrolls. */
const MAX_HEIGHT_PX = 160;

/** Seconds left of a rate limit, ticking while it lasts. */
export function useSecondsUntil(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
}

/** Phones and tablets: Enter makes a new line, and the Send button sends. */
function touchFirst(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia("(pointer: coarse)").matches;
}

export function overLimitText(over: number): string {
  return `${over} ${over === 1 ? "character" : "characters"} too long`;
}

/** `/nick newname`: the new name, "" for a bare `/nick`, or null for a message. */
export function nickCommand(text: string): string | null {
  const match = /^\/nick(?:\s+([\s\S]*))?$/i.exec(text.trim());
  return match ? (match[1] ?? "").trim() : null;
}

/** What the composer says about a command it could not do (or `/help`). */
interface CommandProblem {
  message: string;
  suggestion: string | null;
  help?: boolean;
}

/** A message the next send answers (`reply`) or replaces (`edit`). */
export interface ComposeTarget {
  mode: "reply" | "edit";
  message: ChatMessage;
}

/**
 * Write a message. The draft lives here (and in the draft store while you look at
 * other rooms), not in the chat state: typing re-renders the composer alone. Enter
 * sends and Shift+Enter breaks the line (on touch screens Enter breaks the line and
 * the Send button sends). While the server rate-limits us, what you send waits in
 * the timeline, in order, and goes out when the limit ends.
 */
export interface ComposerProps {
  room: string;
  maxLength: number;
  /** While the server rate-limits us (ms since epoch), or null. */
  limitedUntil: number | null;
  error: ShownError | null;
  offline: boolean;
  /** Your name here (shown for `/me` and completed last). */
  username: string;
  /** Everyone's names here, for Tab completion. */
  names: readonly string[];
  target: ComposeTarget | null;
  onTarget: (target: ComposeTarget | null) => void;
  /** ↑ in an empty composer: your last message here, to edit (null when none). */
  lastOwnMessage: () => ChatMessage | null;
  /** `/mod`: open the room's moderation panel; why not, when it cannot. */
  onModerationPanel: () => string | null;
}

export const Composer = memo(function Composer({
  room,
  maxLength: limit,
  limitedUntil,
  error: shownError,
  offline,
  username,
  names,
  target,
  onTarget,
  lastOwnMessage,
  onModerationPanel,
}: ComposerProps) {
  const { actions, drafts } = useChatTools();
  const [text, setText] = useState(() => drafts.get(room));
  const completion = useRef({ base: "", caret: 0, skip: 0, source: "", sourceCaret: 0 });
  const [command, setCommand] = useState<CommandProblem | null>(null);
  // Where the caret is, for the names offered while an `@name` is being typed.
  const [caret, setCaret] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const inputId = useId();
  const length = [...text.trim()].length;
  const tooLong = length > limit;
  const secondsLeft = useSecondsUntil(limitedUntil);
  const limited = limitedUntil !== null && secondsLeft > 0;
  const canSend = length > 0 && !tooLong;
  const error = shownError && (shownError.room === null || shownError.room === room) ? shownError : null;
  // A command being typed: the commands it could be, with what they do.
  const commandHints =
    text.startsWith("/") && !/\s/u.test(text) && !text.startsWith("//")
      ? COMMAND_HELP.filter((entry) => entry.usage.startsWith(text.toLowerCase()) && entry.usage !== "//text")
      : [];
  const typingName = mentionAt(text, caret);
  const offered = typingName ? namesStartingWith(names, typingName.prefix).slice(0, 6) : [];

  // The person's next move is to type: the composer takes focus when a room opens,
  // and when they choose to reply to or edit a message.
  useEffect(() => {
    input.current?.focus({ preventScroll: true });
  }, [room, target]);

  // Editing starts from the message's text; the draft comes back afterwards.
  // (Adjusted while rendering, as React's docs advise for state that follows props.)
  const [editing, setEditing] = useState<{ target: ComposeTarget | null; draft: string | null }>({
    target: null,
    draft: null,
  });
  if (editing.target !== target) {
    if (target?.mode === "edit") {
      setEditing({ target, draft: editing.draft ?? text });
      setText(target.message.message);
    } else {
      setEditing({ target, draft: null });
      if (editing.draft !== null) setText(editing.draft);
    }
  }

  // Grow with the text, up to a limit.
  useLayoutEffect(() => {
    const element = input.current;
    if (!element) return;
    element.style.height = "auto";
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [text]);

  function update(value: string) {
    setText(value);
    if (target?.mode !== "edit") drafts.set(room, value);
    const isCommand = value.trimStart().startsWith("/");
    actions.setTyping(room, value.trim().length > 0 && !isCommand);
    if (error && error.code !== "rate_limited") actions.dismissError();
    if (command) setCommand(null);
  }

  /** `/nick name` renames you here; never sent as a message (a #password never
   * leaves this browser by mistake). */
  async function rename(wanted: string) {
    const name = wanted.normalize("NFKC");
    if (splitNickname(name).password !== null) {
      setCommand({ message: "A #password changes who you are: use it in the lobby's nickname field.", suggestion: null });
      return;
    }
    const problem = name ? nicknameProblem(name) : "Type /nick and your new name, e.g. /nick alice.";
    if (problem) {
      setCommand({ message: problem, suggestion: null });
      return;
    }
    const outcome = await actions.rename(room, name);
    if (outcome.ok) {
      setCommand(null);
      if (nickCommand(drafts.get(room)) !== null) update("");
      return;
    }
    setCommand({ message: outcome.error.message, suggestion: outcome.error.suggestion ?? null });
  }

  function cleared() {
    update("");
    actions.setTyping(room, false);
  }

  async function saveEdit(message: ChatMessage) {
    if (text.trim() === message.message) {
      onTarget(null);
      return;
    }
    if (await actions.editMessage(room, message.id, text.trim())) {
      onTarget(null);
    }
  }

  function send() {
    if (target?.mode === "edit") {
      if (canSend) void saveEdit(target.message);
      return;
    }
    const line = parseLine(text.trim());
    switch (line.kind) {
      case "nick":
        actions.setTyping(room, false);
        void rename(line.name);
        return;
      case "problem":
        setCommand({ message: line.message, suggestion: null });
        return;
      case "help":
        setCommand({ message: "", suggestion: null, help: true });
        update("");
        return;
      case "leave":
        cleared();
        actions.leaveRoom(room);
        return;
      case "join": {
        const problem = roomNameProblem(line.room);
        if (problem) {
          setCommand({ message: problem, suggestion: null });
          return;
        }
        cleared();
        void actions.joinRoom(line.room.toLowerCase(), username);
        return;
      }
      case "moderate":
        actions.setTyping(room, false);
        void actions.moderate(room, line.event, line.payload).then((ok) => {
          if (ok) cleared();
        });
        return;
      case "moderation_panel": {
        const problem = onModerationPanel();
        if (problem) setCommand({ message: problem, suggestion: null });
        else cleared();
        return;
      }
      case "whisper":
        if ([...line.text].length > limit) return;
        void actions.whisper(room, line.to, line.text).then((ok) => {
          if (ok) cleared();
        });
        return;
      case "action":
      case "message": {
        if (!canSend || [...line.text].length === 0) return;
        actions.sendMessage(room, line.text, {
          kind: line.kind === "action" ? "action" : undefined,
          replyTo: target?.mode === "reply" ? target.message.id : undefined,
        });
        if (target) onTarget(null);
        cleared();
      }
    }
  }

  function complete(event: KeyboardEvent<HTMLTextAreaElement>): boolean {
    const element = event.currentTarget;
    const state = completion.current;
    const again = element.value === state.base && element.selectionStart === state.caret;
    const skip = again ? state.skip + 1 : 0;
    const source = again ? state.source : element.value;
    const sourceCaret = again ? state.sourceCaret : element.selectionStart;
    const done = completeName(source, sourceCaret, names, skip);
    if (!done) return false;
    completion.current = { base: done.text, caret: done.caret, skip, source, sourceCaret };
    update(done.text);
    window.requestAnimationFrame(() => element.setSelectionRange(done.caret, done.caret));
    return true;
  }

  function pickName(name: string) {
    const typing = mentionAt(text, caret);
    if (!typing) return;
    const next = `${text.slice(0, typing.start)}@${name} ${text.slice(caret)}`;
    const at = typing.start + name.length + 2;
    update(next);
    setCaret(at);
    const element = input.current;
    element?.focus();
    window.requestAnimationFrame(() => element?.setSelectionRange(at, at));
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.nativeEvent.isComposing) return;
    if (event.key === "Tab" && !event.shiftKey && complete(event)) {
      event.preventDefault();
      return;
    }
    if (event.key === "Escape" && target) {
      event.preventDefault();
      onTarget(null);
      return;
    }
    if (event.key === "ArrowUp" && text === "" && !target) {
      const last = lastOwnMessage();
      if (last) {
        event.preventDefault();
        onTarget({ mode: "edit", message: last });
      }
      return;
    }
    if (event.key !== "Enter" || event.shiftKey) return;
    if (touchFirst()) return; // a new line; the Send button sends
    event.preventDefault();
    send();
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    send();
    input.current?.focus();
  }

  return (
    <form className="composer" onSubmit={onSubmit}>
      {target ? (
        <div className="composer__target" role="status">
          <span className="composer__target-text" dir="auto">
            {target.mode === "edit" ? "Editing your message" : `Replying to ${target.message.username}: `}
            {target.mode === "reply" ? <q>{target.message.message.slice(0, 80)}</q> : null}
          </span>
          <button type="button" className="link-button" onClick={() => onTarget(null)}>
            Cancel (Esc)
          </button>
        </div>
      ) : null}
      <label htmlFor={inputId} className="visually-hidden">
        Message #{room}
      </label>
      {offered.length > 0 ? (
        <ul className="composer__names" aria-label="Names here (Tab completes the first)">
          {offered.map((name) => (
            <li key={name}>
              <button type="button" className="composer__name" onClick={() => pickName(name)}>
                @{name}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="composer__row">
        <textarea
          ref={input}
          id={inputId}
          className="composer__input"
          rows={1}
          value={text}
          dir="auto"
          enterKeyHint="send"
          placeholder={offline ? "Offline: messages are sent when you're back" : `Message #${room}`}
          aria-invalid={tooLong ? true : undefined}
          aria-describedby={`${inputId}-status`}
          onChange={(event) => {
            update(event.target.value);
            setCaret(event.target.selectionStart);
          }}
          onSelect={(event) => setCaret(event.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
          onBlur={() => actions.setTyping(room, false)}
        />
        <button type="submit" className="button button--primary composer__send" disabled={!canSend}>
          {target?.mode === "edit" ? "Save" : "Send"}
        </button>
      </div>
      <div id={`${inputId}-status`} className="composer__status">
        {length >= limit * COUNTER_FROM ? (
          <span className={`composer__counter ${tooLong ? "composer__counter--over" : ""}`}>
            {tooLong ? overLimitText(length - limit) : `${length} / ${limit}`}
          </span>
        ) : null}
        {limited ? (
          <span className="composer__error" role="status">
            You're sending too fast. Your messages go out in {secondsLeft} s.
          </span>
        ) : commandHints.length > 0 && !command ? (
          <span className="composer__hints">
            {commandHints.map((entry) => (
              <span key={entry.usage} className="composer__hint">
                <code>{entry.usage}</code> {entry.what}
              </span>
            ))}
          </span>
        ) : command?.help ? (
          <span className="composer__help" role="status">
            <dl className="commands">
              {COMMAND_HELP.map((entry) => (
                <div key={entry.usage}>
                  <dt>
                    <code>{entry.usage}</code>
                  </dt>
                  <dd>{entry.what}</dd>
                </div>
              ))}
            </dl>
            <button type="button" className="link-button" onClick={() => setCommand(null)}>
              Close
            </button>
          </span>
        ) : command ? (
          <span className="composer__error" role="alert">
            {command.message}
            {command.suggestion ? (
              <button type="button" className="link-button" onClick={() => void rename(command.suggestion ?? "")}>
                Use {command.suggestion}
              </button>
            ) : null}
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
});
