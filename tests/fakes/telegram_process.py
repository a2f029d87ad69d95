"""The fake Bot API (telegram_api.FakeTelegram) in a process of its own, for benchmarks.

Telegram's servers do not share the bot's CPU; a fake in the bot's own process does, and at a
paid fan-out's 1,000 sends a second it took ~40% of that process (bench/bench_fanout.py's
profile). Here the fake runs in a child (`python -m tests.fakes.telegram_process`), enforcing the
same limits, and the parent drives it through `RemoteTelegram`: the attributes the Telegram
test stack reads (token, base URLs, wait_parked) and, at the end, what was sent.

    child: python -m tests.fakes.telegram_process --global-per-s 30 --paid-per-s 1000
           prints "port N" once listening; GET /_fake/parked and /_fake/sent answer the parent
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SentAt:
    chat_id: int | str
    at: float  # the child's perf_counter (CLOCK_MONOTONIC: one clock for every process)
    paid: bool


class RemoteTelegram:
    """A FakeTelegram in a child process, seen from the parent."""

    def __init__(self, global_per_s: int = 30, paid_per_s: int = 1000) -> None:
        self._args = ["--global-per-s", str(global_per_s), "--paid-per-s", str(paid_per_s)]
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.token = "123456:TEST-token"
        self.sent: list[SentAt] = []
        self.rejected_429 = 0
        self.paid_sent = 0

    async def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.telegram_process", *self._args],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = await asyncio.to_thread(self._proc.stdout.readline)
        if not line.startswith("port "):
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def wait_parked(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as c:
            while not (await c.get(f"http://127.0.0.1:{self.port}/_fake/parked")).json():
                if time.monotonic() > deadline:
                    raise TimeoutError("the bot never parked in a long poll")
                await asyncio.sleep(0.05)

    async def fetch_sent(self) -> None:
        """What the child recorded: every accepted send, 429s answered, paid sends."""
        async with httpx.AsyncClient(timeout=60) as c:
            r = (await c.get(f"http://127.0.0.1:{self.port}/_fake/sent")).json()
        self.sent = [SentAt(chat, at, paid) for chat, at, paid in r["sent"]]
        self.rejected_429, self.paid_sent = r["rejected_429"], r["paid_sent"]

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            await asyncio.to_thread(self._proc.wait, 10)


async def _serve(global_per_s: int, paid_per_s: int) -> None:
    from tests.fakes.telegram_api import FakeLimits, FakeTelegram  # the child's (this tree's)

    fake = FakeTelegram(limits=FakeLimits(global_per_s=global_per_s, paid_per_s=paid_per_s))
    await fake.start()  # its /_fake/ routes answer the parent (FakeTelegram.control)
    print(f"port {fake.port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--global-per-s", type=int, default=30)
    ap.add_argument("--paid-per-s", type=int, default=1000)
    args = ap.parse_args()
    asyncio.run(_serve(args.global_per_s, args.paid_per_s))


if __name__ == "__main__":
    main()
