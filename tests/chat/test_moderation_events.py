"""Moderation in the events (issue #14), through the Flask-SocketIO test client:
unlisted rooms, owners, moderators, kick, ban, mute, slow mode, lock, topic,
hand-over and the audit log, each action and its refusals.

Each person connects from an address of their own, so an address ban hits only
whom it should.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from app import create_app
from chat.identity import trip_of
from guards.proof_of_work import solve
from guards.rate_limit import RatePolicy
from support import TEST_TRIP_SECRET, make_config, new_identity, wrong_solution

Connect = Callable[..., SocketIOTestClient]
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def app_with(**settings: Any) -> Flask:
    """Limits out of the way; proofs of work easy (8 bits), raids only when asked."""
    defaults: dict[str, Any] = {
        "rate_policy": RatePolicy(threshold=10_000),
        "pow_bits": 8,
        "raid_joins_per_minute": 3,
        "raid_messages_per_minute": 0,
        "connection_flood_per_minute": 0,
    }
    return create_app(make_config(**{**defaults, **settings}))


@pytest.fixture
def app() -> Flask:
    return app_with()


class Person:
    """A test client with an identity key (or none) and an address of its own."""

    def __init__(
        self, app: Flask, connect: Connect, identity: str | None, address: str
    ) -> None:
        self.identity = new_identity() if identity == "new" else identity
        self.address = address or next(_addresses)
        auth = {"identity": self.identity} if self.identity else None
        self.client = connect(
            auth=auth, flask_test_client=from_address(app, self.address)
        )
        (connected,) = self.events("connected")
        self.trip = connected["args"][0]["trip"]
        self.sid = connected["args"][0]["sid"]

    def call(self, event: str, **payload: Any) -> Any:
        return self.client.emit(event, {"room": "r", **payload}, callback=True)

    def join(self, name: str, room: str = "r") -> Any:
        return self.client.emit("join", {"room": room, "username": name}, callback=True)

    def events(self, name: str) -> list[Any]:
        return [item for item in self.client.get_received() if item["name"] == name]

    def payloads(self, name: str) -> list[Any]:
        return [item["args"][0] for item in self.events(name)]


Arrive = Callable[..., Person]


def from_address(app: Flask, address: str) -> Any:
    """A Flask test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def arrive(app: Flask, connect: Connect) -> Arrive:
    """Connects a new person (a new identity key unless told otherwise)."""

    def person(identity: str | None = "new", address: str = "") -> Person:
        return Person(app, connect, identity, address)

    return person


def code(ack: Any) -> str:
    assert ack["ok"] is False, ack
    return str(ack["error"]["code"])


@pytest.fixture
def room(arrive: Arrive) -> tuple[Person, Person, Person]:
    """alice (owner), bob and carol (members), all with trips, in room r."""
    people = []
    for name in ("alice", "bob", "carol"):
        person = arrive()
        assert person.join(name)["ok"]
        people.append(person)
    for person in people:
        person.client.get_received()
    return people[0], people[1], people[2]


def test_rooms_are_unlisted_until_their_owner_lists_them(
    room: tuple[Person, Person, Person],
) -> None:
    alice, bob, _ = room
    assert alice.call("list_rooms")["rooms"] == []
    assert code(bob.call("list_room", listed=True)) == "not_allowed"
    assert (
        alice.call("topic", topic="  all   about\ncats ")["topic"] == "all about cats"
    )
    info = alice.call("list_room", listed=True)
    assert info["listed"] is True
    assert bob.call("list_rooms")["rooms"] == [
        {"room": "r", "count": 3, "topic": "all about cats", "owner_name": "alice"}
    ]
    assert [p["listed"] for p in bob.payloads("room_info")] == [False, True]
    alice.call("list_room", listed=False)
    assert bob.call("list_rooms")["rooms"] == []


def test_an_operator_can_list_rooms_by_default(connect: Connect) -> None:
    app = app_with(list_rooms_by_default=True)
    client = app.extensions["socketio"].test_client(app)
    client.emit("join", {"room": "open", "username": "x"}, callback=True)
    ack = client.emit("list_rooms", {}, callback=True)
    assert ack["rooms"] == [
        {"room": "open", "count": 1, "topic": "", "owner_name": None}
    ]
    client.disconnect()


def test_the_first_trip_to_join_owns_the_room(arrive: Arrive) -> None:
    anonymous = arrive(identity=None)
    state = anonymous.join("anon")
    assert state["info"]["owner"] is None  # no trip, no ownership
    alice = arrive()
    state = alice.join("alice")
    assert state["info"]["owner"] == alice.trip
    assert state["info"]["owner_name"] == "alice"
    (info,) = anonymous.payloads("room_info")
    assert info["owner"] == alice.trip
    bob = arrive()
    assert bob.join("bob")["info"]["owner"] == alice.trip


