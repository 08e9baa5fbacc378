"""Every event of the contract through the Flask-SocketIO test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

import chat_events
from app import create_app
from support import make_config

Connect = Callable[..., SocketIOTestClient]


def received(client: SocketIOTestClient, event: str) -> list[Any]:
    """Payloads of `event` received since the last call (consumes the queue)."""
    payloads = []
    for item in client.get_received():
        if item["name"] == event:
            # The test client unwraps the `message` event's argument list itself.
            payloads.append(item["args"] if event == "message" else item["args"][0])
    return payloads


def joined_client(connect: Connect, room: str, username: str) -> SocketIOTestClient:
    client = connect()
    client.emit("join", {"room": room, "username": username}, callback=True)
    client.get_received()
    return client


def test_connect_sends_sid_time_and_limits(connect: Connect) -> None:
    client = connect()
    (connected,) = received(client, "connected")
    assert connected["sid"]
    assert isinstance(connected["server_time"], int)
    assert connected["limits"] == {
        "max_message_length": 2000,
        "max_username_length": 32,
        "max_room_length": 64,
        "history_size": 100,
        "edit_window_seconds": 600,
    }


def test_test_message_echoes_message_and_timestamp_only(connect: Connect) -> None:
    client = connect()
    client.get_received()
    payload = {"message": "ping", "timestamp": 123}
    ack = client.emit("test_message", {**payload, "extra": [1, 2]}, callback=True)
    (response,) = received(client, "test_response")
    assert response["status"] == "ok" and response["data"] == payload
    assert isinstance(response["server_time"], int)
    assert ack["ok"] is True


def test_join_announces_to_room_and_sends_state_to_joiner(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    bob = connect()
    bob.get_received()
    ack = bob.emit("join", {"room": "Lobby", "username": "bob"}, callback=True)
    (bob_joined,) = received(alice, "joined")
    assert bob_joined["username"] == "bob" and bob_joined["count"] == 2
    assert bob_joined["room"] == "lobby"
    events = [item["name"] for item in bob.get_received()]
    assert events == ["joined", "room_state"]
    assert ack["ok"] is True and ack["room"] == "lobby"
    assert sorted(m["username"] for m in ack["members"]) == ["alice", "bob"]
    assert ack["messages"] == [] and ack["last_seq"] == 0 and ack["epoch"]


def test_join_without_username_gets_anonymous_name(connect: Connect) -> None:
    client = connect()
    client.get_received()
    client.emit("join", {"room": "lobby"}, callback=True)
    (joined,) = received(client, "joined")
    assert joined["username"].startswith("anon-") and len(joined["username"]) == 9


def test_an_anonymous_name_already_taken_is_drawn_again(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's own pick of a name never refuses a join: four hex digits
    collide about once in 600 joins in a room of 110 anonymous people."""
    drawn = iter(["anon-0001", "anon-0001", "anon-0001", "anon-0002"])
    monkeypatch.setattr(chat_events, "anonymous_name", lambda: next(drawn))
    first = connect()
    assert first.emit("join", {"room": "lobby"}, callback=True)["username"] == (
        "anon-0001"
    )
    second = connect()
    ack = second.emit("join", {"room": "lobby"}, callback=True)
    assert ack["ok"] is True and ack["username"] == "anon-0002"
    assert sorted(m["username"] for m in ack["members"]) == ["anon-0001", "anon-0002"]
    # A name the joiner chose is theirs to change: refused, not swapped.
    third = connect()
    refused = third.emit(
        "join", {"room": "lobby", "username": "anon-0001"}, callback=True
    )
    assert refused["ok"] is False
    assert refused["error"]["code"] == "nickname_taken"


def test_anonymous_names_run_out_only_after_several_draws(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_events, "anonymous_name", lambda: "anon-0001")
    assert connect().emit("join", {"room": "lobby"}, callback=True)["ok"] is True
    refused = connect().emit("join", {"room": "lobby"}, callback=True)
    assert refused["ok"] is False
    assert refused["error"]["code"] == "nickname_taken"


