import { lazy, Suspense, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import { useChat } from "../chat/ChatProvider";
import { isLimited, type Room } from "../chat/chatReducer";
import { roleOf, type Member } from "../chat/protocol";
import { roomLink } from "../chat/hashRoute";
import { Composer, type ComposeTarget } from "./Composer";
import { MessageActionsContext, type MessageActions } from "./messageActions";
import { ConnectionBadge } from "./ConnectionBadge";
import { MembersPanel } from "./MembersPanel";
import { MessageList } from "./MessageList";
import type { RoomMemory } from "./roomMemory";
import { TypingIndicator } from "./TypingIndicator";

// Only owners and moderators ever open it: fetched then.
const ModerationPanel = lazy(() => import("./ModerationPanel").then((module) => ({ default: module.ModerationPanel })));

const WIDE_SCREEN = "(min-width: 900px)";

function isWideScreen(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia(WIDE_SCREEN).matches;
}

/** Copies the room's link; says so for two seconds. */
function useCopyLink(room: string): [boolean, () => Promise<void>] {
  const [copied, setCopied] = useState(false);
  async function copy() {
    const link = roomLink(room);
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      window.prompt("Copy this link:", link);
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 2000);
  }
  return [copied, copy];
}

/** On phones the header's actions live in this menu: one line for the header. */
function RoomMenu({
  onCopy,
  onMembers,
  onModeration,
  onLeave,
  copied,
}: {
  onCopy: () => void;
  onMembers: () => void;
  /** Present for owners and moderators. */
  onModeration: (() => void) | null;
  onLeave: () => void;
  copied: boolean;
}) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);

  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLButtonElement>("button")?.focus();
    function onPointer(event: PointerEvent) {
      if (!menu.current?.contains(event.target as Node) && event.target !== button.current) setOpen(false);
    }
    document.addEventListener("pointerdown", onPointer);
    return () => document.removeEventListener("pointerdown", onPointer);
  }, [open]);

  function choose(action: () => void) {
    setOpen(false);
    action();
  }

  return (
    <div
      className="room-menu"
      onKeyDown={(event) => {
        if (event.key === "Escape" && open) {
          event.stopPropagation();
          setOpen(false);
          button.current?.focus();
        }
      }}
    >
      <button
        ref={button}
        type="button"
        className="button button--icon"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label="Room actions"
        onClick={() => setOpen((value) => !value)}
      >
        ⋯
      </button>
      {open ? (
        <ul ref={menu} className="room-menu__list" role="menu">
          <li role="none">
            <button type="button" role="menuitem" onClick={() => choose(onCopy)}>
              {copied ? "Link copied" : "Copy link"}
            </button>
          </li>
          <li role="none">
            <button type="button" role="menuitem" onClick={() => choose(onMembers)}>
              Members
            </button>
          </li>
          {onModeration ? (
            <li role="none">
              <button type="button" role="menuitem" onClick={() => choose(onModeration)}>
                Moderation
              </button>
            </li>
          ) : null}
          <li role="none">
            <button type="button" role="menuitem" className="danger" onClick={() => choose(onLeave)}>
              Leave room
            </button>
          </li>
        </ul>
      ) : null}
    </div>
  );
}

