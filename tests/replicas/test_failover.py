"""Failover: two `python -m bot run` replicas on one PostgreSQL database. The leader is killed
(SIGKILL) in the middle of a burst of alerts to 200 chats; the standby, whose market view was
warm all along, takes over: every chat gets its alert, the only repeats are the sends that were
in flight at the kill, no subscription is lost, and the time to take over is printed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from tests.fakes.exchanges import FakeVenue
from tests.fakes.telegram_api import FakeTelegram
from tests.lifecycle.conftest import TOKEN
from tests.lifecycle.process import ServiceProcess
from tests.replicas.conftest import (
    BURST_CHATS,
    MAX_IN_FLIGHT,
    chat_id,
    healthz,
    leads,
    query,
    replica_config,
    wave,
)

USER = 1001


async def ask(fake: FakeTelegram, chat: int, text: str) -> str:
    before = len(fake.texts(chat))
    fake.message(chat, text)
    await fake.wait_sent(before + 1, chat, timeout=30)
    return "\n".join(fake.texts(chat)[before:])


async def test_leader_killed_mid_burst_standby_takes_over(
    pg_url: str,
    telegram: FakeTelegram,
    binance: FakeVenue,
    replicas: Callable[..., ServiceProcess],
) -> None:
    one = replicas("one", replica_config("one", pg_url, telegram, binance, BURST_CHATS))
    two = replicas("two", replica_config("two", pg_url, telegram, binance, BURST_CHATS))
    await one.start()
    await one.wait_log(leads)
    conn_one = await asyncio.wait_for(binance.connection(0), 30)
    await two.start()
    conn_two = await asyncio.wait_for(binance.connection(1), 30)  # the standby's view is warm

    # a user's rule, through the leader (polling: only the leader holds the Telegram session)
    assert "Subscribed" in await ask(telegram, USER, "/subscribe btc 5m 1m")
    status = await ask(telegram, USER, "/status")
    assert "Replica one (the leader)" in status, status
    assert (await healthz(one))["replica"] == {"id": "one", "role": "leader", "leader": "one"}
    assert (await healthz(two))["replica"] == {"id": "two", "role": "standby", "leader": "one"}

    # ---- a burst to 200 chats, the leader killed in the middle ---------------------------
    before = len(telegram.sent)
    await wave([conn_one, conn_two], "ETHUSDT", 600_000, 2, one.now_ms())  # $1.2M of ETH
    await telegram.wait_sent(before + 60, timeout=30)
    assert await one.kill() == -9
    killed = time.monotonic()
    burst = set(BURST_CHATS)
    seen = {s.chat_id for s in telegram.sent[before:]}
    assert len(seen & burst) < len(burst), "the kill came mid-burst"
    rows = await query(pg_url, "SELECT chat_key FROM outbox WHERE status = 'sent'")
    marked = {chat_id(r[0]) for r in rows} & burst
    assert marked <= seen and len(seen) - len(marked) <= MAX_IN_FLIGHT

    line = await two.wait_log(leads, timeout=30)
    took_over_s = time.monotonic() - killed
    print(f"\ntakeover: the standby acted as leader {took_over_s:.2f} s after SIGKILL ({line})")
    assert took_over_s < 10, "the standby must take over within 10 s of the leader's death"

    # ---- the standby finishes the burst ----------------------------------------------------
    for chat in BURST_CHATS:
        await telegram.wait_sent(1, chat, timeout=30)
    per_chat = Counter(s.chat_id for s in telegram.sent if s.chat_id in burst)
    assert set(per_chat) == burst, "no chat lost its alert"
    repeated = {c for c, n in per_chat.items() if n > 1}
    assert all(per_chat[c] == 2 for c in repeated)
    assert not repeated & marked, "a row marked sent before the kill was sent again"
    assert len(repeated) <= MAX_IN_FLIGHT
    keys = [f"telegram:{c}" for c in BURST_CHATS]
    statuses = await query(
        pg_url, "SELECT status, count(*) FROM outbox WHERE chat_key = ANY($1) GROUP BY 1", keys
    )
    # one alert per chat: the new leader loaded the fired states and did not fire again
    assert {r[0]: r[1] for r in statuses} == {"sent": len(BURST_CHATS)}

    # ---- no subscription lost: the user's rule lives on in the new leader -----------------
    listing = await ask(telegram, USER, "/list")
    assert "BTC" in listing, listing
    status = await ask(telegram, USER, "/status")
    assert "Replica two (the leader)" in status, status
    assert (await healthz(two))["replica"] == {"id": "two", "role": "leader", "leader": "two"}
    alerts_before = len(telegram.texts(USER))
    await wave([conn_two], "BTCUSDT", 450_000, 3, two.now_ms())  # $1.35M of BTC
    await telegram.wait_sent(alerts_before + 1, USER, timeout=30)
    assert "$1.35M" in telegram.texts(USER)[alerts_before]
    epoch = await query(pg_url, "SELECT epoch, leader FROM leadership")
    assert (epoch[0][0], epoch[0][1]) == (2, "two")

    assert await two.terminate() == 0
    for svc in (one, two):
        log = svc.log_text()
        assert "Traceback" not in log, log
        assert TOKEN not in log
