"""Identity on a real server (`python app.py`) over real websockets, in each async
mode: names nobody else can take, leases across reconnects, two tabs as one
person, rename, no identity as unverified, and no key in the logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import RecordingClient, ServerProcess, new_identity

pytestmark = pytest.mark.integration

# Logged at DEBUG, so that the test of the logs sees everything there is.
SERVER_ENV = {"LOG_LEVEL": "DEBUG"}


class People:
    """Opens clients with or without an identity key; closes them at teardown."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.opened: list[RecordingClient] = []
        self.keys: list[str] = []

    def open(self, identity: str | None = None) -> RecordingClient:
        if identity:
            self.keys.append(identity)
        auth = {"identity": identity} if identity else None
        client = RecordingClient(self.server.url, auth=auth)
        self.opened.append(client)
        return client


@pytest.fixture
def people(server: ServerProcess) -> Iterator[People]:
    crowd = People(server)
    yield crowd
    for client in crowd.opened:
        client.close()
    log = server.log()
    assert "DEBUG chat." in log  # the log holds everything it can
    for key in crowd.keys:
        assert key not in log, "an identity key reached the log"


def join(client: RecordingClient, room: str, name: str) -> Any:
    return client.call("join", {"room": room, "username": name})


def test_a_taken_name_is_refused_and_the_room_hears_nothing(people: People) -> None:
    alice = people.open(new_identity())
    impostor = people.open(new_identity())
    join(alice, "taken", "alice")
    ack = join(impostor, "taken", "ALICE")
    assert ack["error"]["code"] == "nickname_taken"
    assert ack["error"]["suggestion"] == "ALICE2"
    assert impostor.wait_for("error")["suggestion"] == "ALICE2"
    alice.call("message", {"room": "taken", "message": "still just me"})
    assert [j["username"] for j in alice.received("joined")] == ["alice"]


def test_a_name_survives_its_owners_reconnect(people: People) -> None:
    identity = new_identity()
    first = people.open(identity)
    trip = join(first, "lease", "alice")["trip"]
    assert trip and len(trip) == 10
    watcher = people.open()
    join(watcher, "lease", "watcher")
    first.close()
    watcher.wait_for("left", lambda left: left["username"] == "alice")
    grabber = people.open(new_identity())
    assert join(grabber, "lease", "alice")["error"]["code"] == "nickname_taken"
    back = people.open(identity)
    ack = join(back, "lease", "alice")
    assert ack["ok"] and (ack["username"], ack["trip"]) == ("alice", trip)
    watcher.wait_for("joined", lambda j: j["username"] == "alice" and j["count"] == 2)


def test_two_tabs_are_one_person(people: People) -> None:
    identity = new_identity()
    watcher = people.open()
    join(watcher, "tabs", "watcher")
    tab1, tab2 = people.open(identity), people.open(identity)
    join(tab1, "tabs", "alice")
    assert len(join(tab2, "tabs", "alice")["members"]) == 2
    tab2.call("message", {"room": "tabs", "message": "from tab 2"})
    message = watcher.wait_for("message", lambda m: m["message"] == "from tab 2")
    assert message["username"] == "alice" and message["trip"]
    tab2.close()
    tab1.call("message", {"room": "tabs", "message": "tab 1 is still here"})
    watcher.wait_for("message", lambda m: m["message"] == "tab 1 is still here")
    assert [j["username"] for j in watcher.received("joined")] == ["watcher", "alice"]
    assert watcher.received("left") == []


def test_rename_reaches_the_room(people: People) -> None:
    alice, bob = people.open(new_identity()), people.open(new_identity())
    join(alice, "renames", "alice")
    join(bob, "renames", "bob")
    ack = alice.call("rename", {"room": "renames", "username": "alicia"})
    renamed = bob.wait_for("renamed")
    assert renamed == {key: ack[key] for key in ("room", "sid", "trip", "old", "new")}
    assert (renamed["old"], renamed["new"]) == ("alice", "alicia")
    refused = bob.call("rename", {"room": "renames", "username": "Alicia"})
    assert refused["error"]["code"] == "nickname_taken"


def test_no_identity_means_no_trip(people: People) -> None:
    script = people.open()
    assert script.wait_for("connected")["trip"] is None
    ack = join(script, "scripts", "bot")
    assert ack["trip"] is None and ack["members"][0]["trip"] is None
    reply = script.call("message", {"room": "scripts", "message": "beep"})
    assert reply["ok"]
    assert script.wait_for("message")["trip"] is None
