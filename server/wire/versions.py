"""Which library versions each patch in wire/ was written and tested against.

A patch of a library's internals is only as good as the version it was read from.
At start-up `install` (wire/__init__.py) asks `patches_to_skip` which patches'
libraries are not exactly those versions; it logs one warning and leaves those
patches out, so the server runs the stock library path instead of patched code it
was never tested with. `PRIVATE_SURFACE` lists every private attribute the patches
touch, with its signature; tests/wire/test_versions.py checks it against the
installed libraries, so an upgrade fails loudly in CI rather than quietly here.
"""

from __future__ import annotations

from importlib import metadata

# The versions in requirements.txt that the patches were read from. (Flask-SocketIO
# is not here: nothing reaches into it; the app uses only its public API.)
WRITTEN_FOR = {
    "python-engineio": "4.15.1",
    "python-socketio": "5.18.1",
    "eventlet": "0.41.3",
    "gevent": "26.9.0",
    "gevent-websocket": "0.10.1",
    "simple-websocket": "1.1.0",
    "prometheus-client": "0.26.0",
}

_WEBSOCKET_SERVER = {
    "eventlet": ("eventlet",),
    "gevent": ("gevent", "gevent-websocket"),
    "threading": ("simple-websocket",),
}

# The libraries each patch reaches into, beyond the async mode's websocket server.
PATCHES = {
    "engine_socket": ("python-engineio",),
    "framed_broadcast": ("python-engineio", "python-socketio"),
    "websocket_limits": ("python-engineio",),
    "websocket_speedups": (),
    "fast_packet": ("python-socketio",),
    "queue_listener": ("python-socketio",),
    "heartbeat": ("python-engineio",),
    "writer_on_demand": ("python-engineio",),
    "native_locks": ("prometheus-client",),
    "later_acks": ("python-socketio",),
    "gevent_handover": ("python-engineio",),
    "lean_queue": ("python-engineio",),
    "eventlet_handover": ("python-engineio",),
}
# Patches that do not touch the websocket server of the async mode.
_NO_WEBSOCKET_SERVER = frozenset(
    {
        "engine_socket",
        "fast_packet",
        "queue_listener",
        "heartbeat",
        "native_locks",
        "writer_on_demand",
        "later_acks",
        "lean_queue",
    }
)

# Patches installed in one async mode only.
_ONLY_IN_MODE = {"gevent_handover": "gevent", "eventlet_handover": "eventlet"}

