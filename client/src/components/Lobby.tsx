import { useEffect, useId, useState, type FormEvent } from "react";

import { useChat } from "../chat/ChatProvider";
import { nicknameProblem, roomNameProblem } from "../chat/protocol";

const REFRESH_MS = 5000;

/** Pick a nickname and a room; shows the active rooms, refreshed while open. */
export function Lobby({
  nickname,
  onNicknameChange,
  initialRoom,
  onJoin,
}: {
  nickname: string;
  onNicknameChange: (nickname: string) => void;
  initialRoom: string;
  onJoin: (room: string) => void;
}) {
  const { state, actions } = useChat();
  const [room, setRoom] = useState(initialRoom);
  const [submitted, setSubmitted] = useState(false);
  const nicknameId = useId();
  const roomId = useId();
  const nicknameError = nicknameProblem(nickname, state.limits.max_username_length);
  const roomError = roomNameProblem(room.trim());
  const connected = state.status === "connected";

  useEffect(() => {
    if (!connected) return;
    actions.refreshRooms();
    const timer = window.setInterval(actions.refreshRooms, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [connected, actions]);

  function join(name: string) {
    setSubmitted(true);
    if (nicknameProblem(nickname, state.limits.max_username_length) || roomNameProblem(name)) return;
    onJoin(name);
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    join(room.trim());
  }

  const showNicknameError = nicknameError && (submitted || nickname.length > 0);
  const showRoomError = roomError && (submitted || room.length > 0);

  return (
    <section className="lobby" aria-labelledby="lobby-title">
      <h2 id="lobby-title" className="lobby__title">
        Join a room
      </h2>
      {initialRoom && !nickname ? (
        <p className="lobby__hint">Pick a nickname to join #{initialRoom}.</p>
      ) : null}
      <form className="lobby__form" onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor={nicknameId}>Nickname</label>
          <input
            id={nicknameId}
            value={nickname}
            autoComplete="nickname"
            maxLength={64}
            aria-invalid={showNicknameError ? true : undefined}
            aria-describedby={showNicknameError ? `${nicknameId}-error` : undefined}
            onChange={(event) => onNicknameChange(event.target.value)}
          />
          {showNicknameError ? (
            <p id={`${nicknameId}-error`} className="field__error">
              {nicknameError}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor={roomId}>Room name</label>
          <input
            id={roomId}
            value={room}
            placeholder="e.g. lobby"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            aria-invalid={showRoomError ? true : undefined}
            aria-describedby={showRoomError ? `${roomId}-error` : undefined}
            onChange={(event) => setRoom(event.target.value)}
          />
          {showRoomError ? (
            <p id={`${roomId}-error`} className="field__error" role="alert">
              {roomError}
            </p>
          ) : null}
        </div>
        <button type="submit" className="button button--primary">
          Join
        </button>
      </form>
      <h3 className="lobby__subtitle">Active rooms</h3>
      {state.lobbyRooms.length === 0 ? (
        <p className="lobby__empty">
          {connected ? "No one is chatting right now. Start a room!" : "Waiting for the server…"}
        </p>
      ) : (
        <ul className="lobby__rooms">
          {state.lobbyRooms.map((active) => (
            <li key={active.room}>
              <button type="button" className="lobby__room" onClick={() => join(active.room)}>
                <span>#{active.room}</span>
                <span className="lobby__count">
                  {active.count} {active.count === 1 ? "person" : "people"}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
