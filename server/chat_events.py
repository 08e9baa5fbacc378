"""Every Socket.IO event handler of the chat.

Each handler follows the same steps: validate the payload, change the store,
notify the room, return the acknowledgement. Before any of that, `_guarded` charges
the request to the connection's rate limit, so a refused request has no effect.
The handlers are registered on the underlying python-socketio server rather than
through Flask-SocketIO's decorator: an anonymous chat needs no Flask session, and
skipping the per-event app and request context is the cheapest per-message saving
there is. `_guarded` turns a refused request into an `error` event plus an error
ack, and anything unexpected into `internal_error`, so no exception or traceback
ever reaches a client.
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
from admission import Admission
from client_address import Network, client_address
from message_batches import MessageBatches
from metrics import ChatMetrics
from protocol import ChatError
from rate_limit import ScoreLimiter
from rooms import Membership, NotAMember, RoomStore, StoreUnavailable

log = logging.getLogger("chat.events")

Handler = Callable[[str, Any], Any]

# A connection's typing notices reach the room at most this often.
TYPING_MIN_INTERVAL = 1.0


def channel(room: str) -> str:
    """The Socket.IO room for a chat room; the prefix keeps names apart from sids."""
    return f"room:{room}"


def batch_channel(room: str) -> str:
    """The Socket.IO room of a chat room's members that accept `messages` batches."""
    return f"batch:{room}"


def channels(room: str) -> list[str]:
    """Everyone in a chat room, whichever way they take messages."""
    return [channel(room), batch_channel(room)]


def anonymous_name() -> str:
    return f"anon-{secrets.token_hex(2)}"


def now_ms() -> int:
    return int(time.time() * 1000)


class ConnectionGuards:
    """The limits a connection lives under: rate, address, rooms."""

    def __init__(
        self,
        limiter: ScoreLimiter,
        admission: Admission,
        trusted_proxies: tuple[Network, ...],
        max_rooms_per_connection: int,
    ) -> None:
        self.limiter = limiter
        self.admission = admission
        self.trusted_proxies = trusted_proxies
        self.max_rooms = max_rooms_per_connection


