"""An eventlet websocket's next message is read by a plain function, not by
resuming a generator, so its reader parks on a shallower C stack.

eventlet's `RFC6455WebSocket.wait` takes the next message from a generator
(`_iter_frames`) made for each websocket. Resuming a generator enters the
interpreter again in C, and a green thread parked in the middle keeps a copy of
that part of the C stack for as long as it waits: for an idle websocket's reader,
its whole life. `wait` here is `_iter_frames` unrolled into one call per message,
with the same frames read, control frames answered, fragments joined and the same
ends (a close answered, a failure closed with its status, then `None` for good).
The handed-over websocket also lets go of its generator (eventlet_handover.py).

Replaces `eventlet.websocket.RFC6455WebSocket.wait` (see wire/versions.py); the
gain is measured with bench/ scenario B, see bench/analysis.md. To remove: drop
the `eventlet_reader.install` call in eventlet_handover.install.
"""

from __future__ import annotations

from typing import Any

from wire.resting import Resting

# What a websocket's `iterator` becomes once it has ended, like a spent generator.
ENDED: Any = iter(())


def wait(ws: Any) -> Any:
    """RFC6455WebSocket.wait: the next whole message, or None once it has ended."""
    if ws.iterator is ENDED:
        return None
    fragmented = None
    try:
        while True:
            message = ws._recv_frame(message=fragmented)
            if message.opcode & 8:
                ws._handle_control_frame(message.opcode, message.getvalue())
                continue
            if fragmented and message is not fragmented:
                raise RuntimeError("Unexpected message change.")
            if message.finished:
                return message.getvalue()
            fragmented = message
    except Resting:
        raise  # at a message boundary, nothing read: it reads on later
    except Exception as error:
        # Imported here, not per message: only an ending reads them.
        from eventlet.websocket import ConnectionClosedError, FailedConnectionError

        ws.iterator = ENDED
        if isinstance(error, FailedConnectionError):
            ws.close(close_data=(error.status, error.message))
        elif not isinstance(error, ConnectionClosedError):
            ws.close(close_data=(1011, "Internal Server Error"))
            raise
    return None


def install() -> None:
    """Every eventlet RFC 6455 websocket reads its messages through `wait`."""
    from eventlet.websocket import RFC6455WebSocket

    if RFC6455WebSocket.wait is not wait:  # once per process, whatever the servers
        # What it replaces, for inspect.signature and tests/wire/test_versions.py.
        wait.__wrapped__ = RFC6455WebSocket.wait  # type: ignore[attr-defined]
        RFC6455WebSocket.wait = wait
