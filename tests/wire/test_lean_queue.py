"""A connection's outgoing queue (wire/lean_queue.py) behaves as the async mode's own
queue does for every call Engine.IO and the writer make, blocking ones included, and
holds nothing while it is empty and nobody waits. Real servers run on it in every
eventlet and gevent test; here a long-polling client, the one user of its blocking
get, chats through it."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from conftest import StartServer
from support import RecordingClient, message_listener
from wire import lean_queue

GREEN_MODES = ("eventlet", "gevent")


class Green:
    """The async mode's spawn, sleep and join, as the server's green threads use."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        if mode == "gevent":
            import gevent
            from engineio.async_drivers import gevent as driver

            self.spawn: Callable[..., Any] = gevent.spawn
            self.sleep: Callable[[float], None] = gevent.sleep
            self.wait: Callable[[Any], Any] = lambda thread: thread.get(timeout=10)
        else:
            with warnings.catch_warnings():  # deprecated upstream; it is our default
                warnings.simplefilter("ignore")
                import eventlet
                from engineio.async_drivers import eventlet as driver

            self.spawn = eventlet.spawn
            self.sleep = eventlet.sleep
            self.wait = lambda thread: thread.wait()
        self.async_ = driver._async


class FakeServer:
    def __init__(self, async_: dict[str, Any]) -> None:
        self._async = async_


@pytest.fixture(params=GREEN_MODES)
def green(request: pytest.FixtureRequest) -> Green:
    return Green(request.param)


def new_queue(green: Green) -> lean_queue.LeanQueue:
    return lean_queue.queue_class(FakeServer(green.async_))()  # type: ignore[arg-type]


def holds_nothing(queue: lean_queue.LeanQueue) -> bool:
    """The point of the class: no deque, no event, nothing pending."""
    return (
        queue._items is None
        and queue._arrived is None
        and queue._all_done is None
        and queue._unfinished == 0
    )


def test_items_come_out_in_order_and_a_drained_queue_holds_nothing(
    green: Green,
) -> None:
    queue = new_queue(green)
    assert queue.empty() and queue.qsize() == 0 and holds_nothing(queue)
    for item in ("a", None, "c"):
        queue.put(item)
    assert not queue.empty() and queue.qsize() == 3
    taken = []
    for _ in range(3):
        taken.append(queue.get(block=False))
        queue.task_done()
    assert taken == ["a", None, "c"]
    assert holds_nothing(queue)
    assert sys.getsizeof(queue) <= 64


def test_get_without_blocking_raises_the_modes_own_empty_error(green: Green) -> None:
    queue = new_queue(green)
    with pytest.raises(green.async_["queue_empty"]):
        queue.get(block=False)
    with pytest.raises(green.async_["queue_empty"]):
        queue.get(timeout=0.01)


def test_a_blocked_getter_wakes_on_a_put_from_another_green_thread(
    green: Green,
) -> None:
    queue = new_queue(green)
    getter = green.spawn(queue.get, timeout=10)
    green.sleep(0.01)
    assert queue._arrived is not None  # the getter waits on an event
    queue.put("hello")
    assert green.wait(getter) == "hello"
    queue.task_done()
    assert holds_nothing(queue)


def test_two_waiting_getters_each_get_one_item(green: Green) -> None:
    queue = new_queue(green)
    getters = [green.spawn(queue.get, timeout=10) for _ in range(2)]
    green.sleep(0.01)
    queue.put(1)
    green.sleep(0.01)
    queue.put(2)
    assert sorted(green.wait(getter) for getter in getters) == [1, 2]


def test_a_getter_gives_up_at_its_timeout_and_later_items_still_arrive(
    green: Green,
) -> None:
    queue = new_queue(green)
    with pytest.raises(green.async_["queue_empty"]):
        green.wait(green.spawn(queue.get, timeout=0.02))
    queue.put("late")
    assert queue.get(block=False) == "late"


def test_join_waits_until_every_item_is_marked_done(green: Green) -> None:
    queue = new_queue(green)
    queue.put("x")
    queue.put("y")
    finished: list[str] = []
    joiner = green.spawn(lambda: (queue.join(), finished.append("joined")))
    green.sleep(0.01)
    queue.get()
    queue.task_done()
    green.sleep(0.01)
    assert finished == []  # one item is still not done
    queue.get()
    queue.task_done()
    green.wait(joiner)
    assert finished == ["joined"] and holds_nothing(queue)
    queue.join()  # nothing pending: returns at once
    with pytest.raises(ValueError):
        queue.task_done()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_long_polling_client_chats_both_ways_through_the_lean_queue(
    start_server: StartServer, async_mode: str
) -> None:
    server = start_server(async_mode)
    poller, heard = message_listener(server.url, ["polling"])
    other = RecordingClient(server.url)
    try:
        poller.call("join", {"room": "lean", "username": "poller"}, timeout=10)
        other.call("join", {"room": "lean", "username": "other"})
        for number in range(30):
            ack = other.call("message", {"room": "lean", "message": f"m{number}"})
            assert ack["ok"], ack
        reply = poller.call("message", {"room": "lean", "message": "back"}, timeout=10)
        assert reply["ok"], reply
        assert other.wait_for("message", lambda m: m["id"] == reply["id"])
        assert poller.transport() == "polling"
        assert [m["message"] for m in heard][:30] == [f"m{n}" for n in range(30)]
        assert "Traceback" not in server.log()
    finally:
        poller.disconnect()
        other.close()
