"""Every Socket.IO event handler of the chat.

Each handler follows the same steps: validate the payload, change the store, notify
the room, return the acknowledgement. Before any of that the request guard
(guards/request_guard.py) charges it to the connection's rate limit, and afterwards
it turns any refusal into an `error` event plus an error ack, so a refused request
has no effect and no exception ever reaches a client. Handlers are registered on
the underlying python-socketio server rather than through Flask-SocketIO's
decorator: an anonymous chat needs no Flask session, and skipping the per-event app
and request context is the cheapest per-message saving there is.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import socketio

from chat import conversation, identity, protocol
from chat.broadcast import Broadcaster
from chat.connections import Connection, Connections
from chat.protocol import ChatError
from guards.handshake import address_of
from guards.request_guard import ConnectionGuards, RequestGuard
from ops.metrics import ChatMetrics
from state.base import Draft, Member, Membership, NameTaken, NotAMember, RoomStore
from state.changes import Change, ChangeRefused

log = logging.getLogger("chat.events")


def anonymous_name() -> str:
    return f"anon-{secrets.token_hex(2)}"


def now_ms() -> int:
    return int(time.time() * 1000)


class ChatEvents:
    """The chat's handlers, bound to one Socket.IO server and one room store."""

    def __init__(
        self,
        sio: socketio.Server,
        store: RoomStore,
        broadcast: Broadcaster,
        limits: protocol.Limits,
        guards: ConnectionGuards,
        metrics: ChatMetrics,
        close_connection: Callable[[str], None],
        trip_secret: str,
    ) -> None:
        self._sio = sio
        self._trip_secret = trip_secret
        self._store = store
        self._broadcast = broadcast
        self._limits = limits
        self._guards = guards
        self._metrics = metrics
        self.connections = Connections()
        self._guard = RequestGuard(
            guards.limiter,
            metrics,
            send_error=lambda sid, error: broadcast.to_client(sid, "error", error),
            cut_off=close_connection,
            max_message_length=limits.max_message_length,
        )

    def register(self) -> None:
        """Attach every handler to the server; called once by the app factory."""
        self._sio.on("connect", self.on_connect)
        self._sio.on("disconnect", self.on_disconnect)
        for event in protocol.CLIENT_EVENTS:
            self._sio.on(event, self._guard.wrap(event, getattr(self, f"on_{event}")))
        self._sio.on("*", self.on_unknown_event)

    def on_connect(self, sid: str, environ: Any = None, auth: Any = None) -> Any:
        """A client connected: tell it its sid, the server clock and the limits.

        One whose auth announces `messages` gets room messages in batches; one whose
        auth carries an identity key is known by its trip (the key itself is
        neither kept nor logged). An event that a client itself named `connect` is
        refused like any unknown event.
        """
        if environ is None or environ is not self._sio.get_environ(sid):
            return self.on_unknown_event("connect", sid, environ)
        address = address_of(environ)
        batching = protocol.FEATURE_MESSAGE_BATCHES in protocol.accepted_features(auth)
        key = identity.identity_key(auth)
        trip = identity.trip_of(key, self._trip_secret) if key else None
        # Whose client_ids these are: the person (every tab and device of a trip),
        # else the tab's session, else this connection alone.
        session = protocol.session_token(auth)
        if trip:
            scope = f"trip:{trip}"
        else:
            scope = f"session:{session}" if session else f"sid:{sid}"
        self.connections.add(Connection(sid, address, batching, scope, trip))
        self._guards.limiter.open(sid, address)
        log.info("connect sid=%s addr=%s trip=%s", sid, address, trip)
        connected = {
            "sid": sid,
            "trip": trip,
            "server_time": now_ms(),
            "limits": self._limits.as_dict(),
        }
        self._broadcast.to_client(sid, "connected", connected)
        return True

    def on_disconnect(self, sid: str, reason: Any = None) -> Any:
        """A client went away: it leaves all its rooms, and each room hears it.

        An event that a client itself named `disconnect` is refused like any
        unknown event (its connection stays what it was, limits included).
        """
        if self._sio.manager.is_connected(sid, "/"):
            return self.on_unknown_event("disconnect", sid, reason)
        try:
            memberships = self._store.leave_all(sid)
            for membership in memberships:
                if membership.person_changed:
                    self.announce_left(membership, "disconnect")
            log.info(
                "disconnect sid=%s reason=%s rooms=%d", sid, reason, len(memberships)
            )
        except Exception:
            log.exception("disconnect cleanup failed sid=%s", sid)
        finally:
            self.connections.pop(sid)
            self._guards.limiter.close(sid)
        return None

    def on_test_message(self, sid: str, payload: Any) -> dict[str, Any]:
        """A connectivity check: the payload comes straight back as `test_response`."""
        data = protocol.require_object(payload)
        echo: dict[str, Any] = {"message": protocol.required_text(data, "message")}
        timestamp = protocol.optional_number(data, "timestamp")
        if timestamp is not None:
            echo["timestamp"] = timestamp
        response = {"status": "ok", "data": echo, "server_time": now_ms()}
        self._broadcast.to_client(sid, "test_response", response)
        return {"ok": True, **response}

    def on_join(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client enters a room: the room hears `joined`, the joiner `room_state`.

        A name someone else holds here is refused with `nickname_taken` and a free
        suggestion. Another tab of someone already here joins as that person
        (under their name), and the room hears nothing.
        """
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.username(data) or anonymous_name()
        epoch = protocol.optional_string(data, "epoch", 64)
        since = protocol.optional_seq(data, "since")
        self._check_room_cap(sid, room)
        connection = self._connection(sid)
        try:
            membership = self._store.join(room, sid, name, connection.trip)
        except NameTaken as taken:
            raise _name_taken(name, taken) from None
        if membership.changed:
            # Messages still pending are in the snapshot below: not sent twice.
            self._broadcast.enter(sid, room, connection.batching)
            if membership.person_changed:
                self.announce_joined(membership)
            log.info("join sid=%s room=%s count=%d", sid, room, membership.count)
        # Catching up gets everything missed; a plain join the latest page.
        limit = (
            self._limits.history_size if since is not None else self._limits.join_page
        )
        snapshot = self._store.snapshot(room, limit=limit, epoch=epoch, since=since)
        state = {
            "room": room,
            "username": membership.username,
            "trip": membership.trip,
            "members": self._store.members(room),
            "messages": snapshot.messages,
            "epoch": snapshot.epoch,
            "last_seq": snapshot.last_seq,
        }
        self._broadcast.to_client(sid, "room_state", state)
        return {"ok": True, **state}

    def on_leave(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client leaves a room: everyone there, the leaver included, hears `left`
        (only the leaver, when another tab of theirs is still there)."""
        room = protocol.room_name(protocol.require_object(payload))
        membership = self._store.leave(room, sid)
        if membership is None:
            raise ChatError("not_in_room")
        if membership.person_changed:
            self.announce_left(membership, "leave")
        else:
            left = {**_membership_payload(membership), "reason": "leave"}
            self._broadcast.to_client(sid, "left", left)
        connection = self._connection(sid)
        self._broadcast.leave(sid, room, connection.batching)
        connection.typing_at.pop(room, None)
        return {"ok": True, "room": room}

    def on_rename(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member takes a new name in a room (all their tabs there do): the room
        hears `renamed`. The same rules as joining; costs more than most requests."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.username(data)
        if name is None:
            raise ChatError("invalid_username")
        try:
            renamed = self._store.rename(room, sid, name)
        except NotAMember:
            raise ChatError("not_in_room") from None
        except NameTaken as taken:
            raise _name_taken(name, taken) from None
        notice = {
            "room": room,
            "sid": sid,
            "trip": renamed.trip,
            "old": renamed.old,
            "new": renamed.new,
        }
        if renamed.old != renamed.new:
            self._broadcast.to_room("renamed", notice, room)
        return {"ok": True, **notice}

    def on_message(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member says something: it is stored, numbered and sent to the whole room.

        A retry carrying a `client_id` this sender already used is acknowledged with
        the original id and seq, and not broadcast again.
        """
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        text = protocol.message_text(data, self._limits.max_message_length)
        draft = Draft(
            text=text,
            dedupe_scope=self._connection(sid).dedupe_scope,
            client_id=protocol.client_id(data),
            client_timestamp=protocol.optional_number(data, "timestamp"),
            kind=protocol.message_kind(data),
            reply_to=protocol.optional_string(
                data, "reply_to", protocol.MAX_MESSAGE_ID_LENGTH
            ),
            mentions=tuple(self._mentions(room, text)),
        )
        try:
            message, duplicate = self._store.add_message(room, sid, draft)
        except NotAMember:
            raise ChatError("not_in_room") from None
        except ChangeRefused as refused:
            raise ChatError(refused.code) from None
        if not duplicate:
            self._metrics.messages_accepted.inc()
            self._broadcast.message(room, message)
            self._metrics.messages_broadcast.inc()
        log.debug(
            "message sid=%s room=%s seq=%d dup=%s", sid, room, message["seq"], duplicate
        )
        return {
            "ok": True,
            "id": message["id"],
            "seq": message["seq"],
            "timestamp": message["timestamp"],
        }

    def on_edit(self, sid: str, payload: Any) -> dict[str, Any]:
        """The author fixes a message within EDIT_WINDOW_SECONDS: the room hears
        `message_edited`, a numbered event like a message."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        text = protocol.message_text(data, self._limits.max_message_length)
        mentions = self._mentions(room, text)
        change = self._change_of(sid, data, "edit", text=text, mentions=mentions)
        return self._apply_change(sid, room, change)

    def on_delete(self, sid: str, payload: Any) -> dict[str, Any]:
        """The author takes a message back: its text leaves history, a tombstone
        stays, and the room hears `message_deleted`."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        return self._apply_change(sid, room, self._change_of(sid, data, "delete"))

    def on_react(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member adds (`on`) or takes back an emoji on a message: the room hears
        `reaction` with the emoji's new count."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        emoji, on = protocol.emoji(data), protocol.required_bool(data, "on")
        change = self._change_of(sid, data, "react", emoji=emoji, on=on)
        return self._apply_change(sid, room, change)

    def on_whisper(self, sid: str, payload: Any) -> dict[str, Any]:
        """A message to one member of a room, seen only by their connections and
        the sender's; never stored."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        to = protocol.member_name(data, "to")
        text = protocol.message_text(data, self._limits.max_message_length)
        sender = self._require_member(room, sid)
        found = self._store.person_named(room, to)
        if found is None:
            raise ChatError("no_such_member", f"Nobody here is called {to}.")
        target, target_sids = found
        own = self._store.person_named(room, sender.username)
        sender_sids = own[1] if own and own[0].trip == sender.trip else [sid]
        whisper = {
            "room": room,
            "id": f"w-{secrets.token_hex(8)}",
            "sid": sid,
            "username": sender.username,
            "trip": sender.trip,
            "to": {
                "sid": target_sids[0],
                "username": target.username,
                "trip": target.trip,
            },
            "message": text,
            "timestamp": now_ms(),
        }
        for receiver in dict.fromkeys(target_sids + sender_sids):
            self._broadcast.to_connection(receiver, "whisper", whisper)
        return {"ok": True, **whisper}

    def on_history(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member asks for missed messages (`since`) or older ones (`before`)."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        epoch = protocol.optional_string(data, "epoch", 64)
        since = protocol.optional_seq(data, "since")
        before = protocol.optional_seq(data, "before")
        limit = protocol.history_limit(data, self._limits.history_size)
        self._require_member(room, sid)
        snapshot = self._store.snapshot(
            room, limit=limit, epoch=epoch, since=since, before=before
        )
        return {
            "ok": True,
            "room": room,
            "messages": snapshot.messages,
            "epoch": snapshot.epoch,
            "last_seq": snapshot.last_seq,
        }

    def on_typing(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member started or stopped typing: the others in the room are told."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        typing = protocol.required_bool(data, "typing")
        member = self._require_member(room, sid)
        if typing and not self._connection(sid).typing_due(room):
            return {"ok": True}
        notice = {
            "room": room,
            "sid": sid,
            "username": member.username,
            "trip": member.trip,
            "typing": typing,
        }
        self._broadcast.to_room("typing", notice, room, skip_sid=sid)
        return {"ok": True}

    def on_list_rooms(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client asks which rooms are active: it gets `rooms`, busiest first."""
        protocol.require_object(payload, allow_missing=True)
        rooms = {"rooms": self._store.list_rooms(protocol.ROOM_LIST_LIMIT)}
        self._broadcast.to_client(sid, "rooms", rooms)
        return {"ok": True, **rooms}

    def announce_joined(self, membership: Membership) -> None:
        """Tell a room someone is (again) in it; also used when presence is restored."""
        self._broadcast.to_room(
            "joined", _membership_payload(membership), membership.room
        )

    def announce_left(self, membership: Membership, reason: str) -> None:
        """Tell a room someone is gone, and why (protocol.LEAVE_REASONS); also used
        by the cluster's dead-node reaper (`lost`) and on shutdown (`shutdown`)."""
        payload = {**_membership_payload(membership), "reason": reason}
        self._broadcast.to_room("left", payload, membership.room)

    def resync_room(self, room: str) -> None:
        """Tell a room's members its last seq, so each fetches what it missed."""
        snapshot = self._store.snapshot(room, limit=0)
        notice = {"room": room, "epoch": snapshot.epoch, "last_seq": snapshot.last_seq}
        self._broadcast.to_room("room_seq", notice, room)

    def drain(self) -> int:
        """Take every local connection out of its rooms, telling the rooms.

        Used on shutdown, so other nodes show the right presence at once; the
        clients then reconnect to a node that is still running.
        """
        self._broadcast.flush_all()
        sids = self.connections.sids()
        for sid in sids:
            for membership in self._store.leave_all(sid):
                if membership.person_changed:
                    self.announce_left(membership, "shutdown")
        return len(sids)

    def on_unknown_event(self, event: str, sid: str, *args: Any) -> Any:
        """An event outside the contract: refused with `unknown_event`."""
        return self._guard.run(event, self._unknown_event, sid, args)

    def _unknown_event(self, sid: str, payload: Any) -> None:
        raise ChatError("unknown_event")

    def _connection(self, sid: str) -> Connection:
        connection = self.connections.get(sid)
        if connection is None:  # a handler ran for a connection being torn down
            raise ChatError("not_in_room")
        return connection

    def _check_room_cap(self, sid: str, room: str) -> None:
        joined = self._store.rooms_of(sid)
        if room not in joined and len(joined) >= self._guards.max_rooms:
            raise ChatError(
                "too_many_rooms",
                f"You can be in at most {self._guards.max_rooms} rooms at once.",
            )

    def _mentions(self, room: str, text: str) -> list[str]:
        if "@" not in text:  # most messages: no members list fetched
            return []
        return conversation.mentioned(text, self._store.members(room))

    def _change_of(
        self, sid: str, data: dict[str, Any], kind: str, **fields: Any
    ) -> Change:
        return Change(
            kind=kind,
            message_id=protocol.message_id(data),
            dedupe_scope=self._connection(sid).dedupe_scope,
            client_id=protocol.client_id(data),
            **fields,
        )

    def _apply_change(self, sid: str, room: str, change: Change) -> dict[str, Any]:
        try:
            event, duplicate = self._store.change_message(room, sid, change)
        except NotAMember:
            raise ChatError("not_in_room") from None
        except ChangeRefused as refused:
            raise ChatError(refused.code) from None
        if not duplicate:
            self._broadcast.to_room(event["event"], event, room)
        log.debug("%s sid=%s room=%s seq=%d", change.kind, sid, room, event["seq"])
        return {"ok": True, "id": event["id"], "seq": event["seq"]}

    def _require_member(self, room: str, sid: str) -> Member:
        member = self._store.member(room, sid)
        if member is None:
            raise ChatError("not_in_room")
        return member


def _membership_payload(membership: Membership) -> dict[str, Any]:
    return {
        "room": membership.room,
        "sid": membership.sid,
        "username": membership.username,
        "trip": membership.trip,
        "count": membership.count,
    }


def _name_taken(name: str, taken: NameTaken) -> ChatError:
    return ChatError(
        "nickname_taken",
        f"Someone here is already called {name} (or a name that looks the same). "
        f"Try {taken.suggestion}?",
        suggestion=taken.suggestion,
    )
