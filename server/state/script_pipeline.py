"""The store's scripts from many handlers, sent to Redis as one pipeline per round trip.

Every chat message is one Lua script call (number, store, publish: redis_scripts.py),
and its sender is acknowledged only once Redis has answered. Called one by one, each
call pays redis-py's per-command path, a write and a read system call and a wait on
the event loop. Here a call joins the pending list and waits; one writer sends
everything pending as one pipeline (one write, replies read together) and hands
each caller its own reply. There is no timer: the first call goes out at once, and
calls that arrive while a pipeline is in flight go in the next one, so pipelines
grow with the load. Each script still runs on its own in Redis (no MULTI): one
caller's refusal or error is that caller's alone.

A caller that must not wait (`submit`: a connection's reader going on to its next
message, wire/later_acks.py) is handed its reply by a second thread, in the order
the calls were made, so the writer is already sending the next round trip.

The writer keeps one connection of the client's pool for itself and writes the
EVALSHAs on it directly (wire/redis_line.py): redis-py's `Pipeline` object would be
built, filled through its per-command wrappers and reset for every round trip. The
pending lists are guarded by the OS's lock (wire/native_lock.py): no section under
it waits, and the green lock cost a Python acquire and release per message. A round
trip that loses its connection is not sent again (Redis may have run some of its
scripts; a message must not be stored twice): its callers get StoreUnavailable, and
the next round trip connects afresh.

Measured with bench/ (gevent, one node on Redis, 20k deliveries/s): server CPU per
delivery 26.2 -> 20.1 µs, and Redis's own CPU 0.76x (1.05 -> 0.80 s in 12 s).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from state.base import StoreUnavailable
from state.redis_space import RedisSpace
from wire.native_lock import native_lock
from wire.redis_line import RedisLine

log = logging.getLogger("chat.store")


Then = Callable[[Any, StoreUnavailable | None], None]
"""What a submitted call is handed: the script's reply, or the error instead."""


class _Call:
    """One script call waiting for its reply: a caller waiting on `done`, or a
    submitted call's `then`."""

    __slots__ = ("script", "keys", "args", "done", "then", "reply", "error")

    def __init__(
        self, script: Any, keys: list[str], args: list[Any], then: Then | None = None
    ) -> None:
        self.script = script
        self.keys = keys
        self.args = args
        self.done = threading.Event() if then is None else None
        self.then = then
        self.reply: Any = None
        self.error: StoreUnavailable | None = None


class ScriptPipeline:
    """Runs registered scripts (redis-py `Script`s) for many callers at once."""

    def __init__(self, space: RedisSpace) -> None:
        from redis.exceptions import NoScriptError

        self._space = space
        self._no_script = NoScriptError
        self._lock = native_lock()  # never held while waiting
        self._pending: list[_Call] = []
        self._wake = threading.Event()
        self._started = False  # the writer and the settler
        self._line: RedisLine | None = None  # the writer's own connection
        # Round trips whose submitted calls are still to be handed their replies.
        self._answered: list[_Call] = []
        self._answered_wake = threading.Event()

    def call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """The script's reply, once Redis has run it; StoreUnavailable when Redis
        cannot be reached or the script failed."""
        call = _Call(script, keys, args)
        self._enqueue(call)
        assert call.done is not None
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.reply

    def submit(self, script: Any, keys: list[str], args: list[Any], then: Then) -> None:
        """Runs the script like `call`, without waiting: `then(reply, error)` is
        called on the settling thread, in the order of the calls."""
        self._enqueue(_Call(script, keys, args, then))

    def _enqueue(self, call: _Call) -> None:
        with self._lock:
            self._pending.append(call)
        if not self._started:
            self._start()
        self._wake.set()

    def _start(self) -> None:
        """The writer and the settler, started by the first call to get here;
        outside the lock, since starting a thread waits for it."""
        with self._lock:
            if self._started:
                return
            self._started = True
        for target, name in (
            (self._run, "store-pipeline"),
            (self._settle, "store-pipeline-settle"),
        ):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                calls, self._pending = self._pending, []
                self._wake.clear()
            if calls:
                self._send(calls)

    def _send(self, calls: list[_Call]) -> None:
        try:
            replies = self._execute(calls)
        except self._space.errors as error:
            replies = [error] * len(calls)
        except Exception as error:  # a bug must not leave callers waiting forever
            log.exception("store pipeline failed")
            replies = [error] * len(calls)
        submitted = []
        for call, reply in zip(calls, replies, strict=True):
            if isinstance(reply, BaseException):
                call.error = StoreUnavailable(str(reply))
            else:
                call.reply = reply
            if call.done is not None:
                call.done.set()
            else:
                submitted.append(call)
        if submitted:
            with self._lock:
                self._answered.extend(submitted)
            self._answered_wake.set()

    def _settle(self) -> None:
        """Hands submitted calls their replies, round trip after round trip."""
        while True:
            self._answered_wake.wait()
            with self._lock:
                calls, self._answered = self._answered, []
                self._answered_wake.clear()
            for call in calls:
                assert call.then is not None
                try:
                    call.then(call.reply, call.error)
                except Exception:  # one caller's bug must not stop the others
                    log.exception("a store reply's handler failed")

    def _execute(self, calls: list[_Call]) -> list[Any]:
        """Replies in call order; a script Redis had forgotten (a restart, SCRIPT
        FLUSH) is loaded and its calls sent again."""
        replies = self._pipeline(calls)
        forgotten = [
            index
            for index, reply in enumerate(replies)
            if isinstance(reply, self._no_script)
        ]
        if forgotten:
            for script in {calls[i].script for i in forgotten}:
                script.sha = self._space.client.script_load(script.script)
            again = self._pipeline([calls[i] for i in forgotten])
            for index, reply in zip(forgotten, again, strict=True):
                replies[index] = reply
        return replies

    def _pipeline(self, calls: list[_Call]) -> list[Any]:
        """One round trip: every call's EVALSHA written at once, replies read in
        order; a script's error reply is that call's reply."""
        if self._line is None:
            self._line = RedisLine(self._space.client.connection_pool)
        return self._line.round_trip(
            [
                (b"EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
                for call in calls
            ]
        )
