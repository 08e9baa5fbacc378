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
from functools import partial
from typing import Any

import socketio

from chat import conversation, identity, moderation, protocol
from chat.broadcast import Broadcaster
from chat.connections import Connection, Connections
from chat.moderation import Actor, Moderation, Target
from chat.protocol import ChatError
from chat.raid_defence import SERVER, RaidDefence
from chat.raids import ConnectionFlood
from guards.handshake import address_of
from guards.request_guard import ConnectionGuards, RequestGuard
from ops.metrics import ChatMetrics
from state.base import (
    Draft,
    Member,
    Membership,
    NameTaken,
    NotAMember,
    RoomStore,
    Stored,
)
from state.changes import Change, ChangeRefused
from wire.later_acks import InFlight, LaterAck

log = logging.getLogger("chat.events")

MAX_REPORT_REASON = 300


# Fresh names an anonymous joiner is given before its join is refused: one in 600
# is taken in a room of 110 anonymous people (4 hex digits), so two tries all but
# never fail; the fifth would take a room of tens of thousands of them.
ANONYMOUS_NAME_TRIES = 5


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
        moderation: Moderation,
        raids: RaidDefence,
        flood: ConnectionFlood,
        in_flight: InFlight | None = None,
    ) -> None:
        self._sio = sio
        # Set when messages are acknowledged after their round trip to the store
        # (wire/later_acks.py), the connection reading on meanwhile.
        self._in_flight = in_flight
        self._moderation = moderation
        self._raids = raids
        self._flood = flood
        self._policies = moderation.policies
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
            find_connection=self.connections.get,
        )

    def register(self) -> None:
        """Attach every handler to the server; called once by the app factory."""
        self._sio.on("connect", self.on_connect)
        self._sio.on("disconnect", self.on_disconnect)
        for event in protocol.CLIENT_EVENTS:
            handler = getattr(self, f"on_{event}")
            after_proof = event != "solve"  # the proof itself is let through
            self._sio.on(event, self._guard.wrap(event, handler, after_proof))
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
        address_key = moderation.address_key(address, self._trip_secret)
        connection = Connection(sid, address, batching, scope, trip, address_key)
        if self._flood.flooding(now_ms()):
            connection.challenge = self._raids.proof.challenge(f"connect:{sid}")
        self.connections.add(connection)
        self._guards.limiter.open(sid, address)
        self._policies.remember_address(sid, address_key)
        log.info("connect sid=%s addr=%s trip=%s", sid, address, trip)
        connected = {
            "sid": sid,
            "trip": trip,
            "server_time": now_ms(),
            "limits": self._limits.as_dict(),
        }
        if connection.challenge is not None:
            connected["challenge"] = connection.challenge
        self._broadcast.to_client(sid, "connected", connected)
        return True

    def on_disconnect(self, sid: str, reason: Any = None) -> Any:
        """A client went away: it leaves all its rooms, and each room hears it.

        An event that a client itself named `disconnect` is refused like any
        unknown event (its connection stays what it was, limits included).
        """
        if self._sio.manager.is_connected(sid, "/"):
            return self.on_unknown_event("disconnect", sid, reason)
        if self._in_flight is not None:
            self._in_flight.wait(sid)  # its last messages are stored before it leaves
            self._in_flight.forget(sid)
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
            self._forget_address(sid)
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
        (under their name), and the room hears nothing. Someone banned, kicked or
        locked out is refused; the first trip in a room without an owner owns it.
        """
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        chosen = protocol.username(data)
        epoch = protocol.optional_string(data, "epoch", 64)
        since = protocol.optional_seq(data, "since")
        self._check_room_cap(sid, room)
        connection = self._connection(sid)
        policy = self._moderation.admit(
            room, sid, connection.trip, connection.address_key
        )
        probation = self._raids.check_door(
            room, policy, connection.trip, data.get("proof")
        )
        membership = self._enter(room, sid, chosen, connection.trip)
        if membership.changed:
            # Messages still pending are in the snapshot below: not sent twice.
            self._broadcast.enter(sid, room, connection.batching)
            if membership.person_changed:
                self.announce_joined(membership)
            log.info("join sid=%s room=%s count=%d", sid, room, membership.count)
            claimed = self._moderation.arrived(
                room, policy, connection.trip, membership.username
            )
            if claimed is not None:
                policy = claimed
                info = self._moderation.info(room, policy)
                self._broadcast.to_room("room_info", info, room, skip_sid=sid)
            raided = self._raids.joined(room, policy, sid, connection.trip, probation)
            if raided is not None:
                policy = raided
                self._announce_raid(room, raided)
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
            "info": self._moderation.info(room, policy),
        }
        self._broadcast.to_client(sid, "room_state", state)
        return {"ok": True, **state}

    def _enter(
        self, room: str, sid: str, chosen: str | None, trip: str | None
    ) -> Membership:
        """The store's join under the name the joiner chose (refused when someone
        here holds it), or under an anonymous name of the server's, drawn again
        when one is taken: the joiner never asked for that one."""
        name = chosen or anonymous_name()
        draws_left = 0 if chosen else ANONYMOUS_NAME_TRIES - 1
        while True:
            try:
                return self._store.join(room, sid, name, trip)
            except NameTaken as taken:
                if not draws_left:
                    raise _name_taken(name, taken) from None
                draws_left -= 1
                name = anonymous_name()

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

    def on_message(self, sid: str, payload: Any) -> dict[str, Any] | LaterAck:
        """A member says something: it is stored, numbered and sent to the whole room.

        A retry carrying a `client_id` this sender already used is acknowledged with
        the original id and seq, and not broadcast again. With a store that answers
        after a round trip, the ack is a LaterAck: the connection's next message is
        read while this one is being stored.
        """
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        text = protocol.message_text(data, self._limits.max_message_length)
        connection = self._connection(sid)
        self._moderation.check_post(room, sid, connection.trip)
        mentions = self._mentions(room, text)
        self._raids.check_probation(room, sid, connection.trip, text, mentions)
        draft = Draft(
            text=text,
            dedupe_scope=connection.dedupe_scope,
            client_id=protocol.client_id(data),
            client_timestamp=protocol.optional_number(data, "timestamp"),
            kind=protocol.message_kind(data),
            reply_to=protocol.optional_string(
                data, "reply_to", protocol.MAX_MESSAGE_ID_LENGTH
            ),
            mentions=tuple(mentions),
        )
        if self._in_flight is not None:
            later = LaterAck()
            self._store.add_message_then(
                room, sid, draft, partial(self._settle_message, later, sid, room)
            )
            return later
        return self._message_stored(
            sid, room, lambda: self._store.add_message(room, sid, draft)
        )

    def _settle_message(
        self, later: LaterAck, sid: str, room: str, stored: Stored
    ) -> None:
        """The store has answered `later`'s message: its room hears it and its ack
        is built when the ack's way is known too (partials, not lambdas: no Python
        frame of their own, once per message)."""
        later.settle(partial(self._message_stored, sid, room, stored))

    def _message_stored(self, sid: str, room: str, stored: Stored) -> dict[str, Any]:
        """The room hears a message the store has numbered; its sender's ack."""
        try:
            message, duplicate = stored()
        except NotAMember:
            raise ChatError("not_in_room") from None
        except ChangeRefused as refused:
            raise ChatError(refused.code) from None
        if not duplicate:
            self._metrics.messages_accepted.add()
            self._broadcast.message(room, message)
            self._metrics.messages_broadcast.add()
            raided = self._raids.posted(room)
            if raided is not None:
                self._announce_raid(room, raided)
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
        self._moderation.check_post(
            room, sid, self._connection(sid).trip, slow_mode=False
        )
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
        self._moderation.check_post(room, sid, sender.trip)
        self._raids.check_probation(room, sid, sender.trip, text, [])
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
        """A client asks which rooms are active: it gets `rooms`, busiest first.
        Only listed rooms (LIST_ROOMS_DEFAULT, or their owner's choice) are named."""
        protocol.require_object(payload, allow_missing=True)
        rooms = {"rooms": self._listed_rooms()}
        self._broadcast.to_client(sid, "rooms", rooms)
        return {"ok": True, **rooms}

    # -- moderation (chat/moderation.py says who may do what) -----------------------

    def on_kick(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator sends someone out; they may come back after KICK_SECONDS."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        return self._remove(sid, room, protocol.member_name(data, "name"), None)

    def on_ban(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator sends someone out for `minutes`: by trip and address key."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.member_name(data, "name")
        minutes = protocol.number_between(
            data, "minutes", 1, moderation.MAX_BAN_MINUTES
        )
        return self._remove(sid, room, name, minutes)

    def on_unban(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator lifts the bans (and kicks) of someone, by their name."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.member_name(data, "name")
        actor = self._actor(room, sid)
        self._moderation.unban(room, actor, name)
        self._notify(room, "unban", actor, {"target": name})
        return {"ok": True, "room": room, "target": name}

    def on_mute(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator stops someone posting for `minutes` (0: no longer)."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.member_name(data, "name")
        minutes = protocol.number_between(
            data, "minutes", 0, moderation.MAX_BAN_MINUTES
        )
        actor, target = self._actor(room, sid), self._target(room, name)
        _, until = self._moderation.mute(room, actor, target, minutes)
        details: dict[str, Any] = _target_payload(target)
        if minutes:
            details["until"] = until
        self._notify(room, "mute" if minutes else "unmute", actor, details)
        return {"ok": True, "room": room, **details}

    def on_topic(self, sid: str, payload: Any) -> dict[str, Any]:
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        topic = protocol.topic_text(data, moderation.MAX_TOPIC_LENGTH)
        return self._set_room(sid, room, "topic", topic)

    def on_slow_mode(self, sid: str, payload: Any) -> dict[str, Any]:
        """One message per `seconds` per person (0: off); moderators are exempt."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        seconds = protocol.number_between(
            data, "seconds", 0, moderation.MAX_SLOW_SECONDS
        )
        return self._set_room(sid, room, "slow", seconds)

    def on_lock(self, sid: str, payload: Any) -> dict[str, Any]:
        """Locked, only those here now (by trip) and moderators may (re)join."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        return self._set_room(sid, room, "lock", protocol.required_bool(data, "locked"))

    def on_list_room(self, sid: str, payload: Any) -> dict[str, Any]:
        """The owner shows the room in the lobby's list, or takes it out."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        return self._set_room(sid, room, "list", protocol.required_bool(data, "listed"))

    def on_moderator(self, sid: str, payload: Any) -> dict[str, Any]:
        """The owner appoints (`on`) or removes a moderator, a member with a trip."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.member_name(data, "name")
        on = protocol.required_bool(data, "on")
        actor, target = self._actor(room, sid), self._target(room, name)
        policy = self._moderation.appoint(room, actor, target, on)
        action = "moderator" if on else "unmoderator"
        return self._announce_policy(room, policy, actor, action, target)

    def on_hand_over(self, sid: str, payload: Any) -> dict[str, Any]:
        """The owner gives the room to another member with a trip."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.member_name(data, "name")
        actor, target = self._actor(room, sid), self._target(room, name)
        policy = self._moderation.hand_over(room, actor, target)
        return self._announce_policy(room, policy, actor, "hand_over", target)

    def on_knock(self, sid: str, payload: Any) -> dict[str, Any]:
        """Someone kept out of a locked room asks in; its moderators hear `knock`.
        `locked: false` means the room is open: just join."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        name = protocol.username(data) or anonymous_name()
        connection = self._connection(sid)
        knock = self._moderation.knock(room, sid, connection.trip, name)
        if knock is None:
            return {"ok": True, "room": room, "locked": False}
        self._to_moderators(room, "knock", moderation.knock_payload(room, knock))
        return {"ok": True, "room": room, "locked": True, "id": knock.id}

    def on_answer_knock(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator lets a knocker in (`approve`) or not; the knocker hears
        `knock_answered`, the room a `moderation` notice."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        knock_id = protocol.message_id(data)
        approve = protocol.required_bool(data, "approve")
        actor = self._actor(room, sid)
        knock = self._moderation.answer_knock(room, actor, knock_id, approve)
        answer = {"room": room, "approved": approve, "by": actor.username}
        self._broadcast.to_connection(knock.sid, "knock_answered", answer)
        action = "let_in" if approve else "turned_away"
        self._notify(room, action, actor, {"target": knock.username, "knock": knock.id})
        return {"ok": True, **answer}

    def on_report(self, sid: str, payload: Any) -> dict[str, Any]:
        """A member reports a message (with a reason); the room's moderators present
        hear `report`, and find it in `audit_log` later. Costs like a rename."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        message_id = protocol.message_id(data)
        reason = protocol.optional_string(data, "reason", MAX_REPORT_REASON) or ""
        reporter = self._actor(room, sid)
        message = self._message_in_history(room, message_id)
        report = self._moderation.report(room, reporter, message, reason.strip())
        if report is not None:
            self._to_moderators(room, "report", moderation.report_payload(room, report))
        return {"ok": True, "room": room, "id": message_id}

    def on_resolve_report(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator is done with a report."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        report_id = protocol.message_id(data)
        self._moderation.resolve_report(room, self._actor(room, sid), report_id)
        return {"ok": True, "room": room, "id": report_id}

    def on_raid_mode(self, sid: str, payload: Any) -> dict[str, Any]:
        """A moderator turns raid mode on (until turned off) or off."""
        data = protocol.require_object(payload)
        room = protocol.room_name(data)
        on = protocol.required_bool(data, "on")
        actor = self._actor(room, sid)
        policy = self._raids.manual(room, actor, on)
        return self._announce_policy(room, policy, actor, "raid", None, on)

    def on_solve(self, sid: str, payload: Any) -> dict[str, Any]:
        """A connection asked to prove work (connection flood) sends its proof."""
        data = protocol.require_object(payload)
        connection = self._connection(sid)
        if connection.challenge is not None:
            try:
                self._raids.proof.verify(f"connect:{sid}", data.get("proof"))
            except ChatError as refused:
                if refused.code != "challenge_failed":
                    raise
                connection.challenge = self._raids.proof.challenge(f"connect:{sid}")
                raise ChatError(
                    "challenge_failed", refused.message, challenge=connection.challenge
                ) from None
            connection.challenge = None
        return {"ok": True}

    def on_audit_log(self, sid: str, payload: Any) -> dict[str, Any]:
        """Owner and moderators read who did what, and the bans and mutes running."""
        room = protocol.room_name(protocol.require_object(payload))
        audit = self._moderation.audit(room, self._actor(room, sid))
        self._broadcast.to_client(sid, "audit_log", audit)
        return {"ok": True, **audit}

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

    def _listed_rooms(self) -> list[dict[str, Any]]:
        listed, unlisted = self._policies.listing()
        shown = []
        for entry in self._store.list_rooms(protocol.ROOM_LIST_LIMIT * 10):
            name = entry["room"]
            if name in unlisted or (
                name not in listed and not self._moderation.listed_by_default
            ):
                continue
            info = self._moderation.info(name, self._policies.cached(name))
            shown.append(
                {**entry, "topic": info["topic"], "owner_name": info["owner_name"]}
            )
            if len(shown) == protocol.ROOM_LIST_LIMIT:
                break
        return shown

    def _actor(self, room: str, sid: str) -> Actor:
        member = self._require_member(room, sid)
        return Actor(sid, member.username, member.trip)

    def _target(self, room: str, name: str) -> Target:
        found = self._store.person_named(room, name)
        if found is None:
            raise ChatError("no_such_member", f"Nobody here is called {name}.")
        member, sids = found
        keys = []
        for target_sid in sids:
            connection = self.connections.get(target_sid)
            key = (
                connection.address_key
                if connection
                else self._policies.address_key(target_sid)
            )
            if key:
                keys.append(key)
        return Target(member.username, member.trip, tuple(sids), tuple(keys))

    def _remove(
        self, sid: str, room: str, name: str, minutes: int | None
    ) -> dict[str, Any]:
        """Kick (`minutes` None) or ban: every connection of theirs leaves the room,
        and the room, they included, hears `left` with who did it and until when."""
        actor, target = self._actor(room, sid), self._target(room, name)
        _, until = self._moderation.ban(room, actor, target, minutes)
        reason = "kicked" if minutes is None else "banned"
        last = None
        for target_sid in target.sids:
            membership = self._store.evict(room, target_sid)
            if membership is not None and membership.person_changed:
                last = membership
        if last is not None:
            left = {
                **_membership_payload(last),
                "reason": reason,
                "by": actor.username,
                "until": until,
            }
            self._broadcast.to_room("left", left, room)
        for target_sid in target.sids:
            self._broadcast.evict(target_sid, room)
        log.info("%s room=%s target=%s by=%s", reason, room, target.trip, actor.trip)
        return {"ok": True, "room": room, **_target_payload(target), "until": until}

    def _set_room(
        self, sid: str, room: str, setting: str, value: Any
    ) -> dict[str, Any]:
        actor = self._actor(room, sid)
        present = []
        if setting == "lock" and value:
            present = [
                moderation.person_key(m["sid"], m["trip"])
                for m in self._store.members(room)
            ]
        policy = self._moderation.set_room(room, actor, setting, value, present)
        return self._announce_policy(room, policy, actor, setting, None, value)

    def _announce_policy(
        self,
        room: str,
        policy: Any,
        actor: Actor,
        action: str,
        target: Target | None,
        value: Any = None,
    ) -> dict[str, Any]:
        """A setting or a role changed: the room hears the notice and `room_info`."""
        details: dict[str, Any] = _target_payload(target) if target else {}
        if value is not None:
            details["value"] = value
        self._notify(room, action, actor, details)
        info = self._moderation.info(room, policy)
        self._broadcast.to_room("room_info", info, room)
        return {"ok": True, **info}

    def _notify(
        self, room: str, action: str, actor: Actor, details: dict[str, Any]
    ) -> None:
        """The room's `moderation` notice: visible, never a shadow action."""
        notice = {
            "room": room,
            "action": action,
            "by": actor.username,
            "by_trip": actor.trip,
            "at": now_ms(),
            **details,
        }
        self._broadcast.to_room("moderation", notice, room)

    def _announce_raid(self, room: str, policy: Any) -> None:
        """Raid mode started by itself: the room hears it, and its rules."""
        self._notify(room, "raid", SERVER, {"value": True})
        self._broadcast.to_room("room_info", self._moderation.info(room, policy), room)

    def _to_moderators(self, room: str, event: str, payload: Any) -> None:
        """An event for the room's owner and moderators present (every tab)."""
        policy = self._policies.get(room)
        for member in self._store.members(room):
            if not self._moderation.is_moderator(policy, member["trip"]):
                continue
            found = self._store.person_named(room, member["username"])
            for moderator_sid in found[1] if found else [member["sid"]]:
                self._broadcast.to_connection(moderator_sid, event, payload)

    def _message_in_history(self, room: str, message_id: str) -> dict[str, Any]:
        history = self._store.snapshot(room, limit=self._limits.history_size)
        for entry in history.messages:
            if entry.get("id") == message_id and "event" not in entry:
                if entry.get("deleted"):
                    break
                return entry
        raise ChatError("unknown_message")

    def _forget_address(self, sid: str) -> None:
        try:
            self._policies.forget_address(sid)
        except Exception:  # Redis away: the key expires by itself
            log.debug("could not forget the address key of sid=%s", sid)

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


def _target_payload(target: Target) -> dict[str, Any]:
    return {"target": target.username, "target_trip": target.trip}


def _name_taken(name: str, taken: NameTaken) -> ChatError:
    return ChatError(
        "nickname_taken",
        f"Someone here is already called {name} (or a name that looks the same). "
        f"Try {taken.suggestion}?",
        suggestion=taken.suggestion,
    )
