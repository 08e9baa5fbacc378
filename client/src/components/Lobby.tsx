import { lazy, Suspense, useEffect, useId, useRef, useState, type FormEvent } from "react";

import { useChat } from "../chat/ChatProvider";
import { splitNickname } from "../chat/identity";
import { nicknameProblem, roomNameProblem } from "../chat/protocol";
import { useSecondsUntil } from "./Composer";

// Collapsed until asked for, so fetched after the lobby shows (keeps the first file small).
const IdentityPanel = lazy(() => import("./IdentityPanel").then((module) => ({ default: module.IdentityPanel })));

const REFRESH_MS = 5000;

export const PRODUCT_NAME = "Murmur";
export const PRODUCT_LINE = "Chat rooms for a quick conversation: no account, just a nickname.";

/**
 * The front door: what this is, a nickname and a room, and the rooms people are in
 * now. A refused join is shown at the field that needs changing (kept as typed, with
 * the focus on it), announced once, with a countdown when the server says how long.
 */
export function Lobby({
  nickname,
  onNicknameChange,
  initialRoom,
  onJoin,
  deriving,
}: {
  nickname: string;
  onNicknameChange: (nickname: string) => void;
  initialRoom: string;
  onJoin: (room: string) => void;
  /** A #password is being turned into an identity key (a second or so). */
  deriving: boolean;
}) {
  const { state, actions } = useChat();
  const [room, setRoom] = useState(initialRoom);
  const [submitted, setSubmitted] = useState(false);
  const nicknameId = useId();
  const roomId = useId();
  const nicknameInput = useRef<HTMLInputElement>(null);
  const roomInput = useRef<HTMLInputElement>(null);
  const refusal = state.joinRefusal;
  const secondsLeft = useSecondsUntil(refusal?.until ?? null);
  const waiting = refusal?.until !== null && refusal?.until !== undefined && secondsLeft > 0;
  const joining = state.pendingFocus !== null || deriving;
  const typed = splitNickname(nickname);
  const nameProblem = nicknameProblem(typed.name, state.limits.max_username_length);
  const nicknameError = nameProblem ?? (refusal?.field === "nickname" ? refusal.message : null);
  const suggestion = !nameProblem && refusal?.field === "nickname" ? refusal.suggestion : null;
  const roomError =
    roomNameProblem(room.trim()) ?? (refusal?.field === "room" ? refusal.message : null);
  const formError = refusal?.field === "form" ? refusal : null;
  const connected = state.status === "connected";

  useEffect(() => {
    if (!connected) return;
    actions.refreshRooms();
    const timer = window.setInterval(actions.refreshRooms, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [connected, actions]);

  // Focus goes where the person's next move is: the nickname if there is none yet
  // (a deep link waiting for one, a first visit), else the room.
  useEffect(() => {
    const target = nicknameProblem(splitNickname(nickname).name) ? nicknameInput : roomInput;
    target.current?.focus();
    // On arrival only; refusals move the focus below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    if (!refusal) return;
    (refusal.field === "nickname" ? nicknameInput : roomInput).current?.focus();
  }, [refusal]);

  function join(name: string) {
    setSubmitted(true);
    if (nameProblem) {
      nicknameInput.current?.focus();
      return;
    }
    if (roomNameProblem(name)) {
      roomInput.current?.focus();
      return;
    }
    if (waiting) return;
    onJoin(name);
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    join(room.trim());
  }

  const showNicknameError = nicknameError && (submitted || nickname.length > 0 || refusal);
  const showRoomError = roomError && (submitted || room.length > 0 || refusal);

  return (
    <section className="lobby" aria-labelledby="lobby-title">
      <div className="lobby__intro">
        <h2 id="lobby-title" className="lobby__title">
          {initialRoom ? `Join #${initialRoom}` : `Welcome to ${PRODUCT_NAME}`}
        </h2>
        <p className="lobby__tagline">{PRODUCT_LINE}</p>
        <p className="lobby__welcome">
          Pick a nickname and a room name, and you are in: anyone who knows the room's name or
          link can join you. Nobody else can take your nickname in a room while you are there (or
          for a few minutes after you drop out), and a badge beside it tells people it is you.
        </p>
      </div>
      <form className="lobby__form" onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor={nicknameId}>Nickname</label>
          <input
            ref={nicknameInput}
            id={nicknameId}
            value={nickname}
            autoComplete="nickname"
            maxLength={64}
            dir="auto"
            aria-invalid={showNicknameError ? true : undefined}
            aria-describedby={`${nicknameId}-hint${showNicknameError ? ` ${nicknameId}-error` : ""}`}
            onChange={(event) => {
              onNicknameChange(event.target.value);
              if (refusal?.field === "nickname") actions.dismissJoinRefusal();
            }}
          />
          <p id={`${nicknameId}-hint`} className="field__hint">
            {typed.password !== null
              ? `You'll join as ${typed.name || "…"}, with the identity your password makes: the same badge on any device. The password stays in this browser.`
              : "Tip: nickname#password gives you the same badge on any device; the password stays in this browser."}
          </p>
          {showNicknameError ? (
            <p id={`${nicknameId}-error`} className="field__error" role={refusal?.field === "nickname" ? "alert" : undefined}>
              {nicknameError}{" "}
              {suggestion ? (
                <button
                  type="button"
                  className="link-button"
                  onClick={() => {
                    onNicknameChange(typed.password !== null ? `${suggestion}#${typed.password}` : suggestion);
                    actions.dismissJoinRefusal();
                    nicknameInput.current?.focus();
                  }}
                >
                  Use {suggestion}
                </button>
              ) : null}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor={roomId}>Room name</label>
          <input
            ref={roomInput}
            id={roomId}
            value={room}
            placeholder="e.g. lobby"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            enterKeyHint="go"
            aria-invalid={showRoomError ? true : undefined}
            aria-describedby={showRoomError ? `${roomId}-error` : undefined}
            onChange={(event) => {
              setRoom(event.target.value);
              if (refusal?.field === "room") actions.dismissJoinRefusal();
            }}
          />
          {showRoomError ? (
            <p id={`${roomId}-error`} className="field__error" role={refusal?.field === "room" ? "alert" : undefined}>
              {roomError}
            </p>
          ) : null}
        </div>
        {formError ? (
          <p className={formError.code === "knocking" ? "lobby__status" : "lobby__error"} role={formError.code === "knocking" ? "status" : "alert"}>
            {formError.message}
            {waiting ? ` You can try again in ${secondsLeft} s.` : null}
            {formError.code === "room_locked" ? (
              <>
                {" "}
                <button
                  type="button"
                  className="link-button"
                  onClick={() => actions.knock(formError.room, typed.name || "anon")}
                >
                  Knock to ask a moderator to let you in
                </button>
              </>
            ) : null}
          </p>
        ) : null}
        <button type="submit" className="button button--primary" disabled={joining || waiting}>
          {deriving ? "Making your identity…" : joining ? (connected ? "Joining…" : "Joining when back online…") : "Join"}
        </button>
      </form>
      <Suspense fallback={null}>
        <IdentityPanel />
      </Suspense>
      <div className="lobby__rooms-block">
        <h3 className="lobby__subtitle">Listed rooms with people in them</h3>
        <p className="lobby__hint">
          Rooms are private unless their owner lists them here: a room you make is found only by its
          name or link, and the first person with a badge to join it owns it.
        </p>
        {state.lobbyRooms.length === 0 ? (
          <p className="lobby__empty">
            {!connected
              ? "Waiting for the server…"
              : state.lobbyRoomsLoaded
                ? "No listed room has people in it right now. Start a room: type a name above."
                : "Looking for rooms…"}
          </p>
        ) : (
          <ul className="lobby__rooms">
            {state.lobbyRooms.map((active) => (
              <li key={active.room}>
                <button type="button" className="lobby__room" onClick={() => join(active.room)}>
                  <span className="lobby__room-name" dir="auto">
                    #{active.room}
                    {active.topic ? <span className="lobby__topic">{active.topic}</span> : null}
                    {active.owner_name ? <span className="lobby__owner">owned by {active.owner_name}</span> : null}
                  </span>
                  <span className="lobby__count">
                    {active.count} {active.count === 1 ? "person" : "people"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
