"""Moderation on a real server (`python app.py`) over real websockets, in each async
mode (issue #14): unlisted rooms, a kick and a ban that hold, and an address ban
that a made-up X-Forwarded-For does not get around."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guards.proof_of_work import solve
from support import RecordingClient, ServerProcess, StartServer, new_identity

pytestmark = pytest.mark.integration


@pytest.fixture
def opened() -> Iterator[list[RecordingClient]]:
    clients: list[RecordingClient] = []
    yield clients
    for client in clients:
        client.close()


def person(
    server: ServerProcess,
    opened: list[RecordingClient],
    identity: str | None = "new",
    **headers: str,
) -> RecordingClient:
    auth = {"identity": new_identity() if identity == "new" else identity}
    client = RecordingClient(server.url, auth=auth if identity else None, **headers)
    opened.append(client)
    return client


def test_unlisted_rooms_never_appear_in_the_list(
    server: ServerProcess, opened: list[RecordingClient]
) -> None:
    owner, anonymous = person(server, opened), person(server, opened, None)
    owner.call("join", {"room": "secret-place", "username": "owner"})
    anonymous.call("join", {"room": "no-owner", "username": "anon"})
    rooms = anonymous.call("list_rooms")["rooms"]
    assert not {"secret-place", "no-owner"} & {r["room"] for r in rooms}
    owner.call("list_room", {"room": "secret-place", "listed": True})
    rooms = anonymous.call("list_rooms")["rooms"]
    assert [r for r in rooms if r["room"] == "secret-place"] == [
        {"room": "secret-place", "count": 1, "topic": "", "owner_name": "owner"}
    ]
    owner.call("list_room", {"room": "secret-place", "listed": False})
    assert "secret-place" not in {r["room"] for r in owner.call("list_rooms")["rooms"]}


def test_kick_and_ban_hold_and_a_forged_forwarded_for_does_not_evade(
    server: ServerProcess, opened: list[RecordingClient]
) -> None:
    room = f"defended-{server.async_mode}"
    owner, spammer = person(server, opened), person(server, opened)
    bystander = person(server, opened)
    owner.call("join", {"room": room, "username": "owner"})
    spammer.call("join", {"room": room, "username": "spammer"})
    bystander.call("join", {"room": room, "username": "bystander"})
    kick = owner.call("kick", {"room": room, "name": "spammer"})
    assert spammer.wait_for("left", lambda d: d["reason"] == "kicked")["by"] == "owner"
    assert spammer.call("join", {"room": room})["error"]["code"] == "kicked"
    assert owner.call("unban", {"room": room, "name": "spammer"})["ok"]
    assert spammer.call("join", {"room": room, "username": "spammer"})["ok"]
    ban = owner.call("ban", {"room": room, "name": "spammer", "minutes": 30})
    assert ban["until"] > kick["until"]
    bystander.wait_for("left", lambda d: d["reason"] == "banned")
    # A new identity with a made-up address: no TRUSTED_PROXIES, so the header is
    # ignored and the address is the ban's.
    disguised = person(server, opened, **{"X-Forwarded-For": "203.0.113.99"})
    refused = disguised.call("join", {"room": room, "username": "innocent"})
    assert refused["error"]["code"] == "banned"
    assert refused["error"]["retry_after_ms"] > 0
    # The room goes on.
    ack = bystander.call("message", {"room": room, "message": "quiet now"})
    owner.wait_for("message", lambda m: m["id"] == ack["id"])


def test_behind_a_trusted_proxy_each_address_is_its_own(
    start_server: StartServer, opened: list[RecordingClient]
) -> None:
    server = start_server("eventlet", TRUSTED_PROXIES="127.0.0.1")
    proxied = {"X-Forwarded-For": "203.0.113.1"}
    owner = person(server, opened, **{"X-Forwarded-For": "203.0.113.2"})
    spammer = person(server, opened, **proxied)
    owner.call("join", {"room": "r", "username": "owner"})
    spammer.call("join", {"room": "r", "username": "spammer"})
    owner.call("ban", {"room": "r", "name": "spammer", "minutes": 5})
    same_address = person(server, opened, **proxied)
    assert same_address.call("join", {"room": "r"})["error"]["code"] == "banned"
    neighbour = person(server, opened, **{"X-Forwarded-For": "203.0.113.3"})
    assert neighbour.call("join", {"room": "r", "username": "neighbour"})["ok"]


def test_mute_slow_mode_knock_and_report_on_a_real_server(
    server: ServerProcess, opened: list[RecordingClient]
) -> None:
    room = f"house-{server.async_mode}"
    owner, member = person(server, opened), person(server, opened)
    owner.call("join", {"room": room, "username": "owner"})
    member.call("join", {"room": room, "username": "member"})
    mute = owner.call("mute", {"room": room, "name": "member", "minutes": 5})
    refused = member.call("message", {"room": room, "message": "hello?"})
    assert refused["error"]["code"] == "muted"
    assert refused["error"]["until"] == mute["until"]
    owner.call("mute", {"room": room, "name": "member", "minutes": 0})
    owner.call("slow_mode", {"room": room, "seconds": 120})
    sent = member.call("message", {"room": room, "message": "one"})
    assert sent["ok"]
    assert member.call("message", {"room": room, "message": "two"})["error"][
        "code"
    ] == ("slow_mode")
    assert member.call("report", {"room": room, "id": sent["id"], "reason": "test"})[
        "ok"
    ]
    report = owner.wait_for("report")
    assert report["reporter"] == "member" and report["message_id"] == sent["id"]
    owner.call("lock", {"room": room, "locked": True})
    guest = person(server, opened)
    assert guest.call("join", {"room": room})["error"]["code"] == "room_locked"
    knock = guest.call("knock", {"room": room, "username": "guest"})
    assert owner.wait_for("knock")["id"] == knock["id"]
    owner.call("answer_knock", {"room": room, "id": knock["id"], "approve": True})
    assert guest.wait_for("knock_answered")["approved"] is True
    assert guest.call("join", {"room": room, "username": "guest"})["ok"]


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent", "threading"])
def test_raids_and_floods_are_met_with_proofs_of_work(
    start_server: StartServer, opened: list[RecordingClient], async_mode: str
) -> None:
    server = start_server(
        async_mode,
        RAID_JOINS_PER_MINUTE="3",
        CONNECTION_FLOOD_PER_MINUTE="8",
        POW_BITS="10",
    )
    owner = person(server, opened)
    owner.call("join", {"room": "raided", "username": "owner"})
    for _ in range(4):  # the fourth newcomer starts raid mode
        assert person(server, opened).call("join", {"room": "raided"})["ok"]
    owner.wait_for("moderation", lambda n: n["action"] == "raid")
    raider = person(server, opened)
    refused = raider.call("join", {"room": "raided"})["error"]
    assert refused["code"] == "challenge_required"
    proof = {
        "nonce": refused["challenge"]["nonce"],
        "solution": solve(refused["challenge"]),
    }
    assert raider.call("join", {"room": "raided", "proof": proof})["ok"]
    spam = raider.call("message", {"room": "raided", "message": "see spam.example.com"})
    assert spam["error"]["code"] == "on_probation"
    # Connections 9 and on within the minute owe a proof before anything else.
    for _ in range(2):
        person(server, opened)
    flooded = person(server, opened)
    challenge = flooded.wait_for("connected")["challenge"]
    assert flooded.call("list_rooms")["error"]["code"] == "challenge_required"
    proof = {"nonce": challenge["nonce"], "solution": solve(challenge)}
    assert flooded.call("solve", {"proof": proof})["ok"]
    assert flooded.call("list_rooms")["ok"]


def test_roles_settings_and_the_audit_log_on_a_real_server(
    server: ServerProcess, opened: list[RecordingClient]
) -> None:
    room = f"roles-{server.async_mode}"
    owner, helper = person(server, opened), person(server, opened)
    anonymous = person(server, opened, None)
    owner.call("join", {"room": room, "username": "owner"})
    helper.call("join", {"room": room, "username": "helper"})
    anonymous.call("join", {"room": room, "username": "anon"})
    info = owner.call("moderator", {"room": room, "name": "helper", "on": True})
    assert info["moderators"] == [helper.wait_for("room_info")["moderators"][0]]
    refused = owner.call("moderator", {"room": room, "name": "anon", "on": True})
    assert refused["error"]["code"] == "no_trip"
    assert (
        helper.call("topic", {"room": room, "topic": "be kind"})["topic"] == "be kind"
    )
    assert anonymous.wait_for("moderation", lambda n: n["action"] == "topic")
    denied = helper.call("list_room", {"room": room, "listed": True})
    assert denied["error"]["code"] == "not_allowed"
    handed = owner.call("hand_over", {"room": room, "name": "helper"})
    assert handed["owner_name"] == "helper" and handed["moderators"] == []
    log = helper.call("audit_log", {"room": room})
    assert [e["action"] for e in log["entries"]][:3] == [
        "hand_over",
        "topic",
        "moderator",
    ]
    assert anonymous.call("audit_log", {"room": room})["error"]["code"] == (
        "not_allowed"
    )
