"""wire/resting.py: an idle websocket's reader gives up its green thread until the
socket is readable, and the connection behaves as if it had never stopped."""

from __future__ import annotations

import time
import warnings
from typing import Any

import gevent
import pytest
from gevent import socket as gevent_socket

from conftest import StartServer
from support import GREEN_MODES, RawClient, connections_held, wait_until
from wire import resting, websocket_limits
from wire.gevent_reads import peek_after_waiting
from wire.resting import REST_AFTER_SECONDS, Rest, Resting
from wire.websocket_limits import _peek_or_rest

# -- the layers' ends: run once, when reading has really ended ----------------------


def test_a_layers_end_runs_once_after_the_last_resumption() -> None:
    ends: list[str] = []
    rests = [Rest(lambda: "done", resting.Bell())]
    first = Rest(lambda: rests.pop(), resting.Bell())

    outcome = resting.after(lambda: first, lambda: ends.append("end"))
    assert isinstance(outcome, Rest) and ends == []  # resting: not ended
    assert outcome.bell is first.bell  # the writer's bell reaches the outermost
    outcome = outcome.resume()
    assert isinstance(outcome, Rest) and ends == []  # rested again
    assert outcome.resume() == "done" and ends == ["end"]


def test_a_layers_end_runs_when_reading_fails() -> None:
    ends: list[str] = []

    def fails() -> Any:
        raise OSError("peer gone")

    def rests() -> Rest:
        return Rest(fails, resting.Bell())

    outcome = resting.after(rests, lambda: ends.append("end"))
    with pytest.raises(OSError):
        outcome.resume()
    assert ends == ["end"]


def test_a_bell_wakes_once() -> None:
    bell, woken = resting.Bell(), []
    bell.ring()  # nothing resting yet: nothing happens
    bell.wake = lambda: woken.append(1)
    bell.ring()
    bell.ring()
    assert woken == [1]


def test_an_exchange_that_must_not_rest_goes_on_waiting() -> None:
    answers: list[Any] = [Resting(), Resting(), "PING probe"]

    def read() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert resting.waiting_through_rests(read)() == "PING probe"


# -- the wait at a message boundary ---------------------------------------------------


def test_gevent_a_silent_socket_rests_and_what_comes_is_peeked_at_not_read() -> None:
    ours, peer = gevent_socket.socketpair()
    ours.settimeout(60)  # the socket's own timeout does not apply to a rest
    reader = ours.makefile("rb", 256)
    started = time.monotonic()
    with pytest.raises(Resting):
        gevent.spawn(peek_after_waiting, reader, True).get(timeout=10)
    assert time.monotonic() - started >= REST_AFTER_SECONDS * 0.9
    waiter = gevent.spawn(peek_after_waiting, reader, True)
    gevent.sleep(0.05)
    peer.sendall(b"\x81\x85abcdefgh")
    assert waiter.get(timeout=5)[:8] == b"\x81\x85abcdef"
    assert reader.read(2) == b"\x81\x85"  # nothing consumed by the peek
    assert ours.gettimeout() == 60
    for closable in (reader, ours, peer):
        closable.close()


def test_gevent_a_wait_that_ends_in_data_leaves_no_rest_behind() -> None:
    """The rest's timer ends with the wait: a green thread that goes on (reading the
    message, handling it) past REST_AFTER_SECONDS is never interrupted."""
    ours, peer = gevent_socket.socketpair()
    reader = ours.makefile("rb", 256)

    def peek_then_work() -> bytes:
        head = peek_after_waiting(reader, True)
        gevent.sleep(REST_AFTER_SECONDS * 1.5)  # a long handler, after the wait
        return head

    worker = gevent.spawn(peek_then_work)
    gevent.sleep(0.05)
    peer.sendall(b"\x81\x85abcdefgh")
    assert worker.get(timeout=10)[:2] == b"\x81\x85"
    for closable in (reader, ours, peer):
        closable.close()


