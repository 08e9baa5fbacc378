import { memo, useEffect, useId, useRef, useState, type FormEvent } from "react";

import { useChatTools } from "../chat/ChatProvider";
import { nameKey, personKey } from "../chat/chatReducer";
import { splitNickname } from "../chat/identity";
import { nicknameProblem, roleOf, type Member, type Role, type RoomInfo } from "../chat/protocol";
import type { Ignored } from "../chat/ignore";
import { Author } from "./Author";
import { IgnoredList } from "./IgnoredList";
import { MemberModeration, outranks, ROLE_LABEL } from "./MemberModeration";
import { NotificationSettings } from "./NotificationSettings";

/** Your name in this room, changed in place (as `/nick` does). */
function RenameForm({ room, current, onDone }: { room: string; current: string; onDone: () => void }) {
  const { actions } = useChatTools();
  const [name, setName] = useState(current);
  const [problem, setProblem] = useState<string | null>(null);
  const [suggestion, setSuggestion] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(() => {
    input.current?.select();
  }, []);

  async function rename(wanted: string) {
    const trimmed = wanted.normalize("NFKC").trim();
    const local =
      splitNickname(trimmed).password !== null
        ? "A #password changes who you are: use it in the lobby's nickname field."
        : nicknameProblem(trimmed);
    if (local) {
      setProblem(local);
      input.current?.focus();
      return;
    }
    if (trimmed === current) {
      onDone();
      return;
    }
    setBusy(true);
    const outcome = await actions.rename(room, trimmed);
    setBusy(false);
    if (outcome.ok) {
      onDone();
      return;
    }
    setProblem(outcome.error.message);
    setSuggestion(outcome.error.suggestion ?? null);
    input.current?.focus();
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    void rename(name);
  }

  return (
    <form
      className="rename"
      onSubmit={onSubmit}
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onDone();
        }
      }}
    >
      <label htmlFor={id} className="visually-hidden">
        Your name in #{room}
      </label>
      <input
        ref={input}
        id={id}
        value={name}
        dir="auto"
        maxLength={64}
        autoComplete="off"
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? `${id}-error` : undefined}
        onChange={(event) => {
          setName(event.target.value);
          setProblem(null);
          setSuggestion(null);
        }}
      />
      <div className="rename__actions">
        <button type="submit" className="button button--primary" disabled={busy}>
          {busy ? "Renaming…" : "Rename"}
        </button>
        <button type="button" className="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      {problem ? (
        <p id={`${id}-error`} className="field__error" role="alert">
          {problem}{" "}
          {suggestion ? (
            <button type="button" className="link-button" onClick={() => void rename(suggestion)}>
              Use {suggestion}
            </button>
          ) : null}
        </p>
      ) : null}
    </form>
  );
}

/**
 * Who is in the room, one entry per person (several tabs of one identity are one
 * person); you are marked "(you)" and can rename yourself here, owners and
 * moderators are marked, and moderators act on people from here. Beside the
 * messages on wide screens; on phones a drawer over them, closed with its button
 * or Escape, which keeps focus while it is open.
 */
export const MembersPanel = memo(function MembersPanel({
  room,
  members,
  isMe,
  myName,
  newIdentities,
  info,
  myRole,
  ignored,
  open,
  onClose,
}: {
  room: string;
  members: Member[];
  isMe: (member: Member) => boolean;
  myName: string;
  newIdentities: Record<string, true>;
  info: RoomInfo | null;
  myRole: Role;
  /** People you ignore (their key is personKey()). */
  ignored: Ignored;
  open: boolean;
  onClose: () => void;
}) {
  const { actions } = useChatTools();
  const close = useRef<HTMLButtonElement>(null);
  const renameButton = useRef<HTMLButtonElement>(null);
  const title = useRef<HTMLHeadingElement>(null);
  const [renaming, setRenaming] = useState(false);
  const sorted = [...members].sort((a, b) => a.username.localeCompare(b.username));

  useEffect(() => {
    if (open && window.matchMedia?.("(max-width: 899px)").matches) close.current?.focus();
  }, [open]);

  return (
    <aside id="members-panel" className={`members ${open ? "members--open" : ""}`} aria-label="Members">
      <div className="members__head">
        <h3 ref={title} tabIndex={-1} className="members__title">
          People here ({members.length})
        </h3>
        <button ref={close} type="button" className="button button--icon members__close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      <ul className="members__list">
        {sorted.map((member) => {
          const me = isMe(member);
          const role = roleOf(info ?? undefined, member.trip);
          const label = ROLE_LABEL[role];
          return (
            <li key={personKey(member)} className="members__item">
              <Author name={member.username} trip={member.trip} flagged={newIdentities[nameKey(member.username)] === true} />
              {label ? <span className={`role-badge role-badge--${role}`}>{label}</span> : null}
              {me ? (
                <>
                  <span className="members__you"> (you)</span>{" "}
                  {renaming ? null : (
                    <button ref={renameButton} type="button" className="link-button members__rename" onClick={() => setRenaming(true)}>
                      Rename
                    </button>
                  )}
                </>
              ) : null}
              {me ? null : (
                <button
                  type="button"
                  className="link-button members__ignore"
                  aria-pressed={personKey(member) in ignored}
                  aria-label={`${personKey(member) in ignored ? "Stop ignoring" : "Ignore"} ${member.username}`}
                  onClick={() => actions.ignore(member, !(personKey(member) in ignored))}
                >
                  {personKey(member) in ignored ? "Ignored" : "Ignore"}
                </button>
              )}
              {!me && outranks(myRole, role) ? (
                <MemberModeration
                  room={room}
                  member={member}
                  role={role}
                  myRole={myRole}
                  onRemoved={() => title.current?.focus()}
                />
              ) : null}
              {me && renaming ? (
                <RenameForm
                  room={room}
                  current={myName}
                  onDone={() => {
                    setRenaming(false);
                    window.setTimeout(() => renameButton.current?.focus());
                  }}
                />
              ) : null}
            </li>
          );
        })}
      </ul>
      <NotificationSettings key={room} room={room} />
      <IgnoredList ignored={ignored} />
    </aside>
  );
});