/** One room: a one-line header, the messages, who is typing, the composer, members. */
export function RoomView({ room, memory }: { room: Room; memory: RoomMemory }) {
  const { state, actions } = useChat();
  const [membersOpen, setMembersOpen] = useState(isWideScreen);
  const [copied, copyLink] = useCopyLink(room.name);
  const [moderating, setModerating] = useState(false);
  // Each opening (also of a panel already open) puts the focus on its heading.
  const [moderationOpenings, setModerationOpenings] = useState(0);
  const membersButton = useRef<HTMLButtonElement>(null);
  const typingNames = Object.values(room.typing).map((t) => t.username);
  const count = room.members.length;

  const { mySids, trip } = state;
  const myRole = roleOf(room.info ?? undefined, trip);
  const canModerate = myRole !== "member" && room.info !== null;
  const waitingRequests = room.knocks.length + room.reports.length;
  const openModeration = useCallback(() => {
    if (!canModerate) return "Only the room's owner and moderators have a moderation panel.";
    setModerating(true);
    setModerationOpenings((count) => count + 1);
    return null;
  }, [canModerate]);
  const isMe = useCallback(
    (member: Member) => mySids.includes(member.sid) || (Boolean(trip) && member.trip === trip),
    [mySids, trip],
  );

  const [target, setTarget] = useState<ComposeTarget | null>(null);
  const jump = state.jump?.room === room.name ? state.jump : null;
  const voter = trip ?? state.sid;
  const editWindowMs = state.limits.edit_window_seconds * 1000;
  const roomName = room.name;
  const messageActions = useMemo<MessageActions>(
    () => ({
      reply: (message) => setTarget({ mode: "reply", message }),
      edit: (message) => setTarget({ mode: "edit", message }),
      remove: (message) => void actions.deleteMessage(roomName, message.id),
      react: (message, emoji, on) => void actions.react(roomName, message.id, emoji, on),
      jumpTo: (id) => actions.jumpTo(roomName, id),
      report: (message, reason) => actions.report(roomName, message.id, reason),
      voter,
      canEdit: (message) => Date.now() - message.timestamp < editWindowMs,
    }),
    [actions, roomName, voter, editWindowMs],
  );
  // ↑ edits your newest message here that can still be edited.
  const messagesRef = useRef(room.messages);
  useLayoutEffect(() => {
    messagesRef.current = room.messages;
  });
  const lastOwnMessage = useCallback(() => {
    const list = messagesRef.current;
    for (let i = list.length - 1; i >= 0; i--) {
      const message = list[i];
      if (message && isMe(message) && !message.deleted) {
        return messageActions.canEdit(message) ? message : null;
      }
    }
    return null;
  }, [isMe, messageActions]);
  const names = useMemo(() => room.members.map((member) => member.username), [room.members]);

  const closeMembers = useCallback(() => {
    setMembersOpen(false);
    if (!isWideScreen()) membersButton.current?.focus();
  }, []);

  return (
    <section
      className="room"
      aria-labelledby="room-title"
      onKeyDown={(event) => {
        if (event.key === "Escape" && membersOpen && !isWideScreen()) closeMembers();
      }}
    >
      <header className="room__header">
        <h2 id="room-title" className="room__title" dir="auto">
          #{room.name}
        </h2>
        {room.info?.locked ? (
          <span className="room__flag" title="Locked: only people it lets in can join">
            🔒<span className="visually-hidden">Locked</span>
          </span>
        ) : null}
        {room.info?.raid_mode ? (
          <span className="room__flag" title="Raid mode: newcomers prove they are people and start on probation">
            🛡️<span className="visually-hidden">Raid mode</span>
          </span>
        ) : null}
        {room.info?.slow_seconds ? (
          <span className="room__flag" title={`Slow mode: one message every ${room.info.slow_seconds} s`}>
            🐢<span className="visually-hidden">Slow mode, {room.info.slow_seconds} s</span>
          </span>
        ) : null}
        <button
          ref={membersButton}
          type="button"
          className="room__count"
          aria-expanded={membersOpen}
          aria-controls="members-panel"
          onClick={() => setMembersOpen((open) => !open)}
        >
          {count} {count === 1 ? "person" : "people"}
        </button>
        <ConnectionBadge status={state.status} compact />
        <div className="room__actions room__actions--wide">
          {canModerate ? (
            <button type="button" className="button" aria-expanded={moderating} onClick={() => (moderating ? setModerating(false) : void openModeration())}>
              {waitingRequests > 0 ? `Moderation (${waitingRequests})` : "Moderation"}
            </button>
          ) : null}
          <button type="button" className="button" onClick={() => void copyLink()}>
            {copied ? "Link copied" : "Copy link"}
          </button>
          <button type="button" className="button button--danger" onClick={() => actions.leaveRoom(room.name)}>
            Leave
          </button>
        </div>
        <div className="room__actions room__actions--narrow">
          <RoomMenu
            copied={copied}
            onCopy={() => void copyLink()}
            onMembers={() => setMembersOpen(true)}
            onModeration={canModerate ? () => void openModeration() : null}
            onLeave={() => actions.leaveRoom(room.name)}
          />
        </div>
      </header>
      {room.info && (room.info.topic || room.info.owner_name) ? (
        <p className="room__topic" dir="auto">
          {room.info.topic ? <span className="room__topic-text">{room.info.topic}</span> : null}
          {room.info.owner_name ? <span className="room__owner">owned by {room.info.owner_name}</span> : null}
        </p>
      ) : null}
      <div className="room__body">
        <div className="room__main">
          <MessageActionsContext.Provider value={messageActions}>
            <MessageList key={`messages-${room.name}`} room={room} memory={memory} jump={jump} />
          </MessageActionsContext.Provider>
          <TypingIndicator names={typingNames} />
          <Composer
            key={`composer-${room.name}`}
            room={room.name}
            maxLength={state.limits.max_message_length}
            limitedUntil={isLimited(state) ? state.limitedUntil : null}
            error={state.error}
            offline={state.status !== "connected"}
            username={room.username}
            names={names}
            target={target}
            onTarget={setTarget}
            lastOwnMessage={lastOwnMessage}
            onModerationPanel={openModeration}
          />
        </div>
        <MembersPanel
          room={room.name}
          members={room.members}
          isMe={isMe}
          myName={room.username}
          newIdentities={room.newIdentities}
          info={room.info}
          myRole={myRole}
          ignored={state.ignored}
          open={membersOpen}
          onClose={closeMembers}
        />
        {moderating && canModerate && room.info ? (
          <Suspense fallback={null}>
            <ModerationPanel
              room={room.name}
              info={room.info}
              myRole={myRole}
              openings={moderationOpenings}
              knocks={room.knocks}
              reports={room.reports}
              onClose={() => setModerating(false)}
            />
          </Suspense>
        ) : null}
      </div>
    </section>
  );
}
