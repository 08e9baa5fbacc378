import { memo, useEffect, useRef } from "react";

import type { Member } from "../chat/protocol";
import { Author } from "./MessageRow";

/**
 * Who is in the room; you are marked "(you)". Beside the messages on wide screens;
 * on phones a drawer over them, closed with its button or Escape, which keeps focus
 * while it is open.
 */
export const MembersPanel = memo(function MembersPanel({
  members,
  mySid,
  open,
  onClose,
}: {
  members: Member[];
  mySid: string | null;
  open: boolean;
  onClose: () => void;
}) {
  const close = useRef<HTMLButtonElement>(null);
  const sorted = [...members].sort((a, b) => a.username.localeCompare(b.username));

  useEffect(() => {
    if (open && window.matchMedia?.("(max-width: 899px)").matches) close.current?.focus();
  }, [open]);

  return (
    <aside id="members-panel" className={`members ${open ? "members--open" : ""}`} aria-label="Members">
      <div className="members__head">
        <h3 className="members__title">People here ({members.length})</h3>
        <button ref={close} type="button" className="button button--icon members__close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      <ul className="members__list">
        {sorted.map((member) => (
          <li key={member.sid} className="members__item">
            <Author name={member.username} seed={member.username} />
            {member.sid === mySid ? <span className="members__you"> (you)</span> : null}
          </li>
        ))}
      </ul>
    </aside>
  );
});
