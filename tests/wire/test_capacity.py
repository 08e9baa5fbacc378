"""One eventlet or gevent process holds 10,000 open connections and still chats."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from support import RecordingClient, ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("capacity")]

CONNECTIONS = 10_000
CONNECT_CONCURRENCY = 200


@pytest.fixture(params=["eventlet", "gevent"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real server in a green-thread mode, with a quiet log; rooms listed, as an
    operator may choose, so the late client's list_rooms names its room."""
    logs = tmp_path_factory.mktemp("capacity")
    process = ServerProcess(
        request.param, logs, LOG_LEVEL="WARNING", LIST_ROOMS_DEFAULT="listed"
    ).start()
    yield process
    process.stop()


async def open_engineio_socket(url: str) -> websockets.ClientConnection:
    """A raw Engine.IO websocket, connected to the default namespace."""
    connection = await websockets.connect(url, open_timeout=60, ping_interval=None)
    opening = await connection.recv()
    assert isinstance(opening, str) and opening.startswith("0{")
    await connection.send("40")
    while True:
        frame = await connection.recv()
        if isinstance(frame, str) and frame.startswith('42["connected"'):
            return connection


async def answer_pings(connection: websockets.ClientConnection) -> None:
    """Engine.IO pings ("2") need a pong ("3") or the server drops the client."""
    async for frame in connection:
        if frame == "2":
            await connection.send("3")


async def hold_connections(server: ServerProcess) -> dict[str, int]:
    url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    readers: list[asyncio.Task[None]] = []

    async def one() -> websockets.ClientConnection:
        async with gate:
            connection = await open_engineio_socket(url)
        # Pings answered from the start: on a busy machine opening all of them
        # can outlast the ping interval, and the server rightly drops a
        # connection that does not answer.
        readers.append(asyncio.create_task(answer_pings(connection)))
        return connection

    connections = await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    try:
        # The server itself counts them all open.
        open_sessions = await asyncio.to_thread(server.metric, "chat_connected_clients")
        # With every connection open, a new client still joins and chats.
        result = await asyncio.to_thread(chat_once, server.url)
    finally:
        await asyncio.gather(*(c.close() for c in connections))
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return {"open": int(open_sessions), **result}


def chat_once(url: str) -> dict[str, int]:
    client = RecordingClient(url)
    try:
        client.call("join", {"room": "crowded", "username": "late"})
        ack = client.call("message", {"room": "crowded", "message": "still here"})
        client.wait_for("message", lambda d: d["id"] == ack["id"])
        rooms = client.call("list_rooms")["rooms"]
        return {"seq": ack["seq"], "rooms": len(rooms)}
    finally:
        client.close()


def test_one_process_holds_ten_thousand_connections(server: ServerProcess) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONNECTIONS + 1000 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= CONNECTIONS + 1000, (
        "raise the open-files limit (ulimit -n) to run this test"
    )
    # A thread of its own: Playwright's sync API may own this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, hold_connections(server)).result()
    assert result == {"open": CONNECTIONS, "seq": 1, "rooms": 1}
    assert "Traceback" not in server.log(), server.log()[-3000:]
