"""The chat server: `create_app()` builds it, `python app.py` runs it.

Run as a script, the first thing this module does is monkey-patch for eventlet or
gevent (see wire/async_bootstrap.py); imported (by tests, or a WSGI server such as
gunicorn), it patches nothing and leaves that to its host.
"""

from __future__ import annotations

if __name__ == "__main__":
    from wire import async_bootstrap

    async_bootstrap.patch_from_environment()

import gc
import logging
import sys

from dotenv import load_dotenv
from flask import Flask
from flask_socketio import SocketIO

import wire
from chat import names
from chat.broadcast import Broadcaster
from chat.moderation import Moderation, wall_clock_ms
from chat.protocol import Limits
from chat.raid_defence import RaidDefence
from chat.raids import ConnectionFlood, RaidWatch
from chat_events import ChatEvents
from config import REPO_ROOT, Config, ConfigError
from guards.admission import Admission
from guards.handshake import HandshakeAdmission
from guards.origins import origin_checker
from guards.proof_of_work import ProofOfWork
from guards.rate_limit import ScoreLimiter
from guards.request_guard import ConnectionGuards
from ops import housekeeping, http_routes, log_limits, metrics, shutdown
from ops.logging_setup import configure_logging
from ops.security_headers import with_security_headers
from state.base import StoreUnavailable
from state.shared import SharedState
from wire import engine_socket, fast_json, serving, websocket_limits

log = logging.getLogger("chat.app")


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
    # Plain HTTP: health checks and the built client.
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
        # Each connection's events are handled in order by its own reader, instead
        # of a new green thread (or, under threading, a new OS thread) per event:
        # per-connection order is guaranteed, and CPU per delivery fell 10-25 %
        # (eventlet, gevent) and 3x (threading) in bench/ probes.
        async_handlers=False,
    )
    sio = socketio.server
    # Library patches (each only on the versions it was written for) and the limits
    # on every connection below the chat: frames, queued bytes, binary packets.
    wired = wire.install(
        sio,
        config.async_mode,
        config.connection_limits,
        config.direct_writes,
        store_round_trips=shared.clustered,
    )
    app.wsgi_app = with_security_headers(  # type: ignore[method-assign,assignment]
        websocket_limits.limit_polling_body(
            app.wsgi_app, int(sio.eio.max_http_buffer_size)
        )
    )
    log_limits.route_library_loggers()
    log_limits.drop_library_info(sio, sio.eio)
    # The limits a connection lives under: per address at the handshake, then a rate
    # limit on each request.
    guards = ConnectionGuards(
        ScoreLimiter(config.rate_policy),
        Admission(config.connection_rate_limit, config.max_connections_per_ip),
        config.trusted_proxies,
        config.max_rooms_per_connection,
    )
    HandshakeAdmission(guards.admission, guards.trusted_proxies).install(sio)
    # The handlers, and how their events reach people.
    broadcast = Broadcaster(
        sio,
        clustered=shared.clustered,
        relay=shared.relay,
        room_emit=wired.framed.room_emit if wired.framed else None,
    )
    chat_metrics = metrics.ChatMetrics()
    moderation = Moderation(
        shared.policies,
        server_moderators=config.mod_trips,
        owner_ttl_seconds=config.room_owner_ttl_days * 86400,
        kick_seconds=config.kick_seconds,
        listed_by_default=config.list_rooms_by_default,
    )
    # Proofs of work at the door of a raided room, and of the server in a flood.
    proof = ProofOfWork(
        config.secret_key, config.pow_bits, 120, shared.policies.spend_once
    )
    raids = RaidDefence(
        moderation,
        proof,
        RaidWatch(config.raid_joins_per_minute, config.raid_messages_per_minute),
        raid_minutes=config.raid_minutes,
        probation_minutes=config.probation_minutes,
        regular_after_minutes=config.regular_after_minutes,
        clock_ms=wall_clock_ms,
    )
    events = ChatEvents(
        sio,
        shared.store,
        broadcast,
        Limits(
            config.max_message_length,
            config.history_size,
            edit_window_seconds=config.edit_window_seconds,
        ),
        guards,
        chat_metrics,
        close_connection=lambda sid: engine_socket.close_connection(sio, sid),
        trip_secret=config.trip_secret,
        moderation=moderation,
        raids=raids,
        flood=ConnectionFlood(config.connection_flood_per_minute),
        in_flight=wired.in_flight,
    )
    events.register()
    # Background work: batch flushing, housekeeping, and with Redis the cluster keeper.
    sio.start_background_task(broadcast.run_batches)
    sio.start_background_task(
        housekeeping.run,
        sio.sleep,
        housekeeping.interval_for(config.room_ttl_seconds),
        shared.store.expire_idle_rooms,
        guards.limiter.forget_old,
        moderation.forget_idle,
        raids.forget_idle,
    )
    keeper = shared.make_keeper(
        config.node_timeout_seconds,
        announce_left=events.announce_left,
        announce_joined=events.announce_joined,
        resync_room=events.resync_room,
    )
    if keeper is not None:
        sio.start_background_task(keeper.run, sio.sleep)
        # The queue's listener now, not at the first connection (python-socketio's
        # default): /readyz waits for it, and a balancer sends nobody until ready.
        sio.manager_initialized = True
        sio.manager.initialize()
    # What operators and tests can see of it.
    metrics.init_app(
        app,
        chat_metrics,
        {
            "admission": guards.admission.counts,
            "limiter": guards.limiter.counts,
            "store": shared.store.counts,
            "connections": events.connections.counts,
            "batches": broadcast.batches.counts,
            "wire": wired.counts,
        },
    )
    app.extensions.update(
        chat_store=shared.store,
        chat_ready=shared.ready,
        chat_shared=shared,
        chat_events=events,
        chat_broadcast=broadcast,
        chat_guards=guards,
        chat_wire=wired,
    )
    return app


def log_startup_warnings(config: Config) -> None:
    for name in config.default_secrets:
        log.warning(
            "!!! %s is the public default (allowed by %s). Set %s in .env, e.g. "
            "from: python -c 'import secrets; print(secrets.token_hex(32))'",
            name,
            "DEBUG" if config.debug else "ALLOW_INSECURE_SECRET",
            name,
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
    # Built before serving, not by the first join (and frozen below with the rest).
    names.load_tables()
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
