"""Who gets what: one client, or a room's members, plain or in `messages` batches.

Each chat room is two Socket.IO rooms: `room:<name>` for clients that take each
message as a `message` event, and `batch:<name>` for clients that announced
`messages` batches. Every event to a room goes to both, after the room's pending
batch, so nobody sees a `left` before the messages that came before it.

Events to one client (`connected`, `room_state`, `error`, ...) are written locally
(`ignore_queue`): a client's own node holds its connection, so they never wait on
the message queue, and a hung Redis cannot delay them.

With several nodes and the relay (wire/queue_listener.py), chat messages do not take
the Socket.IO queue either: the store published each one as it numbered it, every
other node hands it here (`relayed`), and each node delivers a message to its own
members only, plain or batched. Without the relay (the stock queue), messages and
batches go through the queue like every other room event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio

from chat.batches import Message, MessageBatches
from state.base import decode_message

# event, payload, Socket.IO room: to the room's members on this node.
RoomEmit = Callable[[str, Any, str], None]

PLAIN_PREFIX = "room:"
BATCH_PREFIX = "batch:"


def channel(room: str) -> str:
    """The Socket.IO room of a chat room's plain members; the prefix keeps names
    apart from sids."""
    return PLAIN_PREFIX + room


def batch_channel(room: str) -> str:
    """The Socket.IO room of a chat room's members that accept `messages` batches."""
    return BATCH_PREFIX + room


def channels(room: str) -> list[str]:
    """Everyone in a chat room, whichever way they take messages."""
    return [channel(room), batch_channel(room)]


class Broadcaster:
    """Sends the chat's events through one Socket.IO server."""

    def __init__(
        self,
        sio: socketio.Server,
        clustered: bool,
        relay: Any = None,
        room_emit: RoomEmit | None = None,
    ) -> None:
        self._sio = sio
        # One process, or several with the relay: each node delivers messages to its
        # own members only. Several without it: a room's members may be anywhere.
        self._messages_local = not clustered or relay is not None
        # How messages and batches reach a room, chosen once: to this node's members
        # through the direct-write path's own room walk when there is one
        # (wire/framed_broadcast.py), else python-socketio's emit kept off the
        # queue; through the queue when members may be on any node.
        self._room_emit: RoomEmit
        if not self._messages_local:
            self._room_emit = self._emit_everywhere
        else:
            self._room_emit = room_emit or self._emit_locally
        self.batches = MessageBatches(self._send_batch, sio.eio.create_queue)
        if relay is not None:
            relay.on_relayed = self.relayed
            relay.before_remote_emit = self.batches.flush_all

    def enter(self, sid: str, room: str, batching: bool) -> None:
        """`sid` starts receiving `room`'s events (its pending batch was sent)."""
        self.batches.flush(room)
        self._sio.enter_room(sid, _channel_for(room, batching))

    def leave(self, sid: str, room: str, batching: bool) -> None:
        self._sio.leave_room(sid, _channel_for(room, batching))

    def evict(self, sid: str, room: str) -> None:
        """`sid` stops receiving `room`'s events, wherever its connection is (the
        message queue takes the leave to its node)."""
        for socket_room in channels(room):
            self._sio.leave_room(sid, socket_room)

    def message(self, room: str, message: Message) -> None:
        """A new chat message: at once to plain members, in the next batch to others.

        Every accepted message passes here: the audience is found and the message
        handed on in this one frame (bench/instructions.py counts each call).
        """
        if self._messages_local:
            # python-socketio drops a room with its last member (a room is a bidict,
            # whose len() is a Python call: asked only whether it is there).
            rooms = self._sio.manager.rooms.get("/", _NO_ROOMS)
            plain = rooms.get(PLAIN_PREFIX + room) is not None
            batched = rooms.get(BATCH_PREFIX + room) is not None
        else:  # several nodes, no relay: members may be on any of them
            plain = batched = True
        if plain:
            self._room_emit("message", message, PLAIN_PREFIX + room)
        if batched:
            self.batches.add(room, message)

    def relayed(self, room: str, body: bytes) -> None:
        """A message another node stored (the relay): to this node's members, and
        decoded only when it has some (only nodes with the relay receive these, so
        the members present here are all the audience it has)."""
        rooms = self._sio.manager.rooms.get("/", _NO_ROOMS)
        if (
            rooms.get(PLAIN_PREFIX + room) is not None
            or rooms.get(BATCH_PREFIX + room) is not None
        ):
            self.message(room, decode_message(body))

    def to_room(
        self, event: str, payload: Any, room: str, skip_sid: str | None = None
    ) -> None:
        """Any other event to everyone in `room`, after its pending batch."""
        self.batches.flush(room)
        self._sio.emit(event, payload, to=channels(room), skip_sid=skip_sid)

    def to_client(self, sid: str, event: str, payload: Any) -> None:
        """An event to one local client, never through the message queue."""
        self._sio.emit(event, payload, to=sid, ignore_queue=True)

    def to_connection(self, sid: str, event: str, payload: Any) -> None:
        """An event to one connection wherever it is (through the message queue
        when there are several nodes)."""
        self._sio.emit(event, payload, to=sid)

    def run_batches(self) -> None:
        """The batch flusher's loop; the factory starts it as a background task."""
        self.batches.run()

    def flush_all(self) -> None:
        self.batches.flush_all()

    def _send_batch(self, room: str, batch: list[Message]) -> None:
        self._room_emit("messages", batch, BATCH_PREFIX + room)

    def _emit_locally(self, event: str, payload: Any, socket_room: str) -> None:
        self._sio.emit(event, payload, to=socket_room, ignore_queue=True)

    def _emit_everywhere(self, event: str, payload: Any, socket_room: str) -> None:
        self._sio.emit(event, payload, to=socket_room)


_NO_ROOMS: dict[str, Any] = {}


def _channel_for(room: str, batching: bool) -> str:
    return batch_channel(room) if batching else channel(room)
