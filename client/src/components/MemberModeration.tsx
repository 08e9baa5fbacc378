import { useRef, useState } from "react";

import { useChatTools } from "../chat/ChatProvider";
import type { Member, Role } from "../chat/protocol";

const RANK: Record<Role, number> = { member: 1, moderator: 2, owner: 3, server_moderator: 4 };

/** What a role is called beside a name; members have no badge. */
export const ROLE_LABEL: Record<Role, string | null> = {
  server_moderator: "staff",
  owner: "owner",
  moderator: "mod",
  member: null,
};

/** Whether someone of role `actor` may act on someone of role `target`. */
export function outranks(actor: Role, target: Role): boolean {
  return RANK[actor] >= RANK.moderator && RANK[actor] > RANK[target];
}

/**
 * A moderator's actions on one member, behind one button so the list stays calm:
 * kick, mute for 10 minutes, ban for an hour; the owner also appoints moderators
 * and hands the room over. Each is announced to the room, never silent.
 */
export function MemberModeration({
  room,
  member,
  role,
  myRole,
  onRemoved,
}: {
  room: string;
  member: Member;
  role: Role;
  myRole: Role;
  /** After a kick or ban, when this entry is gone: where focus goes instead. */
  onRemoved: () => void;
}) {
  const { actions } = useChatTools();
  const [open, setOpen] = useState(false);
  const toggle = useRef<HTMLButtonElement>(null);
  const owner = RANK[myRole] >= RANK.owner;
  const name = member.username;

  function act(run: () => Promise<boolean>, removes = false) {
    setOpen(false);
    void run().then((ok) => {
      if (ok && removes) onRemoved();
      else toggle.current?.focus();
    });
  }

  return (
    <span
      className="member-moderation"
      onKeyDown={(event) => {
        if (event.key === "Escape" && open) {
          event.stopPropagation();
          setOpen(false);
          toggle.current?.focus();
        }
      }}
    >
      <button
        ref={toggle}
        type="button"
        className="link-button member-moderation__toggle"
        aria-expanded={open}
        aria-label={`Moderate ${name}`}
        onClick={() => setOpen((value) => !value)}
      >
        Moderate
      </button>
      {open ? (
        <span className="member-moderation__actions" role="group" aria-label={`Actions on ${name}`}>
          <button type="button" className="button" onClick={() => act(() => actions.moderate(room, "kick", { name }), true)}>
            Kick
          </button>
          <button type="button" className="button" onClick={() => act(() => actions.moderate(room, "mute", { name, minutes: 10 }))}>
            Mute 10 min
          </button>
          <button
            type="button"
            className="button button--danger"
            onClick={() => act(() => actions.moderate(room, "ban", { name, minutes: 60 }), true)}
          >
            Ban 1 h
          </button>
          {owner && member.trip ? (
            <>
              <button
                type="button"
                className="button"
                onClick={() => act(() => actions.moderate(room, "moderator", { name, on: role !== "moderator" }))}
              >
                {role === "moderator" ? "Remove moderator" : "Make moderator"}
              </button>
              <button type="button" className="button" onClick={() => act(() => actions.moderate(room, "hand_over", { name }))}>
                Hand room over
              </button>
            </>
          ) : null}
        </span>
      ) : null}
    </span>
  );
}