def test_a_kicked_person_is_told_why_and_kept_out_for_a_while(
    room: tuple[Person, Person, Person],
) -> None:
    alice, bob, carol = room
    assert code(carol.call("kick", name="bob")) == "not_allowed"
    assert code(alice.call("kick", name="nobody")) == "no_such_member"
    ack = alice.call("kick", name="BOB")
    assert ack["ok"] and ack["target"] == "bob" and ack["target_trip"] == bob.trip
    for person in (bob, carol):
        (left,) = person.payloads("left")
        assert left["reason"] == "kicked" and left["by"] == "alice"
        assert left["sid"] == bob.sid and left["until"] == ack["until"]
    refused = bob.join("bob")
    assert code(refused) == "kicked"
    assert refused["error"]["until"] == ack["until"]
    assert 0 < refused["error"]["retry_after_ms"] <= 300_000
    assert code(bob.call("message", message="still here?")) == "not_in_room"
    # Gone from the room's broadcasts as well.
    carol.call("message", message="hello")
    assert bob.events("message") == []
    assert [e["action"] for e in alice.call("audit_log")["entries"]][:1] == ["kick"]


def test_a_ban_holds_for_the_trip_and_for_the_address(
    arrive: Arrive, room: tuple[Person, Person, Person]
) -> None:
    alice, bob, carol = room
    assert code(alice.call("ban", name="bob", minutes=0)) == "invalid_payload"
    assert code(alice.call("ban", name="bob", minutes="ever")) == "invalid_payload"
    ack = alice.call("ban", name="bob", minutes=60)
    (left,) = carol.payloads("left")
    assert left["reason"] == "banned" and left["until"] == ack["until"]
    # The same person from another address, and someone new from the same one.
    again = arrive(identity=bob.identity)
    assert code(again.join("bob2")) == "banned"
    new_face = arrive(address=bob.address)
    assert code(new_face.join("newbie")) == "banned"
    assert code(arrive(identity=None, address=bob.address).join("x")) == "banned"
    stranger = arrive().join("stranger")
    assert stranger["ok"], stranger
    bans = alice.call("audit_log")["bans"]
    assert [(b["username"], b["kind"]) for b in bans] == [("bob", "ban")]
    assert "198.51.100" not in repr(alice.call("audit_log"))
    assert code(carol.call("unban", name="bob")) == "not_allowed"
    assert alice.call("unban", name="bob")["ok"]
    assert again.join("bob")["ok"]


def test_a_muted_person_reads_but_cannot_post(
    room: tuple[Person, Person, Person],
) -> None:
    alice, bob, carol = room
    ack = alice.call("mute", name="bob", minutes=5)
    (notice,) = carol.payloads("moderation")
    assert notice["action"] == "mute" and notice["target"] == "bob"
    assert notice["until"] == ack["until"] and notice["by"] == "alice"
    refused = bob.call("message", message="let me speak")
    assert code(refused) == "muted" and refused["error"]["until"] == ack["until"]
    assert code(bob.call("whisper", to="carol", message="psst")) == "muted"
    carol.call("message", message="you are muted")
    assert [m["args"]["message"] for m in bob.events("message")] == ["you are muted"]
    assert alice.call("mute", name="bob", minutes=0)["ok"]
    assert bob.call("message", message="thanks")["ok"]
    assert code(bob.call("mute", name="alice", minutes=5)) == "not_allowed"


def test_slow_mode_spaces_out_members_but_not_moderators(
    room: tuple[Person, Person, Person],
) -> None:
    alice, bob, _ = room
    assert code(bob.call("slow_mode", seconds=10)) == "not_allowed"
    assert code(alice.call("slow_mode", seconds=99_999)) == "invalid_payload"
    assert alice.call("slow_mode", seconds=60)["slow_seconds"] == 60
    assert bob.call("message", message="one")["ok"]
    refused = bob.call("message", message="two")
    assert code(refused) == "slow_mode"
    assert 59_000 < refused["error"]["retry_after_ms"] <= 60_000
    assert alice.call("message", message="one")["ok"]
    assert alice.call("message", message="two")["ok"]
    alice.call("slow_mode", seconds=0)
    assert bob.call("message", message="two")["ok"]


def test_a_locked_room_keeps_newcomers_out(
    arrive: Arrive, room: tuple[Person, Person, Person]
) -> None:
    alice, bob, _ = room
    assert alice.call("lock", locked=True)["locked"] is True
    newcomer = arrive()
    assert code(newcomer.join("newcomer")) == "room_locked"
    assert code(arrive(identity=None).join("anon")) == "room_locked"
    bob.call("leave")
    assert bob.join("bob")["ok"]  # present when it was locked
    alice.call("lock", locked=False)
    assert newcomer.join("newcomer")["ok"]


