"""The store's script pipeline on a real Redis: many callers, one round trip each
time, every caller its own reply or its own error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from services import RedisProcess
from state.base import StoreUnavailable
from state.redis_space import RedisSpace, connect
from state.script_pipeline import ScriptPipeline

# Appends ARGV[1] to a list and answers its new length; fails on "boom".
APPEND = """
if ARGV[1] == 'boom' then return redis.error_reply('boom refused') end
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""


def run_together(pipeline: ScriptPipeline, script: object, values: list[str]) -> dict:
    """Each value from its own thread, all released at once: value -> reply or error."""
    start = threading.Barrier(len(values))
    outcome: dict[str, object] = {}

    def caller(value: str) -> None:
        start.wait()
        try:
            outcome[value] = pipeline.call(script, ["test:list"], [value])
        except StoreUnavailable as error:
            outcome[value] = error

    threads = [threading.Thread(target=caller, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return outcome


def evalsha_calls(space: RedisSpace) -> int:
    stats = space.client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_many_callers_each_get_their_own_reply(redis_space: RedisSpace) -> None:
    script = redis_space.client.register_script(APPEND)
    pipeline = ScriptPipeline(redis_space)
    values = [f"v{i}" for i in range(200)]
    pipeline.call(script, ["test:warm-up"], ["loads the script"])
    before = evalsha_calls(redis_space)
    outcome = run_together(pipeline, script, values)
    after = evalsha_calls(redis_space)
    stored = [v.decode() for v in redis_space.client.lrange("test:list", 0, -1)]
    assert sorted(stored) == sorted(values)
    # Each caller's reply is the list's length right after its own value went in.
    assert {outcome[value] for value in values} == set(range(1, 201))
    for length, value in enumerate(stored, start=1):
        assert outcome[value] == length
    # Redis ran every script once: no retries, none lost.
    assert after - before == len(values)


def test_one_callers_error_is_its_own(redis_space: RedisSpace) -> None:
    script = redis_space.client.register_script(APPEND)
    pipeline = ScriptPipeline(redis_space)
    outcome = run_together(pipeline, script, ["a", "boom", "b"])
    assert isinstance(outcome["boom"], StoreUnavailable)
    assert "boom refused" in str(outcome["boom"])
    assert sorted([outcome["a"], outcome["b"]]) == [1, 2]


def test_a_script_redis_forgot_is_loaded_again(redis_space: RedisSpace) -> None:
    script = redis_space.client.register_script(APPEND)
    pipeline = ScriptPipeline(redis_space)
    assert pipeline.call(script, ["test:list"], ["first"]) == 1
    redis_space.client.script_flush()
    outcome = run_together(pipeline, script, ["x", "y", "z"])
    assert sorted(outcome.values()) == [2, 3, 4]


def test_unreachable_redis_fails_every_caller_and_recovers(tmp_path: Path) -> None:
    redis_server = RedisProcess(tmp_path / "redis").start()
    space = RedisSpace(connect(redis_server.url), "test:")
    try:
        script = space.client.register_script(APPEND)
        pipeline = ScriptPipeline(space)
        assert pipeline.call(script, ["test:list"], ["before"]) == 1
        redis_server.stop()
        outcome = run_together(pipeline, script, ["p", "q"])
        assert all(isinstance(error, StoreUnavailable) for error in outcome.values())
        redis_server.start()
        # The writer's connection was lost with Redis; it reconnects by itself.
        assert pipeline.call(script, ["test:list"], ["after"]) == 2
    finally:
        space.client.close()
        redis_server.stop()


def test_a_connection_killed_between_calls_is_made_again(
    redis_space: RedisSpace,
) -> None:
    script = redis_space.client.register_script(APPEND)
    pipeline = ScriptPipeline(redis_space)
    assert pipeline.call(script, ["test:list"], ["first"]) == 1
    killed = redis_space.client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    # The round trip that finds its connection gone is not sent again (a script
    # Redis may have run must not run twice): its caller is told, and may retry.
    with pytest.raises(StoreUnavailable):
        pipeline.call(script, ["test:list"], ["lost"])
    assert pipeline.call(script, ["test:list"], ["second"]) == 2


def test_submitted_calls_are_answered_in_order_while_callers_go_on(
    redis_space: RedisSpace,
) -> None:
    script = redis_space.client.register_script(APPEND)
    pipeline = ScriptPipeline(redis_space)
    answered: list[tuple[str, object]] = []
    all_in = threading.Event()
    values = [f"s{i}" for i in range(50)] + ["boom", "last"]

    def then(value: str) -> Callable[[object, StoreUnavailable | None], None]:
        def answer(reply: object, error: StoreUnavailable | None) -> None:
            answered.append((value, error if error is not None else reply))
            if value == "last":
                all_in.set()

        return answer

    for value in values:
        pipeline.submit(script, ["test:list"], [value], then(value))
    # A caller that waits, between submitted ones, is answered too.
    assert pipeline.call(script, ["test:other"], ["waited"]) == 1
    assert all_in.wait(10)
    assert [value for value, _ in answered] == values
    replies = [reply for value, reply in answered if value != "boom"]
    assert replies == list(range(1, 52))
    assert isinstance(dict(answered)["boom"], StoreUnavailable)


def test_a_failing_answer_handler_does_not_stop_the_others(
    redis_space: RedisSpace,
) -> None:
    script = redis_space.client.register_script(APPEND)
    pipeline = ScriptPipeline(redis_space)
    answered = threading.Event()

    def broken(reply: object, error: StoreUnavailable | None) -> None:
        raise RuntimeError("a bug in one handler")

    pipeline.submit(script, ["test:list"], ["a"], broken)
    pipeline.submit(script, ["test:list"], ["b"], lambda r, e: answered.set())
    assert answered.wait(10)
