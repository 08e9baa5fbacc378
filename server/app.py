"""The chat server: `create_app()` builds it, `python app.py` runs it.

Run as a script, the first thing this module does is monkey-patch for eventlet or
gevent (see async_bootstrap.py); imported (by tests, or a WSGI server such as
gunicorn), it patches nothing and leaves that to its host.
"""

from __future__ import annotations

if __name__ == "__main__":
    import async_bootstrap

    async_bootstrap.patch_from_environment()

import logging
import sys

import socketio as python_socketio
from dotenv import load_dotenv
from flask import Flask
from flask_socketio import SocketIO

import http_routes
import serving
from chat_events import ChatEvents
from config import REPO_ROOT, Config, ConfigError
from origins import origin_checker
from protocol import Limits
from rooms import RoomStore

log = logging.getLogger("chat.app")

# How often empty rooms past ROOM_TTL_SECONDS are swept from memory.
MAX_SWEEP_INTERVAL = 60.0


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app with its SocketIO server, room store and handlers."""
    config = config or Config.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=config.secret_key, DEBUG=config.debug, CLIENT_DIST=config.client_dist
    )
    # Plain HTTP: health check and the built client.
    http_routes.init_app(app)
    # The socket: explicit async mode, origin check, and `connected` only after accept.
    socketio = SocketIO(
        app,
        async_mode=config.async_mode,
        cors_allowed_origins=origin_checker(config),
        always_connect=True,
        logger=False,
        engineio_logger=False,
    )
    # Room state in this process, and the handlers that use it.
    store = RoomStore(config.history_size, config.room_ttl_seconds)
    limits = Limits(
        max_message_length=config.max_message_length, history_size=config.history_size
    )
    sweep_interval = min(max(config.room_ttl_seconds, 1.0), MAX_SWEEP_INTERVAL)
    ChatEvents(socketio.server, store, limits, sweep_interval).register()
    app.extensions["chat_store"] = store
    return app


def sio_server(app: Flask) -> python_socketio.Server:
    """The python-socketio server inside `app`, for tests and tools."""
    return app.extensions["socketio"].server


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "DEBUG":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)


def log_startup_warnings(config: Config) -> None:
    if config.uses_default_secret and not config.debug:
        log.warning(
            "!!! SECRET_KEY is the public default. Set SECRET_KEY in .env, e.g. from: "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
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
    configure_logging(config.log_level)
    log_startup_warnings(config)
    app = create_app(config)
    log.info(
        "chat server starting: async_mode=%s history_size=%d max_message_length=%d",
        config.async_mode,
        config.history_size,
        config.max_message_length,
    )
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
