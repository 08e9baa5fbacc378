import type { Member } from "../chat/protocol";

/** Who is in the room; the current user is marked "(you)". */
export function MembersPanel({
  members,
  mySid,
  open,
}: {
  members: Member[];
  mySid: string | null;
  open: boolean;
}) {
  const sorted = [...members].sort((a, b) => a.username.localeCompare(b.username));
  return (
    <aside
      id="members-panel"
      className={`members ${open ? "members--open" : ""}`}
      aria-label="Members"
    >
      <h3 className="members__title">Members ({members.length})</h3>
      <ul className="members__list">
        {sorted.map((member) => (
          <li key={member.sid} className="members__item">
            {member.username}
            {member.sid === mySid ? <span className="members__you"> (you)</span> : null}
          </li>
        ))}
      </ul>
    </aside>
  );
}
