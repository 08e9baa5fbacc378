import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type PointerEvent } from "react";
import { Virtuoso, type Components, type ListRange, type VirtuosoHandle } from "react-virtuoso";

import { useChat } from "../chat/ChatProvider";
import { nameKey, type Room } from "../chat/chatReducer";
import { buildTimeline, type TimelineItem } from "../chat/timeline";
import { MessageRow } from "./MessageRow";
import type { RoomMemory } from "./roomMemory";

/** Virtuoso counts item positions from here, so that older ones can be prepended. */
const FIRST_INDEX = 1_000_000;

/** What the list's header and empty state need to know. */
interface ListContext {
  room: string;
  joining: boolean;
  hasEarlier: boolean;
  loadingEarlier: boolean;
  empty: boolean;
  /** The first message held is not the room's first: the server forgot the rest. */
  trimmed: boolean;
}

/** Defined once: Virtuoso remounts parts whose component changes identity. */
const LIST_PARTS: Components<TimelineItem, ListContext> = {
  Header: ({ context }) =>
    context.empty ? null : (
      <div className="messages__start">
        {context.loadingEarlier
          ? "Loading earlier messages…"
          : context.hasEarlier
            ? " "
            : context.trimmed
              ? "Earlier messages are no longer kept."
              : `This is the start of #${context.room}.`}
      </div>
    ),
  EmptyPlaceholder: ({ context }) => (
    <p className="messages__empty">
      {context.joining ? "Joining…" : `No messages in #${context.room} yet. Say hello!`}
    </p>
  ),
};

/** How far (px) the scroller's view is from its end. */
function distanceToEnd(element: HTMLElement): number {
  return element.scrollHeight - element.scrollTop - element.clientHeight;
}

function firstMessageIndex(items: readonly TimelineItem[]): number {
  return items.findIndex((item) => item.kind === "message");
}

/**
 * The room's messages, newest at the bottom, virtualized (10,000 messages cost what
 * a screenful does). It stays at the bottom while you are there, never moves while
 * you read back, loads earlier messages when you scroll to the top, and offers
 * "jump to latest" and "jump to first unread".
 */
/** Show message `id` (a reply's original); `n` makes each request a new one. */
export interface JumpRequest {
  id: string;
  n: number;
}

/** How near the end (px) still counts as at the newest message. */
const BOTTOM_THRESHOLD = 48;

/** A list opened at a row checks this often that the row is at the top... */
const PLACE_CHECK_MS = 150;
/** ...within this many pixels (Virtuoso's first placement, by estimate, is often a
 * few dozen off)... */
const PLACE_TOLERANCE = 2;
/** ...until it has been found there this many checks in a row (a slow device may
 * render no row at all for the first second), or this long has passed. */
const PLACE_SETTLED_CHECKS = 3;
const PLACE_GIVE_UP_MS = 6000;

/** How long a message jumped to stays marked. */
const FLASH_MS = 1600;

