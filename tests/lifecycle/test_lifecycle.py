"""The service's whole life, as an operator runs it: `python -m bot run` as a child process
against the fake Telegram and a fake Binance on 127.0.0.1.

Subscribe, alert, SIGTERM, restart (the totals survive), re-arm and alert again, then SIGKILL in
the middle of a burst to 200 chats and restart: every chat gets its alert, and the only repeats
are the sends that were in flight at the kill. No log of any run holds a traceback.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.exchanges import FakeConn, FakeVenue, binance_frame
from tests.fakes.telegram_api import FakeTelegram
from tests.lifecycle.process import ServiceProcess

TOKEN = "123456:LIFECYCLE-token-value"
USER = 1001
BURST_CHATS = list(range(5001, 5201))  # 200 chats of the operator's broadcast
WINDOW_MS = 5 * 60_000
# Delivery sends up to 64 chats at once: what was sent but not yet marked at a kill
MAX_IN_FLIGHT = 64


def service_config(tmp: Path, telegram: FakeTelegram, binance: FakeVenue) -> dict[str, Any]:
    return {
        "storage": {"path": str(tmp / "liqbot.sqlite3")},
        "telegram": {
            "base_url": telegram.base_url,
            "base_file_url": telegram.base_file_url,
            # fast enough for a short test, slow enough that a kill lands mid-burst
            "rate": {
                "global_per_second": 100,
                "per_chat_per_second": 1000,
                "per_group_per_minute": 1000,
            },
        },
        "discord": {"enabled": False},
        "sources": {
            "binance": {"url": binance.ws_url},
            "bybit": {"enabled": False},
            "okx": {"enabled": False},
            "coinglass": {"enabled": False},
        },
        "alerts": {"min_quiet": 0, "tick": 1, "debounce": 0},
        "broadcasts": [{"chat": str(c), "rule": "eth 5m 1m"} for c in BURST_CHATS],
        "logging": {"level": "INFO"},
    }


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def binance() -> AsyncIterator[FakeVenue]:
    async def stay_open(conn: FakeConn) -> None:
        await conn.closed()  # the test pushes frames itself

    venue = FakeVenue()
    venue.scripts = [stay_open]
    await venue.start()
    yield venue
    await venue.stop()


@pytest.fixture
async def service(
    tmp_path: Path, telegram: FakeTelegram, binance: FakeVenue
) -> AsyncIterator[ServiceProcess]:
    svc = ServiceProcess(
        tmp_path,
        service_config(tmp_path, telegram, binance),
        {"TELEGRAM_BOT_TOKEN": TOKEN},
    )
    yield svc
    await svc.close()


async def start(svc: ServiceProcess, binance: FakeVenue) -> FakeConn:
    """A new process: ready when its bot polls and its Binance stream is open."""
    runs = len(svc.logs)
    await svc.start()
    await svc.wait_log(lambda line: "telegram bot @" in line and "started" in line)
    return await asyncio.wait_for(binance.connection(runs), 30)


async def ask(fake: FakeTelegram, chat: int, text: str) -> str:
    before = len(fake.texts(chat))
    fake.message(chat, text)
    await fake.wait_sent(before + 1, chat, timeout=30)
    return "\n".join(fake.texts(chat)[before:])


async def wave(conn: FakeConn, symbol: str, usd_each: float, count: int, ts: int) -> None:
    """Long liquidations as Binance pushes them (one frame each), `usd_each` dollars apiece."""
    for _ in range(count):
        await conn.send(binance_frame(symbol, "SELL", 1.0, usd_each, ts))


def sent_rows(db: Path, chats: list[int]) -> int:
    keys = [f"telegram:{c}" for c in chats]
    with sqlite3.connect(db) as c:
        marks = ",".join("?" * len(keys))
        q = f"SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND chat_key IN ({marks})"
        return c.execute(q, keys).fetchone()[0]


async def test_whole_life_restart_rearm_and_kill_mid_burst(
    tmp_path: Path, service: ServiceProcess, telegram: FakeTelegram, binance: FakeVenue
) -> None:
    svc = service
    # ---- first run: subscribe, a wave crosses the line, the alert arrives -------------------
    conn = await start(svc, binance)
    assert "Subscribed" in await ask(telegram, USER, "/subscribe btc 5m 1m")
    await wave(conn, "BTCUSDT", 500_000, 3, svc.now_ms())  # $1.5M of BTC longs
    await telegram.wait_sent(2, USER, timeout=30)
    first = telegram.texts(USER)[1]
    assert "BTC" in first and "$1.50M" in first
    assert await svc.terminate() == 0

    # ---- restart: the totals survive, nothing fires again ---------------------------------
    conn = await start(svc, binance)
    liqs = await ask(telegram, USER, "/liqs")
    assert "$1.50M" in liqs, liqs
    assert "fired" in await ask(telegram, USER, "/list")  # the episode is remembered
    # Six minutes later (the clock moved, nothing waited): the wave is out of the 5m window
    # and so is the restart's gap, so the rule re-arms.
    svc.shift_clock(WINDOW_MS + 60_000)
    for _ in range(200):  # each try is a round trip; the service evaluates every second
        listing = await ask(telegram, USER, "/list")
        if "armed" in listing and "fired" not in listing:
            break
    else:
        pytest.fail(f"never re-armed: {listing}")
    alerts_before = len(telegram.texts(USER))
    await wave(conn, "BTCUSDT", 500_000, 4, svc.now_ms())  # a new wave: $2M
    await telegram.wait_sent(alerts_before + 1, USER, timeout=30)
    again = telegram.texts(USER)[alerts_before]
    assert "BTC" in again and "$2.00M" in again

    # ---- a burst to 200 chats, killed in the middle ----------------------------------------
    before = len(telegram.sent)
    await wave(conn, "ETHUSDT", 600_000, 2, svc.now_ms())  # $1.2M of ETH: every broadcast
    await telegram.wait_sent(before + 60, timeout=30)
    assert await svc.kill() == -9
    burst = set(BURST_CHATS)
    delivered = Counter(s.chat_id for s in telegram.sent if s.chat_id in burst)
    assert 60 <= sum(delivered.values()) < len(BURST_CHATS), "the kill came mid-burst"
    assert all(n == 1 for n in delivered.values())
    marked = sent_rows(tmp_path / "liqbot.sqlite3", BURST_CHATS)
    in_flight = sum(delivered.values()) - marked  # delivered, but killed before mark_sent
    assert 0 <= in_flight <= MAX_IN_FLIGHT

    # ---- restart after the kill: every chat gets its alert, repeats only what was in flight --
    total_before = len(telegram.sent)
    await start(svc, binance)
    await telegram.wait_sent(total_before + len(BURST_CHATS) - marked, timeout=30)
    assert await svc.terminate() == 0
    per_chat = Counter(s.chat_id for s in telegram.sent if s.chat_id in burst)
    assert set(per_chat) == burst, "no chat lost its alert"
    repeated = [c for c, n in per_chat.items() if n > 1]
    assert all(per_chat[c] == 2 for c in repeated)
    assert len(repeated) == in_flight  # only the sends in flight at the kill went twice
    assert "ETH" in telegram.texts(BURST_CHATS[0])[0]
    assert len(telegram.texts(USER)) == alerts_before + 1  # the user's rule did not re-fire

    log = svc.log_text()
    assert "Traceback" not in log, log
    assert TOKEN not in log
