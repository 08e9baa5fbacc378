"""gevent-websocket validates UTF-8 with wsaccel's C validator, not its Python one."""

from __future__ import annotations

from geventwebsocket import utf8validator


def test_gevent_websocket_picked_the_c_validator() -> None:
    assert utf8validator.Utf8Validator.__module__.startswith("wsaccel")


def test_the_c_validator_answers_like_the_spec() -> None:
    validator = utf8validator.Utf8Validator()
    assert validator.validate("héllo 👋".encode())[0]
    validator.reset()
    assert not validator.validate(b"\xff\xfe")[0]
    validator.reset()
    # A code point split across frames: valid so far, but not at a boundary.
    valid, at_boundary, _, _ = validator.validate("👋".encode()[:2])
    assert valid and not at_boundary