def test_the_owner_appoints_moderators_and_hands_the_room_over(
    arrive: Arrive, room: tuple[Person, Person, Person]
) -> None:
    alice, bob, carol = room
    anon = arrive(identity=None)
    anon.join("anon")
    assert code(alice.call("moderator", name="anon", on=True)) == "no_trip"
    assert code(bob.call("moderator", name="carol", on=True)) == "not_allowed"
    info = alice.call("moderator", name="bob", on=True)
    assert info["moderators"] == [bob.trip]
    assert bob.call("kick", name="carol")["ok"]
    assert code(bob.call("kick", name="alice")) == "not_allowed"
    assert bob.call("audit_log")["ok"]
    info = alice.call("hand_over", name="bob")
    assert info["owner"] == bob.trip and info["owner_name"] == "bob"
    assert info["moderators"] == []
    assert code(alice.call("topic", topic="mine?")) == "not_allowed"
    notices = [n["action"] for n in anon.payloads("moderation")]
    assert notices == ["moderator", "hand_over"]


def test_server_moderators_outrank_owners(connect: Connect) -> None:
    staff_identity = new_identity()
    staff_trip = trip_of(
        base64.urlsafe_b64decode(staff_identity + "="), TEST_TRIP_SECRET
    )
    app = app_with(mod_trips=frozenset({staff_trip}))

    def person(identity: str | None = None) -> SocketIOTestClient:
        return app.extensions["socketio"].test_client(
            app,
            auth={"identity": identity or new_identity()},
            flask_test_client=from_address(app, next(_addresses)),
        )

    owner, staff = person(), person(staff_identity)
    owner.emit("join", {"room": "r", "username": "owner"}, callback=True)
    state = staff.emit("join", {"room": "r", "username": "staff"}, callback=True)
    assert state["info"]["server_moderators"] == [staff_trip]
    assert staff.emit(
        "ban", {"room": "r", "name": "owner", "minutes": 5}, callback=True
    )["ok"]
    info = staff.emit("topic", {"room": "r", "topic": "cleaned up"}, callback=True)
    assert info["owner"] is None
    for client in (owner, staff):
        client.disconnect()


def test_every_moderation_event_refuses_bad_payloads(
    room: tuple[Person, Person, Person],
) -> None:
    alice, _, _ = room
    bad = [
        ("kick", {}),
        ("ban", {"name": "bob"}),
        ("mute", {"name": "bob", "minutes": -1}),
        ("topic", {"topic": 5}),
        ("topic", {"topic": "x" * 201}),
        ("slow_mode", {"seconds": True}),
        ("lock", {"locked": "yes"}),
        ("list_room", {}),
        ("moderator", {"name": "bob"}),
        ("hand_over", {"name": 3}),
        ("unban", {}),
    ]
    for event, payload in bad:
        assert code(alice.call(event, **payload)) == "invalid_payload", event
    for event in ("kick", "audit_log", "lock"):
        ack = alice.client.emit(
            event, {"room": "elsewhere", "name": "x", "locked": True}, callback=True
        )
        assert code(ack) == "not_in_room", event


def test_a_knock_on_a_locked_room_reaches_its_moderators_who_let_people_in(
    arrive: Arrive, room: tuple[Person, Person, Person]
) -> None:
    alice, bob, carol = room
    newcomer = arrive()
    assert newcomer.call("knock", username="newcomer")["locked"] is False
    alice.call("lock", locked=True)
    assert code(newcomer.join("newcomer")) == "room_locked"
    ack = newcomer.call("knock", username="newcomer")
    assert ack["locked"] is True
    (knock,) = alice.payloads("knock")
    assert knock == {
        "room": "r",
        "id": ack["id"],
        "username": "newcomer",
        "trip": newcomer.trip,
        "at": knock["at"],
    }
    assert bob.payloads("knock") == []  # members do not hear knocks
    assert code(bob.call("answer_knock", id=ack["id"], approve=True)) == "not_allowed"
    answer = alice.call("answer_knock", id=ack["id"], approve=True)
    assert answer["approved"] is True
    assert newcomer.payloads("knock_answered") == [
        {"room": "r", "approved": True, "by": "alice"}
    ]
    assert [n["action"] for n in carol.payloads("moderation")][-1] == "let_in"
    assert newcomer.join("newcomer")["ok"]
    assert code(alice.call("answer_knock", id=ack["id"], approve=True)) == (
        "unknown_request"
    )
    turned = arrive()
    knock_id = turned.call("knock", username="turned")["id"]
    alice.call("answer_knock", id=knock_id, approve=False)
    assert turned.payloads("knock_answered")[0]["approved"] is False
    assert code(turned.join("turned")) == "room_locked"