class ChatEvents:
    """The chat's handlers, bound to one Socket.IO server and one room store."""

    def __init__(
        self,
        sio: socketio.Server,
        store: RoomStore,
        limits: protocol.Limits,
        guards: ConnectionGuards,
        sweep_interval: float,
        metrics: ChatMetrics | None = None,
    ) -> None:
        self._metrics = metrics or ChatMetrics()
        self._sio = sio
        self._store = store
        self._limits = limits
        self._guards = guards
        self._sweep_interval = sweep_interval
        self._sweeper_started = False
        self._sweeper_lock = threading.Lock()
        self._addresses: dict[str, str] = {}  # addresses[sid] = client address
        self._batching: set[str] = set()  # sids that accept `messages` batches
        self.batches = MessageBatches(sio, batch_channel)
        # With several nodes a room's members may be on any of them.
        self._members_elsewhere = isinstance(sio.manager, socketio.PubSubManager)
        self._typing_at: dict[str, dict[str, float]] = {}  # [sid][room] = monotonic

    def drain(self) -> int:
        """Take every local connection out of its rooms, telling the rooms.

        Used on shutdown, so other nodes show the right presence at once; the
        clients then reconnect to a node that is still running.
        """
        self.batches.flush_all()
        sids = list(self._addresses)
        for sid in sids:
            for membership in self._store.leave_all(sid):
                self.announce_left(membership)
        return len(sids)

    def connection_counts(self) -> dict[str, int]:
        """Per-connection state held by the handlers, for tests and metrics."""
        return {
            "addresses": len(self._addresses),
            "typing": len(self._typing_at),
            "batching": len(self._batching),
        }

    def register(self) -> None:
        """Attach every handler to the server; called once by the app factory."""
        self._sio.on("connect", self.on_connect)
        self._sio.on("disconnect", self.on_disconnect)
        for event in protocol.CLIENT_EVENTS:
            self._sio.on(event, self._guarded(event, getattr(self, f"on_{event}")))
        self._sio.on("*", self.on_unknown_event)

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """A client connected: tell it its sid, the server clock and the limits.

        A connection over its address's limits gets an `error` saying why, and is
        closed. One whose auth announces `messages` gets room messages in batches.
        """
        self._start_sweeper_once()
        address = client_address(environ, self._guards.trusted_proxies)
        refusal = self._guards.admission.admit(address)
        if refusal is not None:
            log.warning("refused connection sid=%s addr=%s: %s", sid, address, refusal)
            self._refuse(sid, "connect", ChatError(refusal))
            return False
        self._addresses[sid] = address
        if protocol.FEATURE_MESSAGE_BATCHES in protocol.accepted_features(auth):
            self._batching.add(sid)
        self._guards.limiter.open(sid, address)
        log.info("connect sid=%s addr=%s", sid, address)
        connected = {
            "sid": sid,
            "server_time": now_ms(),
            "limits": self._limits.as_dict(),
        }
        self._sio.emit("connected", connected, to=sid)
        return True

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """A client went away: it leaves all its rooms, and each room hears it."""
        try:
            memberships = self._store.leave_all(sid)
            for membership in memberships:
                self.announce_left(membership)
            log.info(
                "disconnect sid=%s reason=%s rooms=%d", sid, reason, len(memberships)
            )
        except Exception:
            log.exception("disconnect cleanup failed sid=%s", sid)
        finally:
            self._batching.discard(sid)
            self._typing_at.pop(sid, None)
            self._guards.limiter.close(sid)
            address = self._addresses.pop(sid, None)
            if address is not None:
                self._guards.admission.release(address)

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
        joined_rooms = self._store.rooms_of(sid)
        if room not in joined_rooms and len(joined_rooms) >= self._guards.max_rooms:
            raise ChatError(
                "too_many_rooms",
                f"You can be in at most {self._guards.max_rooms} rooms at once.",
            )
        membership = self._store.join(room, sid, name)
        if membership.changed:
            # Messages still pending are in the snapshot below: not sent twice.
            self.batches.flush(room)
            self._sio.enter_room(sid, self._channel_of(sid, room))
            self._sio.emit("joined", _membership_payload(membership), to=channels(room))
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
        self.announce_left(membership)
        self._sio.leave_room(sid, self._channel_of(sid, room))
        self._typing_at.get(sid, {}).pop(room, None)
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
            self._metrics.messages_accepted.inc()
            if self._may_have_members(channel(room)):
                self._sio.emit("message", message, to=channel(room))
            if self._may_have_members(batch_channel(room)):
                self.batches.add(room, message)
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
        if typing and not self._typing_due(sid, room):
            return {"ok": True}
        notice = {"room": room, "sid": sid, "username": name, "typing": typing}
        self.batches.flush(room)
        self._sio.emit("typing", notice, to=channels(room), skip_sid=sid)
        return {"ok": True}

    def on_list_rooms(self, sid: str, payload: Any) -> dict[str, Any]:
        """A client asks which rooms are active: it gets `rooms`, busiest first."""
        protocol.require_object(payload, allow_missing=True)
        rooms = {"rooms": self._store.list_rooms(protocol.ROOM_LIST_LIMIT)}
        self._sio.emit("rooms", rooms, to=sid)
        return {"ok": True, **rooms}

    def on_unknown_event(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        """An event outside the contract: refused with `unknown_event`."""
        return self._guarded(event, self._unknown)(sid, *args)

    def _unknown(self, sid: str, payload: Any) -> None:
        raise ChatError("unknown_event")

    def _guarded(self, event: str, handler: Handler) -> Callable[..., Any]:
        limiter = self._guards.limiter
        latency = self._metrics.latency.labels(
            event if event in protocol.CLIENT_EVENTS else "unknown"
        )

        def dispatch(sid: str, *args: Any) -> Any:
            started = time.perf_counter()  # cheaper than latency.time() per event
            try:
                return handle(sid, *args)
            finally:
                latency.observe(time.perf_counter() - started)

        def handle(sid: str, *args: Any) -> Any:
            payload = args[0] if len(args) == 1 else None
            verdict = limiter.charge(sid, self._cost(event, payload))
            if not verdict.allowed:
                self._metrics.rate_limited.inc()
                refusal = ChatError(
                    "rate_limited", retry_after_ms=verdict.retry_after_ms
                )
                ack = self._refuse(sid, event, refusal)
                if verdict.disconnect:
                    log.warning(
                        "disconnecting sid=%s addr=%s: kept sending while rate limited",
                        sid,
                        self._addresses.get(sid),
                    )
                    self._sio.disconnect(sid)
                return ack
            try:
                if len(args) > 1:
                    raise ChatError(
                        "invalid_payload", "Send one JSON object per event."
                    )
                return handler(sid, payload)
            except ChatError as refusal:
                if refusal.code in protocol.BAD_REQUEST_CODES:
                    limiter.charge(sid, limiter.policy.bad_request_cost)
                return self._refuse(sid, event, refusal)
            except StoreUnavailable as error:
                self._metrics.store_errors.inc()
                log.warning("store unavailable event=%s sid=%s: %s", event, sid, error)
                return self._refuse(sid, event, ChatError("unavailable"))
            except Exception:
                log.exception("handler failed event=%s sid=%s", event, sid)
                return self._refuse(sid, event, ChatError("internal_error"))

        dispatch.__name__ = f"dispatch_{event}"
        return dispatch

    def _cost(self, event: str, payload: Any) -> float:
        limiter = self._guards.limiter
        if event == "message" and isinstance(payload, dict):
            text = payload.get("message")
            length = len(text) if isinstance(text, str) else 0
            return limiter.message_cost(length, self._limits.max_message_length)
        if event == "join":
            return limiter.policy.join_cost
        if event == "typing":
            return limiter.policy.typing_cost
        return limiter.policy.request_cost

    def _typing_due(self, sid: str, room: str) -> bool:
        now = time.monotonic()
        rooms = self._typing_at.setdefault(sid, {})
        if now - rooms.get(room, float("-inf")) < TYPING_MIN_INTERVAL:
            return False
        rooms[room] = now
        return True

    def _refuse(self, sid: str, event: str, refusal: ChatError) -> dict[str, Any]:
        log.debug("refused event=%s sid=%s code=%s", event, sid, refusal.code)
        self._metrics.errors.labels(refusal.code).inc()
        try:
            self._sio.emit("error", refusal.error_payload(event), to=sid)
        except Exception:
            log.exception("could not send error event=%s sid=%s", event, sid)
        return refusal.ack()

    def _require_member(self, room: str, sid: str) -> str:
        name = self._store.username_in(room, sid)
        if name is None:
            raise ChatError("not_in_room")
        return name

    def announce_joined(self, membership: Membership) -> None:
        """Tell a room someone is (again) in it; used when presence is restored."""
        self.batches.flush(membership.room)
        self._sio.emit(
            "joined", _membership_payload(membership), to=channels(membership.room)
        )

    def resync_room(self, room: str) -> None:
        """Tell a room's members its last seq, so each fetches what it missed."""
        snapshot = self._store.snapshot(room, limit=0)
        notice = {"room": room, "epoch": snapshot.epoch, "last_seq": snapshot.last_seq}
        self.batches.flush(room)
        self._sio.emit("room_seq", notice, to=channels(room))

    def announce_left(self, membership: Membership) -> None:
        """Tell a room someone left it; also used by the cluster's dead-node reaper."""
        self.batches.flush(membership.room)
        self._sio.emit(
            "left", _membership_payload(membership), to=channels(membership.room)
        )

    def _may_have_members(self, socket_room: str) -> bool:
        """False only when nobody anywhere can be in `socket_room`: saves encoding
        a message for nobody. With several nodes, members may be elsewhere."""
        if self._members_elsewhere:
            return True
        return bool(self._sio.manager.rooms.get("/", {}).get(socket_room))

    def _channel_of(self, sid: str, room: str) -> str:
        return batch_channel(room) if sid in self._batching else channel(room)

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
                self._guards.limiter.forget_old()
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
