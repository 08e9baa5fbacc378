import { lazy, Suspense, useCallback, useEffect, useRef, useState } from "react";

import { useChat } from "./chat/ChatProvider";
import { totalMentions, totalUnread } from "./chat/chatReducer";
import { setFaviconBadge } from "./chat/favicon";
import { hashForRoom, roomFromHash } from "./chat/hashRoute";
import { keyFromPassword, loadIdentity, splitNickname } from "./chat/identity";
import { nicknameProblem, roomNameProblem } from "./chat/protocol";
import { loadNickname, saveNickname } from "./chat/storage";
import { ConnectionBadge } from "./components/ConnectionBadge";
import { ProofStatus } from "./components/ProofStatus";
import { Lobby, PRODUCT_NAME } from "./components/Lobby";
import { RoomList } from "./components/RoomList";
import { createRoomMemory } from "./components/roomMemory";
import { RoomView } from "./components/RoomView";
import "./App.css";

// Opened now and then: its own file, fetched when first shown.
const MentionsView = lazy(() => import("./components/MentionsView").then((m) => ({ default: m.MentionsView })));

/** The page: your rooms, and the lobby or a room; the page itself never scrolls. */
export function App() {
  const { state, actions } = useChat();
  const [nickname, setNickname] = useState(loadNickname);
  const [linkedRoom, setLinkedRoom] = useState(() => roomFromHash(window.location.hash) ?? "");
  const [roomMemory] = useState(createRoomMemory);
  const [deriving, setDeriving] = useState(false);
  const activeRoom = state.activeRoom ? state.rooms[state.activeRoom] : undefined;

  // `name#password`: the password makes the identity key here (and is never sent
  // or saved); the name alone is the nickname.
  const join = useCallback(
    async (room: string) => {
      const typed = splitNickname(nickname);
      const name = typed.name.normalize("NFKC").trim();
      if (typed.password !== null) {
        setDeriving(true);
        try {
          const key = await keyFromPassword(typed.password);
          if (key !== loadIdentity().key) await actions.switchIdentity({ key, origin: "password" });
        } finally {
          setDeriving(false);
        }
      }
      saveNickname(name);
      setNickname(name);
      void actions.joinRoom(room.toLowerCase(), name, { focus: true });
    },
    [nickname, actions],
  );

  // Deep links: #/room/<name> opens that room, asking for a nickname only if none is saved.
  const followHash = useCallback(() => {
    const room = roomFromHash(window.location.hash);
    if (!room) {
      actions.selectRoom(null);
      return;
    }
    const name = room.toLowerCase();
    if (state.rooms[name]?.status === "joined") {
      actions.selectRoom(name);
    } else if (!roomNameProblem(name) && !nicknameProblem(nickname) && splitNickname(nickname).password === null) {
      void join(name);
    } else {
      setLinkedRoom(name);
      actions.selectRoom(null);
    }
  }, [actions, join, nickname, state.rooms]);

  useEffect(() => {
    window.addEventListener("hashchange", followHash);
    return () => window.removeEventListener("hashchange", followHash);
  }, [followHash]);

  // Once, on load: the link the page was opened with.
  const followedInitialHash = useRef(false);
  useEffect(() => {
    if (followedInitialHash.current) return;
    followedInitialHash.current = true;
    // Reading the location once is syncing with an external system, as hashchange is.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (roomFromHash(window.location.hash)) followHash();
  }, [followHash]);

  // The URL follows the current room, so it can be copied and shared. A linked room
  // still waiting for a nickname keeps its link, so a reload still lands there.
  useEffect(() => {
    if (!followedInitialHash.current) return;
    if (state.activeRoom === null && (linkedRoom || state.pendingFocus)) return;
    const hash = hashForRoom(state.activeRoom);
    if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
  }, [state.activeRoom, state.pendingFocus, linkedRoom]);

  // A linked room that has been joined needs no more asking for.
  useEffect(() => {
    // Clearing derived state once the join it waited for is done.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (linkedRoom && state.activeRoom === linkedRoom) setLinkedRoom("");
  }, [linkedRoom, state.activeRoom]);

  // While the tab is hidden, the title and icon count unread messages and mentions.
  const unread = totalUnread(state);
  const mentions = totalMentions(state);
  useEffect(() => {
    const base = activeRoom ? `#${activeRoom.name} · ${PRODUCT_NAME}` : PRODUCT_NAME;
    const counts = mentions > 0 ? `(${unread} · @${mentions}) ` : unread > 0 ? `(${unread}) ` : "";
    document.title = state.hidden ? `${counts}${base}` : base;
    setFaviconBadge(state.hidden ? unread : 0, state.hidden ? mentions : 0);
  }, [state.hidden, unread, mentions, activeRoom]);

  return (
    <div className={`app ${activeRoom ? "app--in-room" : "app--in-lobby"}`}>
      <header className="app__bar">
        <h1 className="app__title">
          <span className="app__logo" aria-hidden="true" />
          {PRODUCT_NAME}
        </h1>
        {activeRoom ? null : <ConnectionBadge status={state.status} />}
      </header>
      <ProofStatus />
      <div className="app__body">
        <RoomList />
        <main className="app__main">
          {state.mentionsView ? (
            <Suspense fallback={null}>
              <MentionsView />
            </Suspense>
          ) : activeRoom ? (
            <RoomView room={activeRoom} memory={roomMemory} />
          ) : (
            <Lobby
              key={linkedRoom}
              nickname={nickname}
              onNicknameChange={setNickname}
              initialRoom={linkedRoom}
              onJoin={(room) => void join(room)}
              deriving={deriving}
            />
          )}
        </main>
      </div>
      <div className="visually-hidden" aria-live="polite" aria-atomic="true">
        <span key={state.announcement.id}>{state.announcement.text}</span>
      </div>
    </div>
  );
}
