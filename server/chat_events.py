"""Every Socket.IO event handler of the chat.

Each handler follows the same steps: validate the payload, change the store,
notify the room, return the acknowledgement. The handlers are registered on the
underlying python-socketio server rather than through Flask-SocketIO's decorator:
an anonymous chat needs no Flask session, and skipping the per-event app and
request context is the cheapest per-message saving there is. `_guarded` turns a
refused request into an `error` event plus an error ack, and anything unexpected
into `internal_error`, so no exception or traceback ever reaches a client.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import socketio

import protocol
from protocol import ChatError
from rooms import Membership, NotAMember, RoomStore

log = logging.getLogger("chat.events")

Handler = Callable[[str, Any], Any]


def channel(room: str) -> str:
    """The Socket.IO room for a chat room; the prefix keeps names apart from sids."""
    return f"room:{room}"


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
        limits: protocol.Limits,
        sweep_interval: float,
    ) -> None:
        self._sio = sio
        self._store = store
        self._limits = limits
        self._sweep_interval = sweep_interval
        self._sweeper_started = False
        self._sweeper_lock = threading.Lock()

    def register(self) -> None:
        """Attach every handler to the server; called once by the app factory."""
        self._sio.on("connect", self.on_connect)
        self._sio.on("disconnect", self.on_disconnect)
        for event in protocol.CLIENT_EVENTS:
            self._sio.on(event, self._guarded(event, getattr(self, f"on_{event}")))
        self._sio.on("*", self.on_unknown_event)

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """A client connected: tell it its sid, the server clock and the limits."""
        self._start_sweeper_once()
        log.info("connect sid=%s addr=%s", sid, environ.get("REMOTE_ADDR"))
        connected = {
            "sid": sid,
            "server_time": now_ms(),
            "limits": self._limits.as_dict(),
        }
        self._sio.emit("connected", connected, to=sid)

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """A client went away: it leaves all its rooms, and each room hears it."""
        try:
            memberships = self._store.leave_all(sid)
            for membership in memberships:
                self._announce_left(membership)
            log.info(
                "disconnect sid=%s reason=%s rooms=%d", sid, reason, len(memberships)
            )
        except Exception:
            log.exception("disconnect cleanup failed sid=%s", sid)

    def on_test_message(self, sid: str, payload: Any) -> dict[str, Any]:
        """A connectivity check: the payload comes straight back as `test_response`."""
        data = protocol.require_object(payload)
        if not isinstance(data.get("message"), str):
            raise ChatError("invalid_payload", "'message' must be a string.")
        protocol.optional_number(data, "timestamp")
        response = {"status": "ok", "data": data, "server_time": now_ms()}
        self._sio.emit("test_response", response, to=sid)
        return {"ok": True, **response}

    def on_join(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client enters a room: the room hears `joined`, the joiner `room_state`."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.username(data) or anonymous_name()
        epoch = protocol.optional_string(data, "epoch", 64)
        since = protocol.optional_seq(data, "since")
        membership = self._store.join(room, sid, name)
        if membership.changed:
            self._sio.enter_room(sid, channel(room))
            self._sio.emit("joined", _membership_payload(membership), to=channel(room))
            log.info("join sid=%s room=%s count=%d", sid, room, membership.count)
        snapshot = self._store.snapshot(
            room, limit=self._limits.history_size, epoch=epoch, since=since
        )
        state = {
            "room": room,
            "members": self._store.members(room),
            "messages": snapshot.messages,
            "epoch": snapshot.epoch,
            "last_seq": snapshot.last_seq,
        }
        self._sio.emit("room_state", state, to=sid)
        return {"ok": True, **state}

    def on_leave(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client leaves a room: everyone there, the leaver included, hears `left`."""
        room = protocol.room_name(protocol.require_object(payload))
        membership = self._store.leave(room, sid)
        if membership is None:
            raise ChatError("not_in_room")
        self._announce_left(membership)
        self._sio.leave_room(sid, channel(room))
        return {"ok": True, "room": room}

    def on_message(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member says something: it is stored, numbered and sent to the whole room.

        A retry carrying a `client_id` the room already holds is acknowledged with
        the original id and seq, and not broadcast again.
        """
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        text = protocol.message_text(data, self._limits.max_message_length)
        client_id = protocol.optional_string(
            data, "client_id", protocol.MAX_CLIENT_ID_LENGTH
        )
        client_timestamp = protocol.optional_number(data, "timestamp")
        try:
            message, duplicate = self._store.add_message(
                room, sid, text, client_id, client_timestamp
            )
        except NotAMember:
            raise ChatError("not_in_room") from None
        if not duplicate:
            self._sio.emit("message", message, to=channel(room))
        log.debug(
            "message sid=%s room=%s seq=%d dup=%s", sid, room, message["seq"], duplicate
        )
        return {
            "ok": True,
            "id": message["id"],
            "seq": message["seq"],
            "timestamp": message["timestamp"],
        }

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
        name = self._require_member(room, sid)
        notice = {"room": room, "sid": sid, "username": name, "typing": typing}
        self._sio.emit("typing", notice, to=channel(room), skip_sid=sid)
        return {"ok": True}

    def on_list_rooms(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client asks which rooms are active: it gets `rooms`, busiest first."""
        protocol.require_object(payload, allow_missing=True)
        rooms = {"rooms": self._store.list_rooms(protocol.ROOM_LIST_LIMIT)}
        self._sio.emit("rooms", rooms, to=sid)
        return {"ok": True, **rooms}

    def on_unknown_event(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        """An event outside the contract: refused with `unknown_event`."""
        return self._refuse(sid, event, ChatError("unknown_event"))

    def _guarded(self, event: str, handler: Handler) -> Callable[..., Any]:
        def dispatch(sid: str, *args: Any) -> Any:
            try:
                if len(args) > 1:
                    raise ChatError(
                        "invalid_payload", "Send one JSON object per event."
                    )
                return handler(sid, args[0] if args else None)
            except ChatError as refusal:
                return self._refuse(sid, event, refusal)
            except Exception:
                log.exception("handler failed event=%s sid=%s", event, sid)
                return self._refuse(sid, event, ChatError("internal_error"))

        dispatch.__name__ = f"dispatch_{event}"
        return dispatch

    def _refuse(self, sid: str, event: str, refusal: ChatError) -> dict[str, Any]:
        log.debug("refused event=%s sid=%s code=%s", event, sid, refusal.code)
        try:
            error = protocol.error_payload(refusal.code, refusal.message, event)
            self._sio.emit("error", error, to=sid)
        except Exception:
            log.exception("could not send error event=%s sid=%s", event, sid)
        return protocol.error_ack(refusal.code, refusal.message)

    def _require_member(self, room: str, sid: str) -> str:
        name = self._store.username_in(room, sid)
        if name is None:
            raise ChatError("not_in_room")
        return name

    def _announce_left(self, membership: Membership) -> None:
        self._sio.emit(
            "left", _membership_payload(membership), to=channel(membership.room)
        )

    def _start_sweeper_once(self) -> None:
        with self._sweeper_lock:
            if self._sweeper_started:
                return
            self._sweeper_started = True
        self._sio.start_background_task(self._sweep_idle_rooms)

    def _sweep_idle_rooms(self) -> None:
        while True:
            self._sio.sleep(self._sweep_interval)
            try:
                dropped = self._store.expire_idle_rooms()
                if dropped:
                    log.info("expired %d idle room(s)", dropped)
            except Exception:
                log.exception("idle room sweep failed")


def _membership_payload(membership: Membership) -> dict[str, Any]:
    return {
        "room": membership.room,
        "sid": membership.sid,
        "username": membership.username,
        "count": membership.count,
    }
