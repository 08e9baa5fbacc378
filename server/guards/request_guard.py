"""The steps every client event goes through before and after its handler.

`RequestGuard.wrap(event, handler)` charges the request to the connection's rate
limit (refused: nothing else happens), runs the handler, and turns whatever it
raises into one answer: a refusal becomes an `error` event to the sender plus an
error ack; a broken store becomes `unavailable`; anything unexpected becomes
`internal_error`, logged here, never shown. A connection that keeps sending while
refused is cut off: its transport is closed after the refusal went out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chat import protocol
from chat.protocol import ChatError
from guards.admission import Admission
from guards.client_address import Network
from guards.rate_limit import ScoreLimiter
from ops.metrics import ChatMetrics
from state.base import StoreUnavailable

log = logging.getLogger("chat.guard")

Handler = Callable[[str, Any], Any]
SendError = Callable[[str, dict[str, Any]], None]
CutOff = Callable[[str], None]


@dataclass(frozen=True)
class ConnectionGuards:
    """The limits a connection lives under: rate, address, rooms."""

    limiter: ScoreLimiter
    admission: Admission
    trusted_proxies: tuple[Network, ...]
    max_rooms: int


class RequestGuard:
    """Rate limit, refusals and failures, the same way for every event."""

    def __init__(
        self,
        limiter: ScoreLimiter,
        metrics: ChatMetrics,
        send_error: SendError,
        cut_off: CutOff,
        max_message_length: int,
    ) -> None:
        self._limiter = limiter
        self._metrics = metrics
        self._send_error = send_error
        self._cut_off = cut_off
        self._max_message_length = max_message_length
        self._unknown_latency = metrics.latency.labels("unknown")

    def wrap(self, event: str, handler: Handler) -> Callable[..., Any]:
        """`handler(sid, payload)` as a Socket.IO handler with every guard applied."""
        latency = self._metrics.latency.labels(
            event if event in protocol.CLIENT_EVENTS else "unknown"
        )

        def dispatch(sid: str, *args: Any) -> Any:
            started = time.perf_counter()  # cheaper than latency.time() per event
            try:
                return self._handle(event, handler, sid, args)
            finally:
                latency.observe(time.perf_counter() - started)

        dispatch.__name__ = f"dispatch_{event}"
        return dispatch

    def refuse(self, sid: str, event: str, refusal: ChatError) -> dict[str, Any]:
        """Tell `sid` its `event` was refused; returns the error ack."""
        log.debug("refused event=%s sid=%s code=%s", event, sid, refusal.code)
        self._metrics.errors.labels(refusal.code).inc()
        try:
            self._send_error(sid, refusal.error_payload(event))
        except Exception:
            log.exception("could not send error event=%s sid=%s", event, sid)
        return refusal.ack()

    def run(self, event: str, handler: Handler, sid: str, args: tuple[Any, ...]) -> Any:
        """Guard one call of `handler` for an event outside the contract."""
        started = time.perf_counter()
        try:
            return self._handle(event, handler, sid, args)
        finally:
            self._unknown_latency.observe(time.perf_counter() - started)

    def _handle(
        self, event: str, handler: Handler, sid: str, args: tuple[Any, ...]
    ) -> Any:
        payload = args[0] if len(args) == 1 else None
        verdict = self._limiter.charge(sid, self._cost(event, payload))
        if not verdict.allowed:
            self._metrics.rate_limited.inc()
            refusal = ChatError("rate_limited", retry_after_ms=verdict.retry_after_ms)
            ack = self.refuse(sid, event, refusal)
            if verdict.disconnect:
                log.warning("cutting off sid=%s: kept sending while refused", sid)
                self._cut_off(sid)
            return ack
        try:
            if len(args) > 1:
                raise ChatError("invalid_payload", "Send one JSON object per event.")
            return handler(sid, payload)
        except ChatError as refusal:
            if refusal.code in protocol.BAD_REQUEST_CODES:
                self._limiter.charge(sid, self._limiter.policy.bad_request_cost)
            return self.refuse(sid, event, refusal)
        except StoreUnavailable as error:
            self._metrics.store_errors.inc()
            log.warning("store unavailable event=%s sid=%s: %s", event, sid, error)
            return self.refuse(sid, event, ChatError("unavailable"))
        except Exception:
            log.exception("handler failed event=%s sid=%s", event, sid)
            return self.refuse(sid, event, ChatError("internal_error"))

    def _cost(self, event: str, payload: Any) -> float:
        policy = self._limiter.policy
        if event in _COSTED_LIKE_MESSAGES and isinstance(payload, dict):
            text = payload.get("message")
            length = len(text) if isinstance(text, str) else 0
            return self._limiter.message_cost(length, self._max_message_length)
        if event == "join":
            return policy.join_cost
        if event == "typing":
            return policy.typing_cost
        if event in _COSTED_LIKE_RENAMES:
            return policy.rename_cost
        return policy.request_cost


# Events that put something in front of people: each costs what a message of its
# length costs (a reaction or a deletion, what an empty message costs).
_COSTED_LIKE_MESSAGES = frozenset({"message", "edit", "whisper", "react", "delete"})
# Requests that ask something of other people: they cost what a rename costs.
_COSTED_LIKE_RENAMES = frozenset({"rename", "knock", "report"})
