import { useState } from "react";

import { useChat } from "../chat/ChatProvider";
import type { Room } from "../chat/chatReducer";
import { roomLink } from "../chat/hashRoute";
import { Composer } from "./Composer";
import { ConnectionBadge } from "./ConnectionBadge";
import { MembersPanel } from "./MembersPanel";
import { MessageList } from "./MessageList";
import type { RoomMemory } from "./roomMemory";
import { TypingIndicator } from "./TypingIndicator";

const WIDE_SCREEN = "(min-width: 900px)";

function isWideScreen(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia(WIDE_SCREEN).matches;
}

/** One room: header, messages, who is typing, the composer and the members. */
export function RoomView({ room, memory }: { room: Room; memory: RoomMemory }) {
  const { state, actions } = useChat();
  const [membersOpen, setMembersOpen] = useState(isWideScreen);
  const [copied, setCopied] = useState(false);
  const typingNames = Object.values(room.typing).map((t) => t.username);

  async function copyLink() {
    const link = roomLink(room.name);
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      window.prompt("Copy this link:", link);
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 2000);
  }

  return (
    <section className="room" aria-labelledby="room-title">
      <header className="room__header">
        <div className="room__heading">
          <h2 id="room-title" className="room__title">
            #{room.name}
          </h2>
          <span className="room__count">
            {room.members.length} {room.members.length === 1 ? "member" : "members"}
          </span>
          <ConnectionBadge status={state.status} />
        </div>
        <div className="room__actions">
          <button type="button" className="button" onClick={copyLink}>
            {copied ? "Link copied" : "Copy link"}
          </button>
          <button
            type="button"
            className="button"
            aria-expanded={membersOpen}
            aria-controls="members-panel"
            onClick={() => setMembersOpen((open) => !open)}
          >
            Members
          </button>
          <button type="button" className="button button--danger" onClick={() => actions.leaveRoom(room.name)}>
            Leave
          </button>
        </div>
      </header>
      <div className="room__body">
        <div className="room__main">
          <MessageList key={`messages-${room.name}`} room={room} savedScroll={memory.scroll} />
          <TypingIndicator names={typingNames} />
          <Composer key={`composer-${room.name}`} room={room.name} />
        </div>
        <MembersPanel members={room.members} mySid={state.sid} open={membersOpen} />
      </div>
    </section>
  );
}