@pytest.mark.parametrize("path", ["os-socket", "eventlet-recv"])
def test_eventlet_a_silent_socket_rests_and_what_comes_is_peeked_at_not_read(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with warnings.catch_warnings():  # deprecated upstream; it is our default
        warnings.simplefilter("ignore")
        import eventlet
        from eventlet.green import socket as green_socket

    # The OS socket under eventlet's is read directly once the server's install has
    # made eventlet's classes known; any other socket through eventlet's recv.
    monkeypatch.setattr(websocket_limits, "_green_socket_type", None)
    monkeypatch.setattr(websocket_limits, "_raw_types", frozenset())
    if path == "os-socket":
        websocket_limits._know_eventlet_sockets()

    ours, peer = green_socket.socketpair()
    started = time.monotonic()
    with pytest.raises(Resting):
        eventlet.spawn(_peek_or_rest, ours).wait()
    assert time.monotonic() - started >= REST_AFTER_SECONDS * 0.9
    waiter = eventlet.spawn(_peek_or_rest, ours)
    eventlet.sleep(0.05)
    peer.sendall(b"\x81\x85abcdefgh")
    assert waiter.wait()[:8] == b"\x81\x85abcdef"
    assert ours.recv(2) == b"\x81\x85"  # nothing consumed by the peek
    assert ours.recv(16) == b"abcdefgh"
    peer.close()
    assert eventlet.spawn(_peek_or_rest, ours).wait() == b""  # the peer has gone
    ours.close()


# -- a real server: idle readers rest, and nothing changes for the clients ------------


def resting_readers(server: Any) -> float:
    return server.metric("chat_resting_readers")


def socket_writes(server: Any) -> dict[str, float]:
    """chat_socket_writes_total by path (direct, partial, queued)."""
    writes = {}
    for line in server.metrics().splitlines():
        if line.startswith("chat_socket_writes_total{"):
            path = line.split('path="', 1)[1].split('"', 1)[0]
            writes[path] = float(line.rsplit(" ", 1)[1])
    return writes


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_idle_readers_rest_and_wake_for_what_their_clients_send(
    start_server: StartServer, async_mode: str
) -> None:
    server = start_server(async_mode)
    alice, bob = RawClient(server), RawClient(server)
    try:
        for name, client in (("alice", alice), ("bob", bob)):
            assert client.call("join", {"room": "porch", "username": name})["ok"]
        wait_until(
            lambda: resting_readers(server) == 2, timeout=15, what="both readers rest"
        )
        # A resting reader's client still hears the room (writes need no reader),
        # and one that speaks wakes its reader: everything arrives, in order.
        writes_before = socket_writes(server)
        texts = [f"after a rest {n}" for n in range(8)]
        acks = [alice.emit("message", {"room": "porch", "message": t}) for t in texts]
        assert all(alice.ack(ack)["ok"] for ack in acks)
        bob.wait_for("message", lambda m: m["message"] == texts[-1])
        heard = [m["message"] for m in bob.received("message")]
        assert heard == texts
        # ... written straight to its socket, as to any idle connection: a rest
        # does not end the connection's direct-write lane (framed_broadcast.py).
        writes = socket_writes(server)
        direct = writes["direct"] - writes_before["direct"]
        queued = writes["queued"] - writes_before["queued"]
        assert direct >= len(texts) and queued < len(texts), (direct, queued)
        assert server.metric("chat_reader_wakes_total") >= 1
        # Rests again, and wakes again.
        wait_until(lambda: resting_readers(server) == 2, timeout=15, what="rest again")
        assert bob.call("message", {"room": "porch", "message": "me too"})["ok"]
        alice.wait_for("message", lambda m: m["message"] == "me too")
        assert bob.call("leave", {"room": "porch"})["ok"]
    finally:
        alice.close()
        bob.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_resting_connection_ends_when_its_client_goes_or_stops_answering(
    start_server: StartServer, async_mode: str
) -> None:
    """A client that closes its end while its reader rests wakes the reader, which
    finds the end; one that stops reading and answering is closed by the
    heartbeat, whose close rings the resting reader's bell. Either way the socket
    is closed and the room forgets the member."""
    server = start_server(
        async_mode, PING_INTERVAL_SECONDS="3", PING_TIMEOUT_SECONDS="2"
    )
    leaving, sleeping, staying = RawClient(server), RawClient(server), RawClient(server)
    try:
        for name, client in (
            ("leaving", leaving),
            ("sleeping", sleeping),
            ("staying", staying),
        ):
            assert client.call("join", {"room": "porch", "username": name})["ok"]
        wait_until(
            lambda: resting_readers(server) == 3, timeout=15, what="readers rest"
        )
        sleeping.sleep()
        leaving.close()
        wait_until(
            lambda: connections_held(server, [leaving.connection]) == 0,
            timeout=15,
            what="the socket of the client that left closed",
        )
        wait_until(
            lambda: connections_held(server, [sleeping.connection]) == 0,
            timeout=30,
            what="the silent client's socket closed",
        )
        assert server.metric("chat_connected_clients") == 1
        wait_until(
            lambda: server.metric("chat_room_members") == 1,
            timeout=15,
            what="the room forgetting both",
        )
        # The one left still talks (its reader woken by pongs and by this).
        assert staying.call("message", {"room": "porch", "message": "alone"})["ok"]
        staying.close()
        # No reader is left resting: each one ended with its connection (a
        # reader never woken would keep its connection's state, and under
        # eventlet its slot in the server's pool, for good).
        wait_until(
            lambda: (
                resting_readers(server) == 0
                and server.metric("chat_connected_clients") == 0
            ),
            timeout=15,
            what="every reader ended",
        )
    finally:
        for client in (leaving, sleeping, staying):
            client.close()
