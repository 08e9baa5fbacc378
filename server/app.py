"""The chat server: `create_app()` builds it, `python app.py` runs it.

Run as a script, the first thing this module does is monkey-patch for eventlet or
gevent (see async_bootstrap.py); imported (by tests, or a WSGI server such as
gunicorn), it patches nothing and leaves that to its host.
"""

from __future__ import annotations

if __name__ == "__main__":
    import async_bootstrap

    async_bootstrap.patch_from_environment()

import gc
import logging
import sys

from dotenv import load_dotenv
from flask import Flask
from flask_socketio import SocketIO

import fast_json
import framed_broadcast
import http_routes
import log_limits
import metrics
import serving
import shutdown
import websocket_limits
import websocket_speedups
from admission import Admission
from chat_events import ChatEvents, ConnectionGuards
from config import REPO_ROOT, Config, ConfigError
from fast_packet import FastPacket
from logging_setup import configure_logging
from origins import origin_checker
from protocol import Limits
from rate_limit import ScoreLimiter
from rooms import StoreUnavailable
from shared_state import SharedState

log = logging.getLogger("chat.app")

# How often empty rooms past ROOM_TTL_SECONDS are swept from memory.
MAX_SWEEP_INTERVAL = 60.0


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app with its SocketIO server, room store and handlers.

    Raises StoreUnavailable when REDIS_URL is set and Redis cannot be reached.
    """
    if config is None:
        load_dotenv(REPO_ROOT / ".env")
        config = Config.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=config.secret_key, DEBUG=config.debug, CLIENT_DIST=config.client_dist
    )
    # Plain HTTP: health check and the built client.
    http_routes.init_app(app)
    # Room state: in this process, or shared on Redis with its message queue.
    shared = SharedState.from_config(config)
    # The socket: explicit async mode, origin check, `connected` only after accept,
    # no packet bigger than one maximal chat message, handlers run in order.
    socketio = SocketIO(
        app,
        client_manager=shared.manager,
        async_mode=config.async_mode,
        cors_allowed_origins=origin_checker(config),
        always_connect=True,
        logger=False,
        engineio_logger=False,
        max_http_buffer_size=websocket_limits.buffer_size(config.max_message_length),
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        json=fast_json,
        serializer=FastPacket,
        # Each connection's events are handled in order by its own reader, instead
        # of a new green thread (or, under threading, a new OS thread) per event:
        # per-connection order is guaranteed, and CPU per delivery fell 10-25 %
        # (eventlet, gevent) and 3x (threading) in bench/ probes.
        async_handlers=False,
    )
    websocket_limits.install(socketio.server.eio, config.async_mode)
    websocket_speedups.install(config.async_mode)
    direct_writes = (
        framed_broadcast.install(socketio.server, config.async_mode)
        if config.direct_writes
        else None
    )
    app.wsgi_app = websocket_limits.limit_polling_body(  # type: ignore[method-assign]
        app.wsgi_app, int(socketio.server.eio.max_http_buffer_size)
    )
    log_limits.route_library_loggers()
    # Room state in this process, the limits each connection lives under, and the
    # handlers that use both.
    store = shared.store
    limits = Limits(
        max_message_length=config.max_message_length, history_size=config.history_size
    )
    guards = ConnectionGuards(
        ScoreLimiter(config.rate_policy),
        Admission(config.connection_rate_limit, config.max_connections_per_ip),
        config.trusted_proxies,
        config.max_rooms_per_connection,
    )
    sweep_interval = min(max(config.room_ttl_seconds, 1.0), MAX_SWEEP_INTERVAL)
    chat_metrics = metrics.ChatMetrics()
    events = ChatEvents(
        socketio.server, store, limits, guards, sweep_interval, chat_metrics
    )
    events.register()
    shared.start_keeper(socketio.server, events, config.node_timeout_seconds)
    # What operators and tests can see of it.
    metrics.init_app(app, chat_metrics, store, events, guards, direct_writes)
    app.extensions["chat_store"] = store
    app.extensions["chat_ready"] = shared.ready
    app.extensions["chat_shared"] = shared
    app.extensions["chat_events"] = events
    app.extensions["chat_guards"] = guards
    return app


def log_startup_warnings(config: Config) -> None:
    if config.uses_default_secret:
        log.warning(
            "!!! SECRET_KEY is the public default (allowed by %s). Set SECRET_KEY in "
            ".env, e.g. from: python -c 'import secrets; print(secrets.token_hex(32))'",
            "DEBUG" if config.debug else "ALLOW_INSECURE_SECRET",
        )
    if config.allows_any_origin:
        log.warning("CORS_ORIGINS=* lets pages from any site open a socket here")
    if config.async_mode == "eventlet":
        log.warning(
            "async_mode=eventlet: eventlet is deprecated by its maintainers; "
            "ASYNC_MODE=gevent or threading are supported and tested alternatives"
        )


def main() -> int:
    load_dotenv(REPO_ROOT / ".env")
    try:
        config = Config.from_env()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    problem = config.startup_problem()
    if problem:
        log.error("refusing to start: %s", problem)
        return 2
    log_startup_warnings(config)
    try:
        app = create_app(config)
    except StoreUnavailable as error:
        log.error("refusing to start: %s (is Redis running? check REDIS_URL)", error)
        return 2
    log.info(
        "chat server starting: async_mode=%s history_size=%d max_message_length=%d",
        config.async_mode,
        config.history_size,
        config.max_message_length,
    )
    shutdown.install(
        app.extensions["socketio"].server,
        app.extensions["chat_events"].drain,
        app.extensions["chat_shared"].leave_cluster,
    )
    # Objects made so far live for the whole run: keep the collector off them, which
    # shortens the pauses a full collection causes under load.
    gc.collect()
    gc.freeze()
    try:
        serving.serve(app, config)
    except KeyboardInterrupt:
        log.info("stopped")
    except OSError as error:
        log.error("could not serve on %s:%d: %s", config.host, config.port, error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
