"""In-memory room state: who is in which room, their names, each room's history.

The store of a single process (no REDIS_URL). It knows nothing of Flask or
Socket.IO. Every public method is atomic (one lock), which the threading async mode
needs; under eventlet and gevent the lock is green and never contended across a
yield, since no method yields.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chat.names import name_keys
from state.base import (
    DEDUPE_SECONDS,
    Draft,
    Member,
    Membership,
    Message,
    MessageIds,
    NameTaken,
    NotAMember,
    Renamed,
    Snapshot,
    Then,
    holder_of,
    new_message,
    raising,
    select_history,
    suggest_name,
    wall_clock_ms,
)
from state.changes import (
    Change,
    ChangeRefused,
    apply_change,
    find_message,
    reply_quote,
)
from wire.native_lock import native_lock

# Retries remembered per room at most (the oldest go first): memory stays bounded
# in a room that receives thousands of messages within DEDUPE_SECONDS.
MAX_DEDUPE_PER_ROOM = 10_000


@dataclass
class _Person:
    """Someone in a room (a trip, or one connection without one), or away on lease."""

    username: str
    trip: str | None
    keys: tuple[str, ...]
    sids: list[str] = field(default_factory=list)
    lease_until: float | None = None  # set while away; their name waits for them


@dataclass
class _Room:
    epoch: str
    history: deque[Message]
    members: dict[str, str] = field(default_factory=dict)  # members[sid] = holder
    people: dict[str, _Person] = field(default_factory=dict)  # people[holder]
    names: dict[str, str] = field(default_factory=dict)  # names[name key] = holder
    # recent[dedupe key] = (message, monotonic time it was stored), oldest first
    recent: OrderedDict[str, tuple[Message, float]] = field(default_factory=OrderedDict)
    last_seq: int = 0
    emptied_at: float | None = None

    def present(self) -> int:
        """People here now (not those away on lease)."""
        return sum(1 for person in self.people.values() if person.sids)


class MemoryRoomStore:
    """Membership, names and bounded history for every room, kept in this process."""

    def __init__(
        self,
        history_size: int,
        room_ttl_seconds: float,
        nick_lease_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = wall_clock_ms,
        edit_window_seconds: float = 600.0,
    ) -> None:
        self._history_size = history_size
        self._edit_window_ms = int(edit_window_seconds * 1000)
        self._room_ttl = room_ttl_seconds
        self._lease = nick_lease_seconds
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._lock = native_lock()  # never held while waiting
        self._rooms: dict[str, _Room] = {}  # rooms[name] = _Room
        self._rooms_of: dict[str, set[str]] = {}  # rooms_of[sid] = {room names}
        self._ids = MessageIds()

    def join(
        self, room: str, sid: str, username: str, trip: str | None = None
    ) -> Membership:
        with self._lock:
            state = self._live_room(room)
            now = self._clock()
            known = state.members.get(sid)
            if known is not None:
                current = state.people[known]
                return Membership(
                    room,
                    sid,
                    current.username,
                    state.present(),
                    False,
                    current.trip,
                    False,
                )
            holder = holder_of(sid, trip)
            person = state.people.get(holder)
            if person is not None and person.sids:
                # Another tab of someone already here: the same person, same name.
                person.sids.append(sid)
                self._add(state, room, sid, holder)
                return Membership(
                    room, sid, person.username, state.present(), True, trip, False
                )
            keys = name_keys(username)
            self._check_free(state, keys, holder, username, now)
            if person is not None:
                self._release(state, holder, person)
            state.people[holder] = _Person(username, trip, keys, [sid])
            for key in keys:
                state.names[key] = holder
            self._add(state, room, sid, holder)
            return Membership(room, sid, username, state.present(), True, trip, True)

    def rename(self, room: str, sid: str, username: str) -> Renamed:
        with self._lock:
            state = self._rooms.get(room)
            holder = state.members.get(sid) if state else None
            if state is None or holder is None:
                raise NotAMember(room)
            person = state.people[holder]
            keys = name_keys(username)
            self._check_free(state, keys, holder, username, self._clock())
            old = person.username
            self._release(state, holder, person)
            person.username, person.keys = username, keys
            for key in keys:
                state.names[key] = holder
            return Renamed(room, sid, person.trip, old, username)

    def leave(self, room: str, sid: str, keep_name: bool = False) -> Membership | None:
        with self._lock:
            return self._leave(room, sid, keep_name)

    def evict(self, room: str, sid: str) -> Membership | None:
        return self.leave(room, sid)

    def leave_all(self, sid: str) -> list[Membership]:
        with self._lock:
            rooms = sorted(self._rooms_of.get(sid, ()))
            left = (self._leave(room, sid, keep_name=True) for room in rooms)
            return [membership for membership in left if membership]

    def member(self, room: str, sid: str) -> Member | None:
        with self._lock:
            state = self._rooms.get(room)
            holder = state.members.get(sid) if state else None
            if state is None or holder is None:
                return None
            person = state.people[holder]
            return Member(person.username, person.trip)

    def rooms_of(self, sid: str) -> set[str]:
        with self._lock:
            return set(self._rooms_of.get(sid, ()))

    def members(self, room: str) -> list[dict[str, Any]]:
        with self._lock:
            state = self._rooms.get(room)
            if state is None:
                return []
            return [
                {
                    "sid": person.sids[0],
                    "username": person.username,
                    "trip": person.trip,
                }
                for person in state.people.values()
                if person.sids
            ]

    def add_message_then(self, room: str, sid: str, draft: Draft, then: Then) -> None:
        try:
            answer = self.add_message(room, sid, draft)
        except Exception as error:
            then(raising(error))
            return
        then(lambda: answer)

    def add_message(self, room: str, sid: str, draft: Draft) -> tuple[Message, bool]:
        with self._lock:
            state, person, now, key, retried = self._entry_request(
                room, sid, draft.dedupe_key()
            )
            if retried is not None:
                return retried, True
            message = new_message(
                room, self._ids.next(), sid, draft, self._wall_clock_ms()
            )
            if draft.reply_to is not None:
                index = find_message(list(state.history), draft.reply_to)
                if index is None:
                    raise ChangeRefused("unknown_message")
                message["reply_to"] = reply_quote(state.history[index])
            message["username"] = person.username
            message["trip"] = person.trip
            self._append(state, message, key, now)
            return message, False

    def change_message(
        self, room: str, sid: str, change: Change
    ) -> tuple[Message, bool]:
        with self._lock:
            state, person, now, key, retried = self._entry_request(
                room, sid, change.dedupe_key()
            )
            if retried is not None:
                return retried, True
            replaced, event = apply_change(
                list(state.history),
                change,
                sid,
                person.trip,
                self._wall_clock_ms(),
                self._edit_window_ms,
            )
            for index, entry in replaced.items():
                state.history[index] = entry
            self._append(state, event, key, now)
            return event, False

    def person_named(self, room: str, name: str) -> tuple[Member, list[str]] | None:
        with self._lock:
            state = self._rooms.get(room)
            if state is None:
                return None
            for key in name_keys(name):
                person = state.people.get(state.names.get(key, ""))
                if person is not None and person.sids:
                    return Member(person.username, person.trip), list(person.sids)
            return None

    def snapshot(
        self,
        room: str,
        *,
        limit: int,
        epoch: str | None = None,
        since: int | None = None,
        before: int | None = None,
    ) -> Snapshot:
        with self._lock:
            state = self._rooms.get(room)
            if state is None:
                return Snapshot([], "", 0)
            history = list(state.history)
            return select_history(
                history, state.epoch, state.last_seq, limit, epoch, since, before
            )

    def list_rooms(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            active = [
                (s.present(), name) for name, s in self._rooms.items() if s.members
            ]
        active.sort(key=lambda pair: (-pair[0], pair[1]))
        return [{"room": name, "count": count} for count, name in active[:limit]]

    def expire_idle_rooms(self) -> int:
        with self._lock:
            now = self._clock()
            expired = [name for name, s in self._rooms.items() if self._expired(s)]
            for name in expired:
                del self._rooms[name]
            for state in self._rooms.values():
                for holder, person in list(state.people.items()):
                    if not person.sids and (person.lease_until or 0) <= now:
                        self._release(state, holder, person)
                        del state.people[holder]
            return len(expired)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "rooms": len(self._rooms),
                "members": sum(len(s.members) for s in self._rooms.values()),
                "connections": len(self._rooms_of),
            }

    # -- inside the lock --------------------------------------------------------

    def _check_free(
        self,
        state: _Room,
        keys: tuple[str, ...],
        holder: str,
        username: str,
        now: float,
    ) -> None:
        """Raise NameTaken when a key of `username` is someone else's here."""

        def taken_by_other(key: str) -> bool:
            other = state.names.get(key)
            if other is None or other == holder:
                return False
            person = state.people.get(other)
            if person is None:
                return False
            if person.sids or (person.lease_until or 0) > now:
                return True
            self._release(state, other, person)  # a lease that ran out
            del state.people[other]
            return False

        if any(taken_by_other(key) for key in keys):
            raise NameTaken(
                suggest_name(
                    username,
                    lambda name: not any(taken_by_other(k) for k in name_keys(name)),
                )
            )

    @staticmethod
    def _release(state: _Room, holder: str, person: _Person) -> None:
        for key in person.keys:
            if state.names.get(key) == holder:
                del state.names[key]

    def _entry_request(
        self, room: str, sid: str, key: str | None
    ) -> tuple[_Room, _Person, float, str | None, Message | None]:
        """What adding to `room`'s history needs: (room, sender, now, retry key,
        the entry a retry already made or None). Raises NotAMember."""
        state = self._rooms.get(room)
        holder = state.members.get(sid) if state else None
        if state is None or holder is None:
            raise NotAMember(room)
        now = self._clock()
        self._forget_old_retries(state, now)
        retried = (
            state.recent[key][0] if key is not None and key in state.recent else None
        )
        return state, state.people[holder], now, key, retried

    @staticmethod
    def _append(state: _Room, entry: Message, key: str | None, now: float) -> None:
        """Number `entry` and put it at the end of history (and under its retry key)."""
        state.last_seq += 1
        entry["seq"] = state.last_seq
        if key is not None:
            state.recent[key] = (entry, now)
            if len(state.recent) > MAX_DEDUPE_PER_ROOM:
                state.recent.popitem(last=False)
        state.history.append(entry)

    def _add(self, state: _Room, room: str, sid: str, holder: str) -> None:
        state.members[sid] = holder
        state.emptied_at = None
        self._rooms_of.setdefault(sid, set()).add(room)

    @staticmethod
    def _forget_old_retries(state: _Room, now: float) -> None:
        recent = state.recent
        while recent:
            _, stored_at = next(iter(recent.values()))
            if now - stored_at < DEDUPE_SECONDS:
                return
            recent.popitem(last=False)

    def _live_room(self, room: str) -> _Room:
        state = self._rooms.get(room)
        if state is None or self._expired(state):
            state = _Room(
                epoch=secrets.token_hex(8), history=deque(maxlen=self._history_size)
            )
            self._rooms[room] = state
        return state

    def _expired(self, state: _Room) -> bool:
        return (
            state.emptied_at is not None
            and self._clock() - state.emptied_at >= self._room_ttl
        )

    def _leave(self, room: str, sid: str, keep_name: bool) -> Membership | None:
        state = self._rooms.get(room)
        holder = state.members.pop(sid, None) if state else None
        if state is None or holder is None:
            return None
        rooms = self._rooms_of.get(sid)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[sid]
        person = state.people[holder]
        person.sids.remove(sid)
        gone = not person.sids
        if gone:
            if person.trip and keep_name and self._lease > 0:
                person.lease_until = self._clock() + self._lease
            else:
                self._release(state, holder, person)
                del state.people[holder]
        if not state.members:
            state.emptied_at = self._clock()
        return Membership(
            room, sid, person.username, state.present(), True, person.trip, gone
        )
