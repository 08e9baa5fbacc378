"""docs/protocol.md and server/chat/protocol.py name the same events and codes."""

from __future__ import annotations

import re

from chat import protocol
from support import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "protocol.md").read_text()
CLIENT_PROTOCOL = (REPO_ROOT / "client" / "src" / "chat" / "protocol.ts").read_text()


def table_rows(heading: str) -> list[list[str]]:
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def names(cell: str) -> list[str]:
    return re.findall(r"`([a-z_]+)`", cell)


def test_documented_client_events_match_code() -> None:
    documented = {
        names(row[0])[0] for row in table_rows("Events") if row[1] == "client → server"
    }
    assert documented == set(protocol.CLIENT_EVENTS)


def test_documented_server_events_match_code() -> None:
    documented = {
        names(row[0])[0] for row in table_rows("Events") if row[1].startswith("server")
    }
    assert documented == set(protocol.SERVER_EVENTS)


def test_documented_error_codes_match_code() -> None:
    documented = {names(row[0])[0] for row in table_rows("Error codes")}
    assert documented == set(protocol.ERROR_CODES)


def client_constant(name: str) -> set[str]:
    body = CLIENT_PROTOCOL.split(f"export const {name} = [", 1)[1].split("]", 1)[0]
    return set(re.findall(r'"([a-z_]+)"', body))


def test_client_contract_names_the_same_events_and_codes() -> None:
    assert client_constant("CLIENT_EVENTS") == set(protocol.CLIENT_EVENTS)
    assert client_constant("SERVER_EVENTS") == set(protocol.SERVER_EVENTS)
    assert client_constant("ERROR_CODES") == set(protocol.ERROR_CODES)


def test_errors_listed_per_event_are_known_codes() -> None:
    for row in table_rows("Events"):
        assert set(names(row[4])) <= set(protocol.ERROR_CODES), row
