"""Identity in the events (issue #13), through the Flask-SocketIO test client: trips,
names nobody else can take, two tabs as one person, leases, rename."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from app import create_app
from chat.identity import trip_of
from guards.rate_limit import RatePolicy
from support import TEST_TRIP_SECRET, make_config, new_identity

Connect = Callable[..., SocketIOTestClient]


def trip_for(identity: str) -> str:
    return trip_of(base64.urlsafe_b64decode(identity + "="), TEST_TRIP_SECRET)


def events(client: SocketIOTestClient) -> list[tuple[str, Any]]:
    """(name, payload) of everything received since the last call."""
    return [
        # The test client unwraps the `message` event's argument list itself.
        (item["name"], item["args"] if item["name"] == "message" else item["args"][0])
        for item in client.get_received()
    ]


@pytest.fixture
def app() -> Flask:
    """Limits out of the way, except in the test of the rename limit."""
    return create_app(make_config(rate_policy=RatePolicy(threshold=10_000)))


def named(client: SocketIOTestClient, event: str) -> list[Any]:
    return [payload for name, payload in events(client) if name == event]


def person(connect: Connect, identity: str | None = None) -> SocketIOTestClient:
    client = connect(auth={"identity": identity} if identity else None)
    client.get_received()
    return client


def join(client: SocketIOTestClient, name: str, room: str = "r") -> Any:
    return client.emit("join", {"room": room, "username": name}, callback=True)


def test_connected_names_the_trip_and_never_echoes_the_key(connect: Connect) -> None:
    identity = new_identity()
    client = connect(auth={"identity": identity})
    ((name, connected),) = events(client)
    assert name == "connected" and connected["trip"] == trip_for(identity)
    assert identity not in repr(connected)
    unverified = connect()
    assert named(unverified, "connected")[0]["trip"] is None


def test_every_event_about_a_person_carries_their_trip(connect: Connect) -> None:
    identity = new_identity()
    trip = trip_for(identity)
    alice, bob = person(connect, identity), person(connect)
    join(bob, "bob")
    ack = join(alice, "alice")
    assert (ack["username"], ack["trip"]) == ("alice", trip)
    assert {m["username"]: m["trip"] for m in ack["members"]} == {
        "alice": trip,
        "bob": None,
    }
    alice.emit("message", {"room": "r", "message": "hi"}, callback=True)
    alice.emit("typing", {"room": "r", "typing": True}, callback=True)
    seen = dict(events(bob))
    assert seen["joined"]["trip"] == trip
    assert seen["message"]["trip"] == trip
    assert seen["typing"]["trip"] == trip
    bob.emit("message", {"room": "r", "message": "hey"}, callback=True)
    assert named(alice, "message")[-1]["trip"] is None
    everything = repr(seen) + repr(ack)
    assert identity not in everything


def test_a_taken_name_is_refused_with_a_suggestion(connect: Connect) -> None:
    alice, impostor = person(connect, new_identity()), person(connect, new_identity())
    join(alice, "alice")
    events(alice)
    ack = join(impostor, "Аlice")  # Cyrillic А
    assert ack["ok"] is False
    assert ack["error"]["code"] == "nickname_taken"
    assert ack["error"]["suggestion"] == "Аlice2"
    (error,) = named(impostor, "error")
    assert error["code"] == "nickname_taken" and error["event"] == "join"
    assert error["suggestion"] == "Аlice2" and "Аlice2" in error["message"]
    assert events(alice) == []  # nobody was announced
    assert join(impostor, error["suggestion"])["ok"] is True


def test_two_tabs_of_one_person_are_counted_once(connect: Connect) -> None:
    identity = new_identity()
    watcher = person(connect)
    join(watcher, "watcher")
    events(watcher)
    tab1, tab2 = person(connect, identity), person(connect, identity)
    join(tab1, "alice")
    ack = join(tab2, "alice-in-tab-2")
    assert ack["ok"] and ack["username"] == "alice"
    assert len(ack["members"]) == 2
    joined = named(watcher, "joined")
    assert [j["username"] for j in joined] == ["alice"] and joined[0]["count"] == 2
    events(tab1)
    tab2.emit("leave", {"room": "r"}, callback=True)
    assert named(watcher, "left") == []
    (own_left,) = named(tab2, "left")
    assert own_left["reason"] == "leave" and own_left["count"] == 2
    tab1.disconnect()
    (left,) = named(watcher, "left")
    assert left["username"] == "alice" and left["reason"] == "disconnect"


def test_a_name_waits_for_its_owner_across_a_reconnect(connect: Connect) -> None:
    identity = new_identity()
    first = person(connect, identity)
    join(first, "alice")
    first.disconnect()
    grabber = person(connect, new_identity())
    assert join(grabber, "alice")["error"]["code"] == "nickname_taken"
    scripted = person(connect)  # no identity: no trip, no claim either
    assert join(scripted, "alice")["error"]["code"] == "nickname_taken"
    back = person(connect, identity)
    ack = join(back, "alice")
    assert ack["ok"] and ack["username"] == "alice"


def test_a_name_without_a_trip_is_free_once_its_holder_left(connect: Connect) -> None:
    first = person(connect)
    join(first, "anon-script")
    first.disconnect()
    assert join(person(connect), "anon-script")["ok"] is True


def test_rename_tells_the_room_and_keeps_the_rules(connect: Connect) -> None:
    identity = new_identity()
    alice, bob = person(connect, identity), person(connect, new_identity())
    join(alice, "alice")
    join(bob, "bob")
    events(alice)
    ack = alice.emit("rename", {"room": "r", "username": "alicia"}, callback=True)
    assert ack["ok"] and (ack["old"], ack["new"]) == ("alice", "alicia")
    (renamed,) = named(bob, "renamed")
    assert renamed == {
        "room": "r",
        "sid": ack["sid"],
        "trip": trip_for(identity),
        "old": "alice",
        "new": "alicia",
    }
    refused = bob.emit("rename", {"room": "r", "username": "ALICIA"}, callback=True)
    assert refused["error"]["code"] == "nickname_taken"
    assert refused["error"]["suggestion"] == "ALICIA2"
    reserved = bob.emit("rename", {"room": "r", "username": "Adm1n"}, callback=True)
    assert reserved["error"]["code"] == "invalid_username"
    missing = bob.emit("rename", {"room": "r"}, callback=True)
    assert missing["error"]["code"] == "invalid_username"
    outside = bob.emit("rename", {"room": "elsewhere", "username": "x"}, callback=True)
    assert outside["error"]["code"] == "not_in_room"
    assert named(alice, "renamed") == [renamed]  # refusals told nobody
    # The freed name can be taken, and messages carry the new one.
    assert bob.emit("rename", {"room": "r", "username": "alice"}, callback=True)["ok"]
    alice.emit("message", {"room": "r", "message": "hi"}, callback=True)
    assert named(bob, "message")[-1]["username"] == "alicia"


def test_renames_are_rate_limited() -> None:
    """With the default limits: a few renames in a row, then `rate_limited`."""
    app = create_app(make_config())
    alice = app.extensions["socketio"].test_client(
        app, auth={"identity": new_identity()}
    )
    join(alice, "alice")
    codes = []
    for n in range(8):
        ack = alice.emit("rename", {"room": "r", "username": f"a{n}"}, callback=True)
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    assert codes[:4] == ["ok"] * 4
    assert "rate_limited" in codes


def test_a_retry_is_recognised_across_tabs_of_one_trip_only(connect: Connect) -> None:
    identity = new_identity()
    tab1, tab2, other = (
        person(connect, identity),
        person(connect, identity),
        person(connect, new_identity()),
    )
    for client, name in ((tab1, "alice"), (tab2, "alice"), (other, "bob")):
        join(client, name)
    payload = {"room": "r", "message": "once", "client_id": "c-1"}
    first = tab1.emit("message", payload, callback=True)
    again = tab2.emit("message", payload, callback=True)  # the same person retrying
    assert (again["id"], again["seq"]) == (first["id"], first["seq"])
    theirs = other.emit("message", payload, callback=True)
    assert theirs["id"] != first["id"] and theirs["seq"] == first["seq"] + 1