def test_a_report_reaches_the_moderators_with_the_message(
    room: tuple[Person, Person, Person],
) -> None:
    alice, bob, carol = room
    sent = bob.call("message", message="buy cheap watches at example.com")
    assert code(carol.call("report", id="nope")) == "unknown_message"
    assert code(carol.call("report", id=sent["id"], reason=5)) == "invalid_payload"
    assert carol.call("report", id=sent["id"], reason=" spam ")["ok"]
    assert carol.call("report", id=sent["id"])["ok"]  # once is enough
    (report,) = alice.payloads("report")
    assert report["message_id"] == sent["id"] and report["author"] == "bob"
    assert report["reporter"] == "carol" and report["reason"] == "spam"
    assert report["snippet"] == "buy cheap watches at example.com"
    assert bob.payloads("report") == []
    assert [r["id"] for r in alice.call("audit_log")["reports"]] == [report["id"]]
    assert code(carol.call("resolve_report", id=report["id"])) == "not_allowed"
    assert alice.call("resolve_report", id=report["id"])["ok"]
    assert alice.call("audit_log")["reports"] == []


def test_under_a_raid_newcomers_prove_work_and_start_on_probation(
    room: tuple[Person, Person, Person], arrive: Arrive
) -> None:
    alice, bob, carol = room
    assert code(bob.call("raid_mode", on=True)) == "not_allowed"
    assert alice.call("raid_mode", on=True)["raid_mode"] is True
    (notice,) = carol.payloads("moderation")
    assert notice["action"] == "raid" and notice["value"] is True
    newcomer = arrive()
    refused = newcomer.join("newcomer")
    assert code(refused) == "challenge_required"
    challenge = refused["error"]["challenge"]
    assert challenge["bits"] == 8
    wrong = {"nonce": challenge["nonce"], "solution": wrong_solution(challenge)}
    again = newcomer.client.emit(
        "join", {"room": "r", "username": "newcomer", "proof": wrong}, callback=True
    )
    assert code(again) == "challenge_failed"
    challenge = again["error"]["challenge"]
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    state = newcomer.client.emit(
        "join", {"room": "r", "username": "newcomer", "proof": proof}, callback=True
    )
    assert state["ok"] and state["info"]["raid_mode"] is True
    assert code(newcomer.call("message", message="visit spam.example.com")) == (
        "on_probation"
    )
    assert code(newcomer.call("message", message="hi @alice")) == "on_probation"
    assert newcomer.call("message", message="hello all")["ok"]
    assert code(newcomer.call("message", message="and again")) == "slow_mode"
    # Newcomers already in (bob came a moment ago) keep the same rules meanwhile;
    # the owner does not.
    assert code(bob.call("message", message="see example.com, @carol")) == (
        "on_probation"
    )
    assert alice.call("message", message="see example.com, @carol")["ok"]
    alice.call("raid_mode", on=False)
    assert bob.call("message", message="see example.com, @carol")["ok"]
    assert arrive().join("later")["ok"]


def test_too_many_newcomers_start_raid_mode_by_themselves(arrive: Arrive) -> None:
    owner = arrive()
    owner.join("owner")
    owner.client.get_received()
    # RAID_JOINS_PER_MINUTE=3: the fourth newcomer in a minute starts raid mode.
    for n in range(4):
        assert arrive(identity=None).join(f"guest{n}")["ok"]
    assert code(arrive(identity=None).join("raider")) == "challenge_required"
    notices = owner.payloads("moderation")
    assert [(n["action"], n["by"]) for n in notices] == [("raid", "the server")]


def test_in_a_connection_flood_each_new_connection_proves_work_first() -> None:
    app = app_with(connection_flood_per_minute=2)

    def connect() -> SocketIOTestClient:
        return app.extensions["socketio"].test_client(
            app, flask_test_client=from_address(app, next(_addresses))
        )

    calm = [connect(), connect()]
    flooded = connect()
    (connected,) = [
        i["args"][0] for i in flooded.get_received() if i["name"] == "connected"
    ]
    challenge = connected["challenge"]
    assert "challenge" not in calm[0].get_received()[0]["args"][0]
    refused = flooded.emit("join", {"room": "r", "username": "x"}, callback=True)
    assert code(refused) == "challenge_required"
    assert refused["error"]["challenge"] == challenge
    # An event outside the contract is refused as such, proof or not.
    assert code(flooded.emit("no_such_event", {}, callback=True)) == "unknown_event"
    assert code(
        flooded.emit(
            "solve", {"proof": {"nonce": "a.b.c.d", "solution": "0"}}, callback=True
        )
    ) == ("challenge_failed")
    flooded.get_received()
    refused = flooded.emit("join", {"room": "r", "username": "x"}, callback=True)
    challenge = refused["error"]["challenge"]  # the new one
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    assert flooded.emit("solve", {"proof": proof}, callback=True)["ok"]
    assert flooded.emit("join", {"room": "r", "username": "x"}, callback=True)["ok"]
    for client in (*calm, flooded):
        client.disconnect()
