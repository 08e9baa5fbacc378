import { useChat } from "../chat/ChatProvider";

/** The rooms this page has joined, with unread counts, and the way back to the lobby. */
export function RoomList() {
  const { state, actions } = useChat();
  return (
    <nav className="room-list" aria-label="Your rooms">
      <button
        type="button"
        className={`room-list__item ${state.activeRoom === null ? "room-list__item--active" : ""}`}
        aria-current={state.activeRoom === null ? "page" : undefined}
        onClick={() => actions.selectRoom(null)}
      >
        + Join a room
      </button>
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
            <span className="room-list__name">#{name}</span>
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
