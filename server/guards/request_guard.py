"""The steps every client event goes through before and after its handler.

`RequestGuard.wrap(event, handler)` charges the request to the connection's rate
limit (refused: nothing else happens), refuses it while the connection owes a proof
of work (guards/proof_of_work.py), runs the handler, and turns whatever it raises
into one answer: a refusal becomes an `error` event to the sender plus an
error ack; a broken store becomes `unavailable`; anything unexpected becomes
`internal_error`, logged here, never shown. A connection that keeps sending while
refused is cut off: its transport is closed after the refusal went out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from chat import protocol
from chat.protocol import ChatError
from guards.admission import Admission
from guards.client_address import Network
from guards.rate_limit import ScoreLimiter, Verdict
from ops.metrics import ChatMetrics
from state.base import StoreUnavailable
from wire.later_acks import LaterAck

log = logging.getLogger("chat.guard")

Handler = Callable[[str, Any], Any]
SendError = Callable[[str, dict[str, Any]], None]
CutOff = Callable[[str], None]


class OwesProof(Protocol):
    """What the guard reads of a connection: the proof of work it still owes."""

    challenge: dict[str, Any] | None


FindConnection = Callable[[str], OwesProof | None]


@dataclass(frozen=True)
class ConnectionGuards:
    """The limits a connection lives under: rate, address, rooms."""

    limiter: ScoreLimiter
    admission: Admission
    trusted_proxies: tuple[Network, ...]
    max_rooms: int


class RequestGuard:
    """Rate limit, proof of work, refusals and failures, the same way for every
    event.

    Every client event passes here, so `wrap` builds one function per event that
    does the common path in a single Python frame (costs, labels and lookups decided
    when it is built): at tens of thousands of messages a second each extra call
    on this path is measurable (bench/instructions.py).
    """

    def __init__(
        self,
        limiter: ScoreLimiter,
        metrics: ChatMetrics,
        send_error: SendError,
        cut_off: CutOff,
        max_message_length: int,
        find_connection: FindConnection,
    ) -> None:
        self._limiter = limiter
        self._metrics = metrics
        self._send_error = send_error
        self._cut_off = cut_off
        self._max_message_length = max_message_length
        self._find_connection = find_connection

    def wrap(
        self, event: str, handler: Handler, after_proof: bool = True
    ) -> Callable[..., Any]:
        """`handler(sid, payload)` as a Socket.IO handler with every guard applied.

        `after_proof`: refused with `challenge_required` while the connection owes a
        proof of work (every event but the one that brings the proof).
        """
        latency = self._metrics.latency.labels(
            event if event in protocol.CLIENT_EVENTS else "unknown"
        )
        charge = self._limiter.charge
        find_connection = self._find_connection
        fixed_cost = None if event in _COSTED_LIKE_MESSAGES else self._fixed_cost(event)
        message_cost = self._message_cost

        def dispatch(sid: str, *args: Any) -> Any:
            started = time.perf_counter()  # cheaper than latency.time() per event
            try:
                payload = args[0] if len(args) == 1 else None
                verdict = charge(
                    sid, message_cost(payload) if fixed_cost is None else fixed_cost
                )
                if not verdict.allowed:
                    return self._refuse_rate(sid, event, verdict)
                try:
                    if len(args) > 1:
                        raise ChatError(
                            "invalid_payload", "Send one JSON object per event."
                        )
                    if after_proof:
                        connection = find_connection(sid)
                        if connection is not None and connection.challenge is not None:
                            raise ChatError(
                                "challenge_required", challenge=connection.challenge
                            )
                    answer = handler(sid, payload)
                    if type(answer) is LaterAck:
                        answer.fail = partial(self._answer_failure, sid, event)
                    return answer
                except Exception as failure:
                    return self._answer_failure(sid, event, failure)
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
        """Guard one call of `handler` for an event outside the contract (refused as
        such even while the connection owes a proof of work)."""
        return self.wrap(event, handler, after_proof=False)(sid, *args)

    def _refuse_rate(self, sid: str, event: str, verdict: Verdict) -> dict[str, Any]:
        self._metrics.rate_limited.inc()
        refusal = ChatError("rate_limited", retry_after_ms=verdict.retry_after_ms)
        ack = self.refuse(sid, event, refusal)
        if verdict.disconnect:
            log.warning("cutting off sid=%s: kept sending while refused", sid)
            self._cut_off(sid)
        return ack

    def _answer_failure(
        self, sid: str, event: str, failure: Exception
    ) -> dict[str, Any]:
        """A refusal, a broken store or a bug, each turned into its one answer."""
        if isinstance(failure, ChatError):
            if failure.code in protocol.BAD_REQUEST_CODES:
                self._limiter.charge(sid, self._limiter.policy.bad_request_cost)
            return self.refuse(sid, event, failure)
        if isinstance(failure, StoreUnavailable):
            self._metrics.store_errors.inc()
            log.warning("store unavailable event=%s sid=%s: %s", event, sid, failure)
            return self.refuse(sid, event, ChatError("unavailable"))
        log.exception("handler failed event=%s sid=%s", event, sid)
        return self.refuse(sid, event, ChatError("internal_error"))

    def _message_cost(self, payload: Any) -> float:
        """What an event priced like a message costs: by the length of its text."""
        if not isinstance(payload, dict):
            return self._limiter.policy.request_cost
        text = payload.get("message")
        length = len(text) if isinstance(text, str) else 0
        return self._limiter.message_cost(length, self._max_message_length)

    def _fixed_cost(self, event: str) -> float:
        policy = self._limiter.policy
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
