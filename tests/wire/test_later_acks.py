"""LaterAck and InFlight on their own: an ack that comes after its handler returned,
whichever of its result and its destination is known first, in each connection's
order. (On real nodes and Redis: tests/state/test_later_acks.py.)"""

from __future__ import annotations

import threading
from typing import Any

from wire import later_acks
from wire.later_acks import InFlight, LaterAck


def test_the_ack_goes_out_once_both_the_answer_and_its_way_are_known() -> None:
    sent: list[Any] = []
    first = LaterAck()
    first.settle(lambda: {"ok": True, "seq": 1})
    assert sent == [] and not first.finished
    first.arm(sent.append)
    second = LaterAck()
    second.arm(sent.append)
    assert not second.finished
    second.settle(lambda: {"ok": True, "seq": 2})
    assert sent == [{"ok": True, "seq": 1}, {"ok": True, "seq": 2}]
    assert first.finished and second.finished


def test_a_failing_answer_is_the_guards_to_answer() -> None:
    sent: list[Any] = []
    later = LaterAck()
    later.fail = lambda failure: {"ok": False, "why": str(failure)}
    later.arm(sent.append)

    def refused() -> Any:
        raise ValueError("not_in_room")

    later.settle(refused)
    assert sent == [{"ok": False, "why": "not_in_room"}]
    assert later.finished


def test_a_broken_reply_still_marks_the_ack_done() -> None:
    later = LaterAck()

    def broken(ack: Any) -> None:
        raise OSError("connection gone")

    later.arm(broken)
    later.settle(lambda: {"ok": True})
    assert later.finished


def test_waiting_for_a_connection_waits_for_its_messages_in_order() -> None:
    in_flight = InFlight()
    acks = [LaterAck() for _ in range(4)]
    for later in acks:
        in_flight.add("a", later)
        later.arm(lambda ack: None)
    in_flight.add("b", LaterAck())
    assert in_flight.count() == 5
    released: list[str] = []

    def wait(leave: int, label: str) -> None:
        in_flight.wait("a", leave)
        released.append(label)

    two_left = threading.Thread(target=wait, args=(2, "two left"))
    none_left = threading.Thread(target=wait, args=(0, "none left"))
    two_left.start()
    none_left.start()
    acks[0].settle(dict)
    acks[1].settle(dict)
    two_left.join(5)
    assert released == ["two left"]
    acks[2].settle(dict)
    acks[3].settle(dict)
    none_left.join(5)
    assert released == ["two left", "none left"]
    assert in_flight.count() == 1  # b's
    in_flight.wait("nobody")
    in_flight.forget("b")
    assert in_flight.count() == 0


def test_an_event_goes_to_its_own_handler_and_any_other_through_socketio() -> None:
    """The installed dispatch calls an event's handler itself; a catch-all, an event
    name that is not a string and `disconnect` go through python-socketio's own
    lookup, as before."""
    import socketio

    sio = socketio.Server(async_mode="threading", async_handlers=False)
    later_acks.install(sio, later_acks.InFlight())
    calls: list[tuple[Any, ...]] = []
    sio.on("message", lambda sid, payload: calls.append(("message", sid, payload)))
    sio.on("*", lambda event, sid, *args: calls.append(("*", event, sid, *args)))
    sio.on("disconnect", lambda sid, reason: calls.append(("disconnect", sid, reason)))

    for data in (["message", {"a": 1}], ["other", 1, 2], [5, 1], ["disconnect", "x"]):
        sio._handle_event_internal(sio, "sid1", "eio1", data, "/", None)
    assert calls == [
        ("message", "sid1", {"a": 1}),
        ("*", "other", "sid1", 1, 2),
        ("*", 5, "sid1", 1),
        ("disconnect", "sid1", "x"),
    ]
