"""The conversation on a real server (`python app.py`) over real websockets, in each
async mode: catching up after a reconnect shows each edit, deletion and reaction
exactly once and in order; whispers reach only their two people."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import RecordingClient, ServerProcess, new_identity

pytestmark = pytest.mark.integration


@pytest.fixture
def open_client(server: ServerProcess) -> Iterator[Any]:
    opened: list[RecordingClient] = []

    def open_one(identity: str | None = None, batches: bool = False) -> RecordingClient:
        auth: dict[str, Any] = {"identity": identity or new_identity()}
        if batches:
            auth["features"] = ["messages"]
        client = RecordingClient(server.url, auth=auth)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.close()


def join(client: RecordingClient, room: str, name: str, **fields: Any) -> Any:
    reply = client.call("join", {"room": room, "username": name, **fields})
    assert reply["ok"], reply
    return reply


@pytest.mark.parametrize("batches", [False, True], ids=["plain", "batches"])
def test_catching_up_shows_each_change_once_in_order(
    open_client: Any, batches: bool
) -> None:
    room = f"catchup-{int(batches)}"
    alice, carol = open_client(), open_client()
    bob_identity = new_identity()
    bob = open_client(bob_identity, batches)
    join(alice, room, "alice")
    join(carol, room, "carol")
    state = join(bob, room, "bob")
    first = alice.call("message", {"room": room, "message": "helo"})
    second = alice.call("message", {"room": room, "message": "oops"})
    third = carol.call("message", {"room": room, "message": "lunch?"})
    bob.wait_for("messages" if batches else "message", lambda _: True)
    seen_seq = third["seq"]
    bob.close()
    changes = [
        alice.call("edit", {"room": room, "id": first["id"], "message": "hello"}),
        alice.call("delete", {"room": room, "id": second["id"]}),
        carol.call(
            "react", {"room": room, "id": third["id"], "emoji": "🍕", "on": True}
        ),
        alice.call(
            "react", {"room": room, "id": third["id"], "emoji": "🍕", "on": True}
        ),
        carol.call(
            "react", {"room": room, "id": third["id"], "emoji": "🍕", "on": False}
        ),
    ]
    assert all(change["ok"] for change in changes), changes
    back = open_client(bob_identity, batches)
    caught_up = join(back, room, "bob", epoch=state["epoch"], since=seen_seq)
    entries = caught_up["messages"]
    assert [e["seq"] for e in entries] == [c["seq"] for c in changes]
    assert [e["event"] for e in entries] == [
        "message_edited",
        "message_deleted",
        "reaction",
        "reaction",
        "reaction",
    ]
    assert [e.get("count") for e in entries[2:]] == [1, 2, 1]
    # Live again: the next change arrives once, after everything above.
    edit = alice.call("edit", {"room": room, "id": first["id"], "message": "hello!"})
    live = back.wait_for("message_edited", lambda e: e["seq"] == edit["seq"])
    assert live["message"] == "hello!"
    assert len(back.received("message_edited")) == 1
    # Someone new sees the messages as they are now.
    newcomer = open_client()
    fresh = join(newcomer, room, "dave")
    messages = {m["id"]: m for m in fresh["messages"] if "event" not in m}
    assert messages[first["id"]]["message"] == "hello!"
    assert messages[second["id"]]["deleted"] is True
    assert messages[third["id"]]["reactions"] == {"🍕": [alice_trip(fresh)]}


def alice_trip(state: dict[str, Any]) -> str:
    (alice,) = [m for m in state["members"] if m["username"] == "alice"]
    return str(alice["trip"])


def test_a_whisper_reaches_only_its_two_people(open_client: Any) -> None:
    alice, bob, carol = open_client(), open_client(), open_client(batches=True)
    for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        join(client, "whispers", name)
    ack = alice.call("whisper", {"room": "whispers", "to": "bob", "message": "psst"})
    assert ack["ok"]
    assert bob.wait_for("whisper")["message"] == "psst"
    assert alice.wait_for("whisper")["id"] == ack["id"]
    # Carol hears a message sent after the whisper, and never the whisper.
    marker = alice.call("message", {"room": "whispers", "message": "hello all"})
    carol.wait_for("messages", lambda batch: batch[-1]["id"] == marker["id"])
    assert carol.received("whisper") == []
    refused = alice.call(
        "whisper", {"room": "whispers", "to": "nobody", "message": "x"}
    )
    assert refused["error"]["code"] == "no_such_member"


def test_every_refusal_of_the_conversation_on_a_real_server(open_client: Any) -> None:
    alice, bob = open_client(), open_client()
    join(alice, "refusals", "alice")
    join(bob, "refusals", "bob")
    sent = alice.call("message", {"room": "refusals", "message": "mine"})
    cases = [
        (bob, "edit", {"id": sent["id"], "message": "x"}, "not_author"),
        (bob, "delete", {"id": sent["id"]}, "not_author"),
        (bob, "edit", {"id": "nope", "message": "x"}, "unknown_message"),
        (bob, "react", {"id": "nope", "emoji": "👍", "on": True}, "unknown_message"),
        (bob, "message", {"message": "re", "reply_to": "nope"}, "unknown_message"),
        (
            bob,
            "react",
            {"id": sent["id"], "emoji": "no", "on": True},
            "invalid_payload",
        ),
        (bob, "whisper", {"to": "carol", "message": "hi"}, "no_such_member"),
        (bob, "message", {"message": "x", "kind": "shout"}, "invalid_payload"),
    ]
    for client, event, payload, code in cases:
        reply = client.call(event, {"room": "refusals", **payload})
        assert reply["ok"] is False and reply["error"]["code"] == code, (event, reply)
        client.wait_for(
            "error", lambda e, c=code, ev=event: (e["code"], e["event"]) == (c, ev)
        )
    for n in range(20):
        react = {"room": "refusals", "id": sent["id"], "emoji": chr(0x1F600 + n)}
        assert bob.call("react", {**react, "on": True})["ok"]
    extra = {"room": "refusals", "id": sent["id"], "emoji": "🚀", "on": True}
    assert bob.call("react", extra)["error"]["code"] == "too_many_reactions"
    # Nothing refused reached the room.
    assert alice.received("message_edited") == alice.received("message_deleted") == []
