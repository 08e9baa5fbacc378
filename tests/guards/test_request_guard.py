"""Rate limits, caps and throttles, through the Flask-SocketIO test client."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask
from flask_socketio import SocketIOTestClient

from app import create_app
from guards.rate_limit import RatePolicy
from support import make_config, received


def app_with(**overrides: Any) -> Flask:
    return create_app(make_config(**overrides))


def client(app: Flask, auth: Any = None) -> SocketIOTestClient:
    opened = app.extensions["socketio"].test_client(app, auth=auth)
    opened.get_received()
    return opened


def test_flood_is_refused_with_retry_after_and_nothing_broadcast() -> None:
    app = app_with(rate_policy=RatePolicy(threshold=10, disconnect_score=1000))
    flooder, bystander = client(app), client(app)
    flooder.emit("join", {"room": "r", "username": "flooder"})
    bystander.emit("join", {"room": "r", "username": "bystander"})
    bystander.get_received()
    spam = {"room": "r", "message": "spam"}
    acks = [flooder.emit("message", spam, callback=True)]
    while acks[-1]["ok"]:
        acks.append(flooder.emit("message", spam, callback=True))
    refusal = acks[-1]["error"]
    assert refusal["code"] == "rate_limited" and refusal["retry_after_ms"] > 0
    errors = received(flooder, "error")
    assert errors[-1]["code"] == "rate_limited"
    assert errors[-1]["retry_after_ms"] == refusal["retry_after_ms"]
    assert len(received(bystander, "message")) == len(acks) - 1
    hello = {"room": "r", "message": "hi"}
    assert bystander.emit("message", hello, callback=True)["ok"]


def test_hammering_after_refusal_disconnects() -> None:
    """(The test client has no transport: only its namespace is disconnected here;
    tests/guards/test_connection_limits.py checks the transport on a real server.)"""
    app = app_with(rate_policy=RatePolicy(threshold=5, disconnect_score=10))
    flooder = client(app)
    for _ in range(12):
        if not flooder.is_connected():
            break
        flooder.emit("list_rooms", {})
    assert not flooder.is_connected()


def test_malformed_requests_cost_more_than_good_ones() -> None:
    app = app_with(rate_policy=RatePolicy(threshold=25, disconnect_score=1000))
    rogue = client(app)
    acks = [rogue.emit("join", "nope", callback=True) for _ in range(3)]
    codes = [ack["error"]["code"] for ack in acks]
    assert codes == ["invalid_payload", "invalid_payload", "rate_limited"]


def test_rooms_per_connection_are_capped() -> None:
    app = app_with(max_rooms_per_connection=2)
    visitor = client(app)
    assert visitor.emit("join", {"room": "one"}, callback=True)["ok"]
    assert visitor.emit("join", {"room": "two"}, callback=True)["ok"]
    assert visitor.emit("join", {"room": "two"}, callback=True)["ok"]
    ack = visitor.emit("join", {"room": "three"}, callback=True)
    assert ack["error"]["code"] == "too_many_rooms"
    visitor.emit("leave", {"room": "one"})
    assert visitor.emit("join", {"room": "three"}, callback=True)["ok"]


def test_typing_notices_are_throttled_per_connection() -> None:
    app = app_with()
    typist, watcher = client(app), client(app)
    typist.emit("join", {"room": "r"})
    watcher.emit("join", {"room": "r"})
    watcher.get_received()
    for _ in range(5):
        typist.emit("typing", {"room": "r", "typing": True})
    typist.emit("typing", {"room": "r", "typing": False})
    notices = received(watcher, "typing")
    assert [n["typing"] for n in notices] == [True, False]


def test_disconnect_leaves_no_per_connection_state() -> None:
    app = app_with()
    batches = {"features": ["messages"]}
    clients = [client(app, batches if n % 2 else None) for n in range(5)]
    for n, each in enumerate(clients):
        each.emit("join", {"room": f"r{n % 2}"})
        each.emit("typing", {"room": f"r{n % 2}", "typing": True})
    assert app.extensions["chat_events"].connections.counts()["batching"] == 2
    for each in clients:
        each.disconnect()
    guards = app.extensions["chat_guards"]
    assert app.extensions["chat_store"].counts()["members"] == 0
    assert app.extensions["chat_events"].connections.counts() == {
        "connections": 0,
        "typing": 0,
        "batching": 0,
    }
    assert guards.limiter.counts()["open"] == 0


def test_metrics_report_what_the_server_holds() -> None:
    app = app_with()
    one, two = client(app), client(app)
    one.emit("join", {"room": "a"})
    two.emit("join", {"room": "a"})
    with app.test_client().get("/metrics") as response:
        text = response.get_data(as_text=True)
    assert "chat_handler_connection_state 2.0" in text
    assert "chat_room_members 2.0" in text
    assert "chat_rooms 1.0" in text


def test_reserved_nicknames_are_refused() -> None:
    visitor = client(app_with(rate_policy=RatePolicy(threshold=1000)))
    for name in ("System", "ADMIN", "S.y.s.t.e.m", "Ｓｅｒｖｅｒ"):
        ack = visitor.emit("join", {"room": "r", "username": name}, callback=True)
        assert ack["error"]["code"] == "invalid_username", name


def test_default_policy_is_documented_values() -> None:
    assert dataclasses.asdict(RatePolicy()) == {
        "half_life": 10.0,
        "threshold": 30.0,
        "disconnect_score": 60.0,
        "memory_seconds": 300.0,
        "message_cost": 1.0,
        "message_length_cost": 4.0,
        "join_cost": 3.0,
        "bad_request_cost": 10.0,
        "request_cost": 1.0,
        "typing_cost": 0.2,
        "rename_cost": 6.0,
    }
