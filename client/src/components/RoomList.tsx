import { useChat } from "../chat/ChatProvider";
import { totalMentions } from "../chat/chatReducer";

/**
 * The rooms you are in, with unread counts, and the way back to the lobby. A
 * column beside the chat on wide screens, a strip of tabs above it on phones.
 */
export function RoomList() {
  const { state, actions } = useChat();
  const mentions = totalMentions(state);
  const inLobby = state.activeRoom === null && !state.mentionsView;
  return (
    <nav className="room-list" aria-label="Your rooms">
      <button
        type="button"
        className={`room-list__item room-list__lobby ${inLobby ? "room-list__item--active" : ""}`}
        aria-current={inLobby ? "page" : undefined}
        onClick={() => actions.selectRoom(null)}
      >
        + Join a room
      </button>
      {state.roomOrder.length > 0 ? (
        <button
          type="button"
          className={`room-list__item ${state.mentionsView ? "room-list__item--active" : ""}`}
          aria-current={state.mentionsView ? "page" : undefined}
          onClick={() => actions.showMentions(true)}
        >
          <span className="room-list__name">@ Mentions</span>
          {mentions > 0 ? (
            <span className="room-list__unread" aria-label={`${mentions} unread`}>
              {mentions > 99 ? "99+" : mentions}
            </span>
          ) : null}
        </button>
      ) : null}
      {state.roomOrder.length === 0 ? (
        <p className="room-list__empty">You are not in any room yet.</p>
      ) : null}
      {state.roomOrder.map((name) => {
        const room = state.rooms[name];
        if (!room) return null;
        const active = state.activeRoom === name;
        return (
          <button
            key={name}
            type="button"
            className={`room-list__item ${active ? "room-list__item--active" : ""}`}
            aria-current={active ? "page" : undefined}
            onClick={() => actions.selectRoom(name)}
          >
            <span className="room-list__name" dir="auto">
              #{name}
            </span>
            {room.status === "joining" ? <span className="room-list__joining">joining…</span> : null}
            {room.unread > 0 ? (
              <span className="room-list__unread" aria-label={`${room.unread} unread`}>
                {room.unread > 99 ? "99+" : room.unread}
              </span>
            ) : null}
          </button>
        );
      })}
    </nav>
  );
}
