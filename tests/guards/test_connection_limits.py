"""Limits a client must not be able to switch off, on real servers (issue #10)."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from support import (
    ENGINE_IO_PATH,
    GREEN_MODES,
    RawClient,
    StartServer,
    is_closed,
    join_raw,
    raw_socket,
    wait_until,
)

pytestmark = pytest.mark.integration

STRICT = {"RATE_LIMIT_THRESHOLD": "30", "RATE_LIMIT_DISCONNECT_SCORE": "60"}


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_client_sent_disconnect_event_switches_no_limit_off(
    start_server: StartServer, async_mode: str
) -> None:
    """`42["disconnect"]` used to release the connection from the rate limiter while
    it stayed open: 32,720 messages accepted in 10 s from one connection."""
    server = start_server(async_mode, **STRICT)
    flooder = RawClient(server)
    assert flooder.call("join", {"room": "r"})["ok"]
    refusal = flooder.call("disconnect", {})
    assert refusal["error"]["code"] == "unknown_event"
    assert flooder.wait_for("error", lambda e: e["event"] == "disconnect")
    acks = [flooder.call("message", {"room": "r", "message": "x"}) for _ in range(40)]
    assert not all(ack["ok"] for ack in acks)
    assert acks[-1]["error"]["code"] == "rate_limited"
    assert server.metric("chat_rate_limited_connections") == 1
    flooder.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_client_sent_connect_event_charges_no_address(
    start_server: StartServer, async_mode: str
) -> None:
    """`42["connect",{"REMOTE_ADDR":...}]` used to count a connection against any
    address the client named (a victim locked out in 11 ms)."""
    server = start_server(async_mode, MAX_CONNECTIONS_PER_IP="3")
    prankster = RawClient(server)
    for _ in range(10):
        ack = prankster.call("connect", {"REMOTE_ADDR": "203.0.113.9"})
        assert ack["error"]["code"] == "unknown_event"
    assert server.metric("chat_client_addresses") == 1
    assert server.metric("chat_connected_clients") == 1
    # The real address still has its own two slots left.
    others = [raw_socket(server) for _ in range(2)]
    assert server.metric("chat_connected_clients") == 3
    for connection in others:
        connection.close()
    prankster.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_a_flooders_neighbour_is_refused_with_an_ack_and_stays_connected(
    start_server: StartServer, async_mode: str
) -> None:
    """Behind one NAT, the next connection after a flooder takes over its score: it
    must be told when to retry, not disconnected on its first request."""
    server = start_server(async_mode, **STRICT)
    flooder = raw_socket(server)
    try:
        for _ in range(300):
            flooder.send('42["list_rooms",{}]')
    except (websocket.WebSocketException, OSError):
        pass
    assert is_closed(flooder)
    wait_until(lambda: server.metric("chat_connected_clients") == 0)
    neighbour = RawClient(server)
    first = neighbour.call("join", {"room": "r"})
    assert first["ok"] is False
    assert first["error"]["code"] == "rate_limited"
    assert first["error"]["retry_after_ms"] > 0
    second = neighbour.call("list_rooms", {})
    assert second["error"]["code"] == "rate_limited"
    assert not neighbour.closed.is_set()
    assert server.metric("chat_connected_clients") == 1
    neighbour.close()


@pytest.mark.parametrize("async_mode", GREEN_MODES)
def test_sessions_that_never_join_the_namespace_count_against_their_address(
    start_server: StartServer, async_mode: str
) -> None:
    """Engine.IO sessions without a `40` (websocket or long-polling) were unlimited."""
    server = start_server(async_mode, MAX_CONNECTIONS_PER_IP="4")
    url = server.url.replace("http", "ws") + ENGINE_IO_PATH
    idle = [websocket.create_connection(url, timeout=10) for _ in range(2)]
    polling = [
        requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=5)
        for _ in range(2)
    ]
    assert all(response.status_code == 200 for response in polling)
    refused = requests.get(
        f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=5
    )
    assert refused.status_code == 401
    assert json.loads(refused.text)["code"] == "too_many_connections"
    for connection in idle:
        connection.close()
    wait_until(lambda: server.metric("chat_connected_clients") == 2)
    late = raw_socket(server)
    assert join_raw(late, "r")["ok"]
    late.close()
