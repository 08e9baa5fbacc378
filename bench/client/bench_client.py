"""The web client under load, in a real browser (Debian's Chromium, headless).

A page sits in a room that receives 50 messages a second until it holds 10,000.
At 1,000, 3,000 and 10,000 messages it measures, while messages keep arriving:
- keystroke to paint: from each keydown in the composer to the frame after it (a
  requestAnimationFrame, then a task after that frame), over 60 typed characters;
- loading earlier messages: from scrolling to the top until older rows are shown;
- the JS heap after a garbage collection (Chrome DevTools Protocol).

  .venv/bin/python bench/client/bench_client.py [--quick]

Prints one line per checkpoint and writes bench/results/<time>-client.json, which
`python bench/bench.py report` puts in bench/RESULTS.md. Targets (issue #11):
keystroke p95 < 16 ms and heap < 50 MB with 10,000 messages in the room.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
for folder in ("bench", "tests", "server"):
    sys.path.insert(0, str(REPO / folder))

import socketio  # noqa: E402
from bench import RESULTS, machine, start_server, stop  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

RATE = 50  # messages per second into the room
CHECKPOINTS = (1_000, 3_000, 10_000)
ROOM = "bench"

# Frames are not held back for a display's refresh: the time to the next frame is
# then the work a keystroke causes (React, layout, paint), not the wait for vsync
# (up to 16.7 ms at 60 Hz, the same for any page).
FLAGS = [*CHROMIUM_FLAGS, "--disable-frame-rate-limit", "--disable-gpu-vsync"]

MEASURE_KEYS = """
() => {
  window.__keyLatencies = [];
  if (window.__measuring) return;
  window.__measuring = true;
  document.addEventListener('keydown', () => {
    const start = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      window.__keyLatencies.push(performance.now() - start);
    }, 0));
  }, { capture: true });
}
"""
# The same measurement on a page with nothing but a text box: the floor.
EMPTY_PAGE = "data:text/html,<textarea autofocus></textarea>"


class Feeder:
    """Sends RATE messages a second to the room from a plain socket.io client."""

    def __init__(self, url: str) -> None:
        self.sent = 0
        self._target = 0
        self._stop = threading.Event()
        self.client = socketio.Client()
        self.client.connect(url, transports=["websocket"])
        self.client.call("join", {"room": ROOM, "username": "feeder"})
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def feed_until(self, count: int) -> None:
        self._target = count
        while self.sent < count:
            time.sleep(0.1)

    def _run(self) -> None:
        interval = 1 / RATE
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self.sent < self._target:
                text = f"message {self.sent} " + "lorem ipsum " * (self.sent % 6)
                self.client.emit("message", {"room": ROOM, "message": text})
                self.sent += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def keep_going(self, extra: int) -> None:
        self._target = self.sent + extra

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.disconnect()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def keystrokes(page: Page) -> dict[str, float]:
    page.evaluate(MEASURE_KEYS)
    page.locator("textarea").first.click()
    sentence = "the quick brown fox jumps over the lazy dog, again and again"
    page.keyboard.type(sentence, delay=40)
    page.wait_for_timeout(300)
    latencies: list[float] = page.evaluate("window.__keyLatencies")
    page.locator("textarea").first.fill("")
    return {
        "keystroke_median_ms": round(statistics.median(latencies), 1),
        "keystroke_p95_ms": round(percentile(latencies, 0.95), 1),
        "keystrokes": len(latencies),
    }


def load_earlier(browser: Any, url: str, number: int) -> float:
    """A newcomer (who got the last HISTORY_SIZE messages on joining) scrolls to the
    top: seconds until the older ones, fetched from the server, are on screen. Each
    is someone new: an earlier newcomer's name stays theirs for a while after they
    go (NICK_LEASE_SECONDS)."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    join(page, url, f"newcomer{number}")
    first = page.evaluate(
        "Math.min(...[...document.querySelectorAll('[data-seq]')]"
        ".map(e => +e.dataset.seq))"
    )
    started = time.perf_counter()
    page.evaluate("document.querySelector('.messages__scroller').scrollTop = 0")
    page.wait_for_function(
        "(first) => [...document.querySelectorAll('[data-seq]')]"
        ".some(e => +e.dataset.seq < first)",
        arg=first,
        timeout=30_000,
    )
    elapsed = round(time.perf_counter() - started, 3)
    page.context.close()
    return elapsed


def join(page: Page, url: str, nickname: str) -> None:
    page.goto(url + "/")
    page.get_by_label("Nickname").fill(nickname)
    page.get_by_label("Room name").fill(ROOM)
    page.get_by_label("Room name").press("Enter")
    page.get_by_role("heading", name=f"#{ROOM}").wait_for()
    page.wait_for_selector("[data-seq]")


def heap_mb(page: Page) -> float:
    session = page.context.new_cdp_session(page)
    session.send("HeapProfiler.collectGarbage")
    used = session.send("Runtime.getHeapUsage")["usedSize"]
    session.detach()
    return round(used / 1e6, 1)


def run(quick: bool) -> dict[str, Any]:
    checkpoints = (300, 1_000) if quick else CHECKPOINTS
    process, port = start_server(
        "gevent", {"HISTORY_SIZE": "200", "MAX_MESSAGE_LENGTH": "2000"}
    )
    url = f"http://127.0.0.1:{port}"
    figures: list[dict[str, Any]] = []
    floor: dict[str, float] = {}
    feeder = Feeder(url)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=FLAGS, headless=True
            )
            blank = chromium.new_page()
            blank.goto(EMPTY_PAGE)
            floor = keystrokes(blank)
            blank.close()
            print(json.dumps({"empty_page": floor}), flush=True)
            context = chromium.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            feeder.feed_until(1)
            join(page, url, "reader")
            for count in checkpoints:
                feeder.feed_until(count)
                page.wait_for_function(
                    '(n) => document.querySelector(`[data-seq="${n}"]`) !== null',
                    arg=count + 0,
                    timeout=60_000,
                )
                feeder.keep_going(10_000)  # typing while messages keep arriving
                measured = {
                    "messages": count,
                    **keystrokes(page),
                    "heap_mb": heap_mb(page),
                }
                feeder.keep_going(0)
                measured["load_earlier_s"] = load_earlier(chromium, url, count)
                figures.append(measured)
                print(json.dumps(measured), flush=True)
            chromium.close()
    finally:
        feeder.close()
        stop(process)
    return {
        "server": "client",
        "scenario": "CLIENT",
        "quick": quick,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": {"checkpoints": figures, "empty_page": floor},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    record = run(args.quick)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{stamp}-client.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