def test_joining_twice_is_harmless(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    ack = alice.emit("join", {"room": "lobby", "username": "alice"}, callback=True)
    assert ack["ok"] is True and len(ack["members"]) == 1
    assert received(alice, "joined") == []


def test_message_reaches_room_members_only(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    bob = joined_client(connect, "lobby", "bob")
    outsider = joined_client(connect, "elsewhere", "carol")
    ack = alice.emit(
        "message",
        {"room": "lobby", "message": "hello", "timestamp": 5, "client_id": "c1"},
        callback=True,
    )
    (seen_by_bob,) = received(bob, "message")
    (seen_by_alice,) = received(alice, "message")
    assert seen_by_bob == seen_by_alice
    assert seen_by_bob["message"] == "hello" and seen_by_bob["username"] == "alice"
    assert seen_by_bob["seq"] == 1 and seen_by_bob["client_timestamp"] == 5
    assert seen_by_bob["client_id"] == "c1"
    assert ack == {
        "ok": True,
        "id": seen_by_bob["id"],
        "seq": 1,
        "timestamp": seen_by_bob["timestamp"],
    }
    assert received(outsider, "message") == []


def test_message_username_in_payload_cannot_impersonate(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    alice.emit("message", {"room": "lobby", "message": "hi", "username": "bob"})
    (message,) = received(alice, "message")
    assert message["username"] == "alice"


def test_retry_with_same_client_id_is_not_broadcast_again(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    bob = joined_client(connect, "lobby", "bob")
    payload = {"room": "lobby", "message": "once", "client_id": "retry-1"}
    first = alice.emit("message", payload, callback=True)
    second = alice.emit("message", payload, callback=True)
    assert first == second
    assert len(received(bob, "message")) == 1


def test_history_since_and_before(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    for n in range(5):
        alice.emit("message", {"room": "lobby", "message": f"m{n}"})
    state = alice.emit("join", {"room": "lobby"}, callback=True)
    epoch = state["epoch"]
    gap = alice.emit(
        "history", {"room": "lobby", "epoch": epoch, "since": 2}, callback=True
    )
    assert [m["seq"] for m in gap["messages"]] == [3, 4, 5]
    back = alice.emit(
        "history",
        {"room": "lobby", "epoch": epoch, "before": 3, "limit": 1},
        callback=True,
    )
    assert [m["seq"] for m in back["messages"]] == [2]
    assert back["last_seq"] == 5 and back["epoch"] == epoch


def test_rejoin_with_epoch_and_since_gets_only_missed(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    for n in range(3):
        alice.emit("message", {"room": "lobby", "message": f"m{n}"})
    epoch = alice.emit("join", {"room": "lobby"}, callback=True)["epoch"]
    bob = connect()
    ack = bob.emit("join", {"room": "lobby", "epoch": epoch, "since": 2}, callback=True)
    assert [m["message"] for m in ack["messages"]] == ["m2"]
    stale = connect().emit(
        "join", {"room": "lobby", "epoch": "old", "since": 2}, callback=True
    )
    assert len(stale["messages"]) == 3


def test_history_size_bounds_room_state(connect: Connect) -> None:
    app = create_app(make_config(history_size=3))
    client = app.extensions["socketio"].test_client(app)
    client.emit("join", {"room": "r"})
    for n in range(5):
        client.emit("message", {"room": "r", "message": f"m{n}"})
    state = client.emit("join", {"room": "r"}, callback=True)
    assert [m["message"] for m in state["messages"]] == ["m2", "m3", "m4"]
    assert state["last_seq"] == 5


def test_typing_reaches_others_not_sender(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    bob = joined_client(connect, "lobby", "bob")
    alice.emit("typing", {"room": "lobby", "typing": True})
    (notice,) = received(bob, "typing")
    assert notice["username"] == "alice" and notice["typing"] is True
    assert received(alice, "typing") == []


def test_leave_tells_room_and_leaver(connect: Connect) -> None:
    alice = joined_client(connect, "lobby", "alice")
    bob = joined_client(connect, "lobby", "bob")
    ack = bob.emit("leave", {"room": "lobby"}, callback=True)
    assert ack == {"ok": True, "room": "lobby"}
    (alice_sees,) = received(alice, "left")
    (bob_sees,) = received(bob, "left")
    assert alice_sees == bob_sees
    assert alice_sees["username"] == "bob" and alice_sees["count"] == 1
    assert alice_sees["reason"] == "leave"
    alice.emit("message", {"room": "lobby", "message": "still here?"})
    assert received(bob, "message") == []


def test_disconnect_leaves_every_room(connect: Connect, app: Flask) -> None:
    alice = joined_client(connect, "one", "alice")
    alice.emit("join", {"room": "two", "username": "alice"})
    bob = joined_client(connect, "one", "bob")
    bob.emit("join", {"room": "two", "username": "bob"})
    bob.get_received()
    alice.disconnect()
    lefts = received(bob, "left")
    assert sorted(left["room"] for left in lefts) == ["one", "two"]
    assert all(left["username"] == "alice" and left["count"] == 1 for left in lefts)
    assert {left["reason"] for left in lefts} == {"disconnect"}
    assert app.extensions["chat_store"].counts()["connections"] == 1


def test_shutdown_drain_says_the_members_are_only_away(
    connect: Connect, app: Flask
) -> None:
    alice = joined_client(connect, "one", "alice")
    joined_client(connect, "one", "bob")
    assert app.extensions["chat_events"].drain() == 2
    lefts = received(alice, "left")
    assert {left["reason"] for left in lefts} == {"shutdown"}


def test_list_rooms_busiest_first() -> None:
    """With LIST_ROOMS_DEFAULT=listed (unlisted rooms: test_moderation_events.py)."""
    app = create_app(make_config(list_rooms_by_default=True))

    def connect() -> SocketIOTestClient:
        return app.extensions["socketio"].test_client(app)

    joined_client(connect, "quiet", "a")
    joined_client(connect, "busy", "b")
    asker = joined_client(connect, "busy", "c")
    ack = asker.emit("list_rooms", {}, callback=True)
    no_owner = {"topic": "", "owner_name": None}
    expected = [
        {"room": "busy", "count": 2, **no_owner},
        {"room": "quiet", "count": 1, **no_owner},
    ]
    assert ack == {"ok": True, "rooms": expected}
    assert received(asker, "rooms") == [{"rooms": expected}]
    assert asker.emit("list_rooms", callback=True)["rooms"] == expected


BAD_REQUESTS = [
    ("join", "lobby", "invalid_payload"),
    ("join", {"room": "no spaces"}, "invalid_room"),
    ("join", {"room": "lobby", "username": "   "}, "invalid_username"),
    ("join", {"room": "lobby", "since": "3"}, "invalid_payload"),
    ("leave", {"room": "never-joined"}, "not_in_room"),
    ("leave", [], "invalid_payload"),
    ("message", {"room": "lobby", "message": "  "}, "empty_message"),
    ("message", {"room": "lobby", "message": "x" * 2001}, "message_too_long"),
    ("message", {"room": "elsewhere", "message": "hi"}, "not_in_room"),
    ("message", {"room": "lobby"}, "invalid_payload"),
    ("message", {"room": "lobby", "message": "hi", "client_id": 7}, "invalid_payload"),
    ("history", {"room": "elsewhere"}, "not_in_room"),
    ("history", {"room": "lobby", "limit": 0}, "invalid_payload"),
    ("typing", {"room": "lobby", "typing": "yes"}, "invalid_payload"),
    ("typing", {"room": "elsewhere", "typing": True}, "not_in_room"),
    ("test_message", {"message": 5}, "invalid_payload"),
    ("test_message", {"message": "x", "timestamp": 1e300}, "invalid_payload"),
    ("message", {"room": "lobby", "message": "\ud800"}, "invalid_payload"),
    ("connect", {"REMOTE_ADDR": "203.0.113.9"}, "unknown_event"),
    ("disconnect", {}, "unknown_event"),
    ("list_rooms", "all", "invalid_payload"),
    ("no_such_event", {}, "unknown_event"),
]


@pytest.mark.parametrize(("event", "payload", "code"), BAD_REQUESTS)
def test_bad_request_gets_error_event_and_error_ack(
    connect: Connect, app: Flask, event: str, payload: Any, code: str
) -> None:
    sender = joined_client(connect, "lobby", "alice")
    bystander = joined_client(connect, "lobby", "bob")
    before = app.extensions["chat_store"].counts()
    ack = sender.emit(event, payload, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert ack["error"]["message"]
    (error,) = received(sender, "error")
    assert error == {"code": code, "message": ack["error"]["message"], "event": event}
    assert app.extensions["chat_store"].counts() == before
    assert bystander.get_received() == []


def test_several_arguments_are_invalid_payload(connect: Connect) -> None:
    client = connect()
    client.get_received()
    ack = client.emit("join", {"room": "a"}, {"room": "b"}, callback=True)
    assert ack["error"]["code"] == "invalid_payload"


def test_unexpected_failure_is_internal_error_without_details(
    connect: Connect, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = app.extensions["chat_store"]

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store, "list_rooms", explode)
    client = connect()
    client.get_received()
    ack = client.emit("list_rooms", {}, callback=True)
    assert ack["error"]["code"] == "internal_error"
    (error,) = received(client, "error")
    assert "secret" not in error["message"] and "Traceback" not in error["message"]
    assert client.emit("test_message", {"message": "alive"}, callback=True)["ok"]
