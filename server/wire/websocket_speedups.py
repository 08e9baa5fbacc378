"""Unmasking incoming websocket frames at C speed instead of byte by byte.

Every frame a client sends is XOR-masked (RFC 6455). eventlet unmasks it with a
Python generator over each byte, gevent-websocket with a Python loop: together the
largest single cost of reading messages in a profile of our server. Here wsaccel's C
masker does it (wsaccel is already installed for gevent-websocket's UTF-8 check); it
took a 120-byte frame in 0.32 us where XORing it as one big integer took 0.67 and
building the key with a generator 1.18. The results are identical
(tests/wire/test_websocket_speedups.py checks against the libraries' own functions).
Replaces eventlet's `RFC6455WebSocket._apply_mask` and gevent-websocket's
`Header.mask_payload`/`unmask_payload`; to remove, drop the `websocket_speedups.
install` call in wire/__init__.py.
"""

from __future__ import annotations

from typing import Any

from wsaccel.xormask import XorMaskerSimple


def xor_mask(
    data: bytes | bytearray, mask: bytes | bytearray | list[int], offset: int = 0
) -> bytes:
    """`data` XOR the 4-byte `mask`, starting at mask position `offset`."""
    key = bytes(mask)
    if offset % 4:
        key = key[offset % 4 :] + key[: offset % 4]
    return XorMaskerSimple(key).process(data)  # type: ignore[no-any-return]


def install(async_mode: str) -> None:
    """Replace the pure-Python unmasking of the websocket server `async_mode` uses."""
    if async_mode == "eventlet":
        _patch_eventlet()
    elif async_mode == "gevent":
        _patch_gevent_websocket()


def _patch_eventlet() -> None:
    from eventlet.websocket import RFC6455WebSocket

    def apply_mask(
        data: Any, mask: Any, length: int | None = None, offset: int = 0
    ) -> bytes:
        if length is not None and length != len(data):
            data = data[:length]
        return xor_mask(data, mask, offset)

    RFC6455WebSocket._apply_mask = staticmethod(apply_mask)


def _patch_gevent_websocket() -> None:
    from geventwebsocket.websocket import Header

    def mask_payload(self: Any, payload: Any) -> bytearray:
        return bytearray(xor_mask(bytes(payload[: self.length]), self.mask))

    Header.mask_payload = mask_payload
    Header.unmask_payload = mask_payload
