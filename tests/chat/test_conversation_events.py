"""The conversation in the events (issue #15), through the Flask-SocketIO test client:
replies, mentions, /me, edits, deletions, reactions and whispers, with every refusal."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from app import create_app
from guards.rate_limit import RatePolicy
from support import make_config, new_identity

Connect = Callable[..., SocketIOTestClient]


@pytest.fixture
def app() -> Flask:
    return create_app(make_config(rate_policy=RatePolicy(threshold=10_000)))


def received(client: SocketIOTestClient, event: str) -> list[Any]:
    items = client.get_received()
    return [
        item["args"] if item["name"] == "message" else item["args"][0]
        for item in items
        if item["name"] == event
    ]


def call(client: SocketIOTestClient, event: str, payload: Any) -> Any:
    return client.emit(event, payload, callback=True)


def person(
    connect: Connect, name: str, identity: str | None = None
) -> SocketIOTestClient:
    client = connect(auth={"identity": identity or new_identity()})
    assert call(client, "join", {"room": "r", "username": name})["ok"]
    return client


@pytest.fixture
def trio(connect: Connect) -> tuple[SocketIOTestClient, ...]:
    alice, bob, carol = (person(connect, name) for name in ("alice", "bob", "carol"))
    for client in (alice, bob, carol):
        client.get_received()
    return alice, bob, carol


def code(reply: Any) -> str:
    assert reply["ok"] is False, reply
    return str(reply["error"]["code"])


def test_a_reply_carries_a_quote_and_mentions_name_their_people(
    trio: tuple[SocketIOTestClient, ...],
) -> None:
    alice, bob, carol = trio
    question = call(
        alice, "message", {"room": "r", "message": "lunch, @Bob and @CAROL?"}
    )
    (broadcast,) = received(carol, "message")
    trips = {
        m["username"]: m["trip"] for m in call(bob, "join", {"room": "r"})["members"]
    }
    assert broadcast["mentions"] == [trips["bob"], trips["carol"]]
    answer = call(
        bob, "message", {"room": "r", "message": "yes", "reply_to": question["id"]}
    )
    (reply,) = [m for m in received(carol, "message") if m["id"] == answer["id"]]
    assert reply["reply_to"] == {
        "id": question["id"],
        "username": "alice",
        "trip": trips["alice"],
        "snippet": "lunch, @Bob and @CAROL?",
    }
    assert "mentions" not in reply
    unknown = call(bob, "message", {"room": "r", "message": "hm", "reply_to": "nope"})
    assert code(unknown) == "unknown_message"


def test_me_is_an_action(trio: tuple[SocketIOTestClient, ...]) -> None:
    alice, bob, _ = trio
    assert call(alice, "message", {"room": "r", "message": "waves", "kind": "action"})[
        "ok"
    ]
    assert received(bob, "message")[0]["kind"] == "action"
    bad = call(alice, "message", {"room": "r", "message": "x", "kind": "shout"})
    assert code(bad) == "invalid_payload"


def test_edit_delete_and_react_reach_the_room_as_numbered_events(
    trio: tuple[SocketIOTestClient, ...],
) -> None:
    alice, bob, carol = trio
    sent = call(alice, "message", {"room": "r", "message": "helo"})
    edited = call(alice, "edit", {"room": "r", "id": sent["id"], "message": "hello"})
    reacted = call(
        bob, "react", {"room": "r", "id": sent["id"], "emoji": "👋", "on": True}
    )
    deleted = call(alice, "delete", {"room": "r", "id": sent["id"]})
    assert [edited["seq"], reacted["seq"], deleted["seq"]] == [
        sent["seq"] + 1,
        sent["seq"] + 2,
        sent["seq"] + 3,
    ]
    items = [
        (i["name"], i["args"] if i["name"] == "message" else i["args"][0])
        for i in carol.get_received()
    ]
    names = [name for name, _ in items]
    assert names == ["message", "message_edited", "reaction", "message_deleted"]
    assert items[1][1]["message"] == "hello" and items[2][1]["count"] == 1
    assert items[3][1] == {
        "event": "message_deleted",
        "room": "r",
        "id": sent["id"],
        "seq": deleted["seq"],
    }
    state = call(carol, "join", {"room": "r"})
    assert [m.get("event") for m in state["messages"]] == [
        None,
        "message_edited",
        "reaction",
        "message_deleted",
    ]
    assert (
        state["messages"][0]["deleted"] is True
        and state["messages"][0]["message"] == ""
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"id": "nope", "message": "x"}, "unknown_message"),
        ({"message": "x"}, "invalid_payload"),
        ({"id": 5, "message": "x"}, "invalid_payload"),
        ({"id": "SENT", "message": ""}, "empty_message"),
        ({"id": "SENT", "message": "x" * 3000}, "message_too_long"),
    ],
)
def test_edit_refusals(
    trio: tuple[SocketIOTestClient, ...], payload: dict[str, Any], expected: str
) -> None:
    alice, _, _ = trio
    sent = call(alice, "message", {"room": "r", "message": "original"})
    if payload.get("id") == "SENT":
        payload = {**payload, "id": sent["id"]}
    assert code(call(alice, "edit", {"room": "r", **payload})) == expected


def test_only_authors_change_their_messages(
    trio: tuple[SocketIOTestClient, ...], connect: Connect
) -> None:
    alice, bob, _ = trio
    sent = call(alice, "message", {"room": "r", "message": "mine"})
    edit = {"room": "r", "id": sent["id"], "message": "yours now"}
    assert code(call(bob, "edit", edit)) == "not_author"
    assert code(call(bob, "delete", {"room": "r", "id": sent["id"]})) == "not_author"
    outsider = connect()
    assert (
        code(call(outsider, "delete", {"room": "r", "id": sent["id"]})) == "not_in_room"
    )
    assert received(bob, "message_deleted") == []


def test_the_edit_window_closes() -> None:
    config = dataclasses.replace(
        make_config(rate_policy=RatePolicy(threshold=10_000)), edit_window_seconds=0
    )
    app = create_app(config)
    client = app.extensions["socketio"].test_client(app)
    try:
        call(client, "join", {"room": "r", "username": "alice"})
        sent = call(client, "message", {"room": "r", "message": "old news"})
        time.sleep(0.01)
        late = call(client, "edit", {"room": "r", "id": sent["id"], "message": "x"})
        assert code(late) == "edit_window_passed"
        assert call(client, "delete", {"room": "r", "id": sent["id"]})["ok"]
    finally:
        client.disconnect()


@pytest.mark.parametrize("emoji", ["", "a", "👍👍 ", "x" * 20, 7, None])
def test_a_reaction_is_one_emoji(
    trio: tuple[SocketIOTestClient, ...], emoji: Any
) -> None:
    alice, _, _ = trio
    sent = call(alice, "message", {"room": "r", "message": "react to me"})
    reply = call(
        alice, "react", {"room": "r", "id": sent["id"], "emoji": emoji, "on": True}
    )
    assert code(reply) == "invalid_payload"
    missing_on = call(alice, "react", {"room": "r", "id": sent["id"], "emoji": "👍"})
    assert code(missing_on) == "invalid_payload"


def test_too_many_reactions(trio: tuple[SocketIOTestClient, ...]) -> None:
    alice, bob, _ = trio
    sent = call(alice, "message", {"room": "r", "message": "vote"})
    for n in range(20):
        emoji = chr(0x1F600 + n)
        assert call(
            bob, "react", {"room": "r", "id": sent["id"], "emoji": emoji, "on": True}
        )["ok"]
    extra = {"room": "r", "id": sent["id"], "emoji": "🚀", "on": True}
    assert code(call(bob, "react", extra)) == "too_many_reactions"


def test_retried_changes_are_applied_and_broadcast_once(
    trio: tuple[SocketIOTestClient, ...],
) -> None:
    alice, bob, carol = trio
    sent = call(alice, "message", {"room": "r", "message": "+1 me"})
    react = {
        "room": "r",
        "id": sent["id"],
        "emoji": "➕",
        "on": True,
        "client_id": "r-1",
    }
    first, again = call(bob, "react", react), call(bob, "react", react)
    assert first == again and first["ok"]
    assert [r["count"] for r in received(carol, "reaction")] == [1]


def test_a_whisper_reaches_only_the_two_people(
    trio: tuple[SocketIOTestClient, ...], connect: Connect
) -> None:
    alice, bob, carol = trio
    bob_tab = connect(auth={"identity": None})  # no identity: someone else
    call(bob_tab, "join", {"room": "r", "username": "bobby"})
    ack = call(alice, "whisper", {"room": "r", "to": "BOB", "message": "psst"})
    assert ack["ok"] and ack["to"]["username"] == "bob"
    (got,) = received(bob, "whisper")
    assert (got["username"], got["message"], got["id"]) == ("alice", "psst", ack["id"])
    assert [w["id"] for w in received(alice, "whisper")] == [ack["id"]]
    assert received(carol, "whisper") == [] and received(bob_tab, "whisper") == []
    state = call(carol, "join", {"room": "r"})
    assert "psst" not in repr(state)
    nobody = call(alice, "whisper", {"room": "r", "to": "dave", "message": "hi"})
    assert code(nobody) == "no_such_member"
    assert code(call(alice, "whisper", {"room": "r", "to": "", "message": "x"})) == (
        "invalid_payload"
    )


def test_every_tab_of_a_person_gets_their_whispers(connect: Connect) -> None:
    identity = new_identity()
    first = person(connect, "bob", identity)
    second = person(connect, "bob", identity)
    alice = person(connect, "alice")
    for client in (first, second):
        client.get_received()
    call(alice, "whisper", {"room": "r", "to": "bob", "message": "both tabs"})
    assert [w["message"] for w in received(first, "whisper")] == ["both tabs"]
    assert [w["message"] for w in received(second, "whisper")] == ["both tabs"]