export function MessageList({ room, memory, jump = null }: { room: Room; memory: RoomMemory; jump?: JumpRequest | null }) {
  const { state, actions } = useChat();
  const virtuoso = useRef<VirtuosoHandle>(null);
  const { messages, pending, system, epochs, dividerAfter } = room;
  const items = useMemo(
    () =>
      buildTimeline(
        { ...room, messages, pending, system, epochs, dividerAfter },
        state.mySids,
        state.trip,
        state.ignored,
      ),
    // The timeline depends on these parts of the room only (not typing, members...).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [messages, pending, system, epochs, dividerAfter, state.mySids, state.trip, state.ignored],
  );
  const [atBottom, setAtBottom] = useState(true);
  const [dividerAbove, setDividerAbove] = useState(false);
  const [loadingEarlier, setLoadingEarlier] = useState(false);

  // Prepending older messages lowers the first index by as many items as came in
  // front of the message that used to be first: the view does not jump. (State kept
  // from the previous render, as React's docs recommend for derived values.)
  const position = firstMessageIndex(items);
  const firstKey = position >= 0 ? items[position]?.key : undefined;
  const [anchor, setAnchor] = useState({ key: firstKey, position, first: FIRST_INDEX });
  let firstItemIndex = anchor.first;
  if (anchor.key !== firstKey || anchor.position !== position) {
    const moved = anchor.key === undefined ? -1 : items.findIndex((item) => item.key === anchor.key);
    if (moved > anchor.position) firstItemIndex -= moved - anchor.position;
    setAnchor({ key: firstKey, position, first: firstItemIndex });
  }

  const dividerIndex = items.findIndex((item) => item.kind === "divider");
  const [initial] = useState(() => {
    const saved = memory.scroll.get(room.name);
    const savedIndex = saved?.topKey ? items.findIndex((item) => item.key === saved.topKey) : -1;
    if (saved && !saved.atBottom && savedIndex >= 0) return { index: savedIndex, align: "start" as const };
    if (dividerIndex >= 0) return { index: dividerIndex, align: "start" as const };
    return { index: Math.max(0, items.length - 1), align: "end" as const };
  });

  const scroller = useRef<HTMLElement | null>(null);
  /** The item at the top of the view. Virtuoso's range starts a few hundred pixels
   * higher (the rows it renders ahead), so the rows on the page are asked instead. */
  const topItem = useCallback((): number | null => {
    const element = scroller.current;
    if (!element) return null;
    const top = element.getBoundingClientRect().top;
    for (const row of element.querySelectorAll<HTMLElement>("[data-item-index]")) {
      if (row.getBoundingClientRect().bottom > top + 1) return Number(row.dataset.itemIndex) - firstItemIndex;
    }
    return null;
  }, [firstItemIndex]);
  const rememberTop = useCallback(() => {
    const top = topItem();
    if (top === null) return;
    const place = memory.scroll.get(room.name) ?? { atBottom: true, topKey: null };
    memory.scroll.set(room.name, { ...place, topKey: items[top]?.key ?? null });
  }, [items, memory, room.name, topItem]);
  const onRange = useCallback(
    (range: ListRange) => {
      const top = topItem() ?? range.startIndex - firstItemIndex;
      setDividerAbove(dividerIndex >= 0 && top > dividerIndex);
      rememberTop();
    },
    [dividerIndex, firstItemIndex, rememberTop, topItem],
  );
  // Where you were when you left: the range last changed a few rows before that.
  const rememberOnLeaving = useRef(rememberTop);
  useLayoutEffect(() => {
    rememberOnLeaving.current = rememberTop;
  });
  useLayoutEffect(() => () => rememberOnLeaving.current(), []);

  // Whether the person scrolled away from the newest message themselves. Until they
  // do, the list stays at the bottom through anything that changes its height
  // (rows measured, the members panel opening, the keyboard shrinking the view).
  const readingBack = useRef(initial.align === "start");
  // The row the list opened at, until it is in place or the person moves the list.
  const placedBy = useRef<number | null>(initial.align === "start" ? initial.index : null);
  const onUserScroll = useCallback(() => {
    readingBack.current = true;
    placedBy.current = null;
  }, []);
  /** A press on the scrollbar itself (the scroller is the target; rows are its
   * children) is the person scrolling too, until released: a drag that passes the
   * bottom is still theirs, and one released at the bottom is not reading back. */
  const atBottomNow = useRef(true);
  const pressing = useRef(false);
  const onScrollbarPress = useCallback((event: PointerEvent<HTMLElement>) => {
    if (event.target !== event.currentTarget) return;
    readingBack.current = true;
    placedBy.current = null;
    pressing.current = true;
    window.addEventListener(
      "pointerup",
      () => {
        pressing.current = false;
        if (atBottomNow.current) readingBack.current = false;
      },
      { once: true },
    );
  }, []);
  /** To the very end: Virtuoso's own end, then the DOM's (its row sizes are whole
   * pixels, and a few hundred rows of fractions add up to a visible gap). */
  const toBottom = useCallback(() => {
    virtuoso.current?.scrollToIndex({ index: "LAST", align: "end" });
    window.requestAnimationFrame(() => {
      const element = scroller.current;
      if (element && !readingBack.current) element.scrollTop = element.scrollHeight;
    });
  }, []);
  /** Whether the scroller really shows the end. Virtuoso reports "at bottom" before
   * it has placed a list that opens at the first unread (rows not yet measured); taken
   * at its word, that report would stop the list reading from there. */
  const atEnd = useCallback((): boolean => {
    const element = scroller.current;
    return element !== null && distanceToEnd(element) <= BOTTOM_THRESHOLD;
  }, []);
  const keepAtBottom = useCallback(() => {
    if (!readingBack.current) toBottom();
  }, [toBottom]);

  const onBottom = useCallback(
    (bottom: boolean) => {
      if (bottom && !pressing.current && atEnd()) readingBack.current = false;
      atBottomNow.current = bottom;
      setAtBottom(bottom);
      // A list still following the newest message is remembered as at the bottom even
      // while Virtuoso reports otherwise (rows being measured, a page of history just
      // in): coming back must show the first unread, not a place nobody chose.
      const place = memory.scroll.get(room.name) ?? { atBottom: true, topKey: null };
      memory.scroll.set(room.name, { ...place, atBottom: bottom || !readingBack.current });
    },
    [atEnd, memory, room.name],
  );
  /** New rows: followed when the list is at the end and nobody is reading back (one
   * that opened at the first unread and turned out to show the end follows too). */
  const follow = useCallback(
    (bottom: boolean) => {
      if (bottom && readingBack.current && !pressing.current && atEnd()) readingBack.current = false;
      return bottom && !readingBack.current ? ("auto" as const) : false;
    },
    [atEnd],
  );

  const loadEarlier = useCallback(async () => {
    if (!room.hasEarlier || loadingEarlier) return;
    setLoadingEarlier(true);
    try {
      await actions.loadEarlier(room.name);
    } finally {
      setLoadingEarlier(false);
    }
  }, [actions, room.hasEarlier, room.name, loadingEarlier]);

  const jumpToLatest = useCallback(() => {
    readingBack.current = false;
    placedBy.current = null;
    toBottom();
  }, [toBottom]);

  const jumpToUnread = useCallback(() => {
    if (dividerIndex < 0) return;
    readingBack.current = true; // reading from there: new messages must not pull the view
    placedBy.current = null;
    virtuoso.current?.scrollToIndex({ index: dividerIndex, align: "start" });
  }, [dividerIndex]);

  // Opened at the first unread or where you were: Virtuoso places that row by its
  // estimate of the rows above, so once they are measured it is put back at the top.
  // Checked until it has stayed there a few checks running (a slow device may not
  // have drawn a row yet when the first checks come), given up as soon as the person
  // scrolls.
  const firstItemIndexRef = useRef(firstItemIndex);
  useLayoutEffect(() => {
    firstItemIndexRef.current = firstItemIndex;
  });
  useEffect(() => {
    let timer = 0;
    const giveUpAt = performance.now() + PLACE_GIVE_UP_MS;
    const check = (settled: number) => {
      timer = window.setTimeout(() => {
        const index = placedBy.current;
        const element = scroller.current;
        if (index === null || !element) return;
        const row = element.querySelector<HTMLElement>(`[data-item-index="${index + firstItemIndexRef.current}"]`);
        const below = row === null ? null : row.getBoundingClientRect().top - element.getBoundingClientRect().top;
        // A row near the end cannot reach the top: the list at its end is in place.
        const atTheEnd = distanceToEnd(element) <= PLACE_TOLERANCE;
        const inPlace = below !== null && (Math.abs(below) <= PLACE_TOLERANCE || (below > 0 && atTheEnd));
        if (!inPlace) virtuoso.current?.scrollToIndex({ index, align: "start" });
        const now = inPlace ? settled + 1 : 0;
        if (now < PLACE_SETTLED_CHECKS && performance.now() < giveUpAt) check(now);
      }, PLACE_CHECK_MS);
    };
    check(0);
    return () => window.clearTimeout(timer);
  }, []);

  // A reply's quote was clicked: show its original, marked for a moment.
  const itemsRef = useRef(items);
  useLayoutEffect(() => {
    itemsRef.current = items;
  });
  useEffect(() => {
    if (!jump) return;
    const index = itemsRef.current.findIndex((item) => item.key === `m-${jump.id}`);
    if (index < 0) return;
    readingBack.current = true;
    placedBy.current = null;
    const timers: number[] = [];
    // Scrolled to until it is on the page: the list may still be settling (a room
    // just opened measures its rows and places itself first).
    const attempt = (left: number) => {
      virtuoso.current?.scrollToIndex({ index, align: "center" });
      timers.push(
        window.setTimeout(() => {
          const row = scroller.current?.querySelector<HTMLElement>(`[data-id="${CSS.escape(jump.id)}"]`);
          if (row) {
            row.classList.add("row--flash");
            timers.push(window.setTimeout(() => row.classList.remove("row--flash"), FLASH_MS));
          } else if (left > 0) {
            attempt(left - 1);
          }
        }, 120),
      );
    };
    attempt(5);
    return () => timers.forEach((timer) => window.clearTimeout(timer));
  }, [jump]);

  const onRetry = useCallback((id: string) => actions.retryMessage(room.name, id), [actions, room.name]);
  const onDiscard = useCallback((id: string) => actions.discardMessage(room.name, id), [actions, room.name]);

  return (
    <div className="messages">
      <Virtuoso
          ref={virtuoso}
          className="messages__scroller"
          data={items}
          firstItemIndex={firstItemIndex}
          initialTopMostItemIndex={items.length > 0 ? initial : undefined}
          computeItemKey={(_, item) => item.key}
          itemContent={(_, item) => (
            <MessageRow
              item={item}
              username={room.username}
              myTrip={state.trip}
              flagged={item.kind === "message" && room.newIdentities[nameKey(item.message.username)] === true}
              onRetry={onRetry}
              onDiscard={onDiscard}
            />
          )}
          followOutput={follow}
          scrollerRef={(element) => {
            scroller.current = element instanceof HTMLElement ? element : null;
          }}
          atBottomStateChange={onBottom}
          totalListHeightChanged={keepAtBottom}
          onWheel={onUserScroll}
          onTouchMove={onUserScroll}
          onPointerDown={onScrollbarPress}
          onKeyDown={(event) => {
            if (["ArrowUp", "PageUp", "Home"].includes(event.key)) onUserScroll();
          }}
          atBottomThreshold={BOTTOM_THRESHOLD}
          startReached={() => void loadEarlier()}
          rangeChanged={onRange}
          increaseViewportBy={{ top: 600, bottom: 300 }}
          alignToBottom
          tabIndex={0}
          role="log"
          aria-live="off"
          aria-label={`Messages in #${room.name}`}
          context={{
            room: room.name,
            joining: room.status === "joining",
            hasEarlier: room.hasEarlier,
            loadingEarlier,
            empty: items.length === 0,
            trimmed: (room.messages[0]?.seq ?? 1) > 1,
          }}
          components={LIST_PARTS}
        />
      <div className="messages__jumps">
        {dividerAbove ? (
          <button type="button" className="jump" onClick={jumpToUnread}>
            ↑ Jump to first unread
          </button>
        ) : null}
        {!atBottom ? (
          <button type="button" className="jump" onClick={jumpToLatest}>
            Jump to latest ↓
          </button>
        ) : null}
      </div>
    </div>
  );
}