# Every private attribute the patches use: (module, qualified name, signature as
# `inspect.signature` shows it on the class, or None for a plain attribute).
# tests/wire/test_versions.py checks each against the installed libraries.
PRIVATE_SURFACE = (
    ("engineio.base_socket", "BaseSocket.__init__", "(self, server, sid)"),
    ("engineio.socket", "Socket.send", "(self, pkt)"),
    ("engineio.socket", "Socket.poll", "(self)"),
    ("engineio.socket", "Socket.schedule_ping", "(self)"),
    ("engineio.socket", "Socket.check_ping_timeout", "(self)"),
    ("engineio.socket", "Socket.receive", "(self, pkt)"),
    ("engineio.socket", "Socket._websocket_handler", "(self, ws)"),
    ("engineio.socket", "Socket.close", "(self, wait=True, abort=False, reason=None)"),
    ("engineio.async_drivers.eventlet", "_async", None),
    ("engineio.async_drivers.gevent", "_async", None),
    ("engineio.async_drivers.threading", "_async", None),
    ("socketio.server", "Server._send_eio_packet", "(self, eio_sid, eio_pkt)"),
    ("socketio.server", "Server._send_packet", "(self, eio_sid, pkt)"),
    ("socketio.packet", "Packet.data_is_binary", "(data)"),
    (
        "socketio.server",
        "Server._handle_event_internal",
        "(self, server, sid, eio_sid, data, namespace, id)",
    ),
    ("socketio.server", "Server._trigger_event", "(self, event, namespace, *args)"),
    # engine_socket.receive_message: the message handler run as _trigger_event runs it.
    ("engineio.server", "Server._trigger_event", "(self, event, *args, **kwargs)"),
    # fast_packet.py: plain events handed on as _handle_eio_message hands them.
    ("socketio.server", "Server._handle_event", "(self, eio_sid, namespace, id, data)"),
    ("socketio.server", "Server._handle_eio_message", "(self, eio_sid, data)"),
    ("socketio.packet", "Packet.decode", "(self, encoded_packet)"),
    ("prometheus_client.values", "Lock", None),
    ("socketio.redis_manager", "RedisManager._redis_connect", "(self)"),
    ("socketio.redis_manager", "RedisManager._redis_listen_with_retries", "(self)"),
    ("socketio.redis_manager", "RedisManager._listen", "(self)"),
    ("socketio.pubsub_manager", "PubSubManager._handle_emit", "(self, message)"),
    (
        "engineio.async_drivers.eventlet",
        "WebSocketWSGI._negotiate_permessage_deflate",
        "(self, extensions)",
    ),
    (
        "eventlet.websocket",
        "RFC6455WebSocket._apply_mask",
        "(data, mask, length=None, offset=0)",
    ),
    ("eventlet.websocket", "RFC6455WebSocket._recv_frame", "(self, message=None)"),
    ("eventlet.websocket", "RFC6455WebSocket._get_bytes", "(self, numbytes)"),
    ("eventlet.websocket", "RFC6455WebSocket._iter_frames", "(self)"),
    (
        "eventlet.websocket",
        "RFC6455WebSocket.Message.push",
        "(self, data, final=False)",
    ),
    ("geventwebsocket.websocket", "WebSocket.read_frame", "(self)"),
    ("geventwebsocket.websocket", "WebSocket.read_message", "(self)"),
    ("geventwebsocket.websocket", "WebSocket.raw_read", None),
    ("geventwebsocket.websocket", "WebSocket.stream", None),
    ("geventwebsocket.websocket", "Stream.handler", None),
    ("geventwebsocket.websocket", "WebSocket.raw_write", None),
    ("geventwebsocket.websocket", "WebSocket.close", "(self, code=1000, message=b'')"),
    ("geventwebsocket.websocket", "WebSocket.send_frame", "(self, message, opcode)"),
    ("geventwebsocket.websocket", "Header.decode_header", "(stream)"),
    ("geventwebsocket.websocket", "Header.mask_payload", "(self, payload)"),
    ("geventwebsocket.websocket", "Header.unmask_payload", "(self, payload)"),
    ("geventwebsocket.handler", "WebSocket", None),
    ("geventwebsocket.handler", "WebSocketHandler.run_websocket", "(self)"),
    ("geventwebsocket.websocket", "WebSocket.handler", None),
    ("gevent.pywsgi", "WSGIHandler.handle", "(self)"),
    ("gevent.server", "StreamServer.do_close", "(self, sock, *args)"),
    ("eventlet.wsgi", "HttpProtocol.finish", "(self)"),
    ("eventlet.websocket", "WebSocket.wait", "(self)"),
    ("eventlet.websocket", "RFC6455WebSocket.wait", "(self)"),
    # eventlet_reader.py: _iter_frames unrolled, calling what it calls.
    (
        "eventlet.websocket",
        "RFC6455WebSocket._handle_control_frame",
        "(self, opcode, data)",
    ),
    # gevent_reads.py: gevent's read buffer peeked at without waiting, the wait made
    # on the socket itself, the usual frame read off the OS socket under it.
    ("gevent._socket3", "socket._sock", None),
    ("gevent._socketcommon", "SocketMixin.timeout", None),
    ("gevent._socketcommon", "SocketMixin._read_event", None),
    (
        "gevent._socketcommon",
        "SocketMixin._wait",
        "(socket, watcher, timeout_exc=None)",
    ),
    # resting.py: an idle reader waits on the socket from the event loop (eventlet's
    # hub listener; gevent's socket read watcher, above).
    (
        "eventlet.hubs.hub",
        "BaseHub.add",
        "(self, evtype, fileno, cb, tb, mark_as_closed)",
    ),
    ("eventlet.hubs.hub", "BaseHub.remove", "(self, listener)"),
    # lean_send_lock.py: the stock semaphore, with its waiters made on demand.
    ("eventlet.semaphore", "Semaphore.acquire", "(self, blocking=True, timeout=None)"),
    ("eventlet.semaphore", "Semaphore._do_acquire", "(self)"),
    (
        "eventlet.websocket",
        "RFC6455WebSocket._send_closing_frame",
        "(self, ignore_send_errors=False, close_data=None)",
    ),
    (
        "engineio.async_drivers._websocket_wsgi",
        "SimpleWebSocketWSGI.wait",
        "(self)",
    ),
    (
        "engineio.async_drivers._websocket_wsgi",
        "SimpleWebSocketWSGI.close",
        "(self)",
    ),
)


def installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def mismatches(packages: tuple[str, ...]) -> dict[str, str]:
    """{package: "installed X, written for Y"} for each package not as written for."""
    found = {}
    for package in packages:
        version = installed(package)
        if version != WRITTEN_FOR[package]:
            found[package] = (
                f"installed {version or 'nothing'}, written for {WRITTEN_FOR[package]}"
            )
    return found


def patches_to_skip(async_mode: str) -> dict[str, dict[str, str]]:
    """{patch: {package: why}} for each patch whose libraries are not as expected."""
    skipped = {}
    for patch, packages in PATCHES.items():
        if _ONLY_IN_MODE.get(patch, async_mode) != async_mode:
            continue  # never installed in this mode
        needed = packages
        if patch not in _NO_WEBSOCKET_SERVER:
            needed = packages + _WEBSOCKET_SERVER[async_mode]
        wrong = mismatches(needed)
        if wrong:
            skipped[patch] = wrong
    return skipped
