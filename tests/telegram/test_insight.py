"""Issue 14 through the production wiring (`app.build`) and the real python-telegram-bot client
against the fake Bot API: single-liquidation alerts and /top by exact text on replayed data,
venue filters, backtests on a hand-built store, relative thresholds on a hand-built history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from bot.chat.context import ChatContext
from bot.config import Config, Secrets
from bot.domain.message import plain_text
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.sources.replay import DEMO, read_events
from bot.store import BucketRow, Database
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import DB_NAME, VENUES, Stack, stack_config

FIXTURES = Path(__file__).parent.parent / "fixtures" / "replay"
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
DAY0 = 1768262400000  # 2026-01-13 00:00 UTC
CHAT = 4242


class FixedClock(Clock):
    """Market time that moves only when a test says so."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def with_coinglass(config: Config, url: str) -> Config:
    """The stack's config with CoinGlass pointed at a fake (its key comes with the Secrets)."""
    cg = config.sources.coinglass.model_copy(update={"url": url})
    return config.model_copy(
        update={"sources": config.sources.model_copy(update={"coinglass": cg})}
    )


async def insight_stack(
    tmp_path: Path, fake: FakeTelegram, now: int, history: Iterable[BucketRow] = ()
) -> Stack:
    """The production build at a fixed time, over a store that already holds `history`."""
    rows = list(history)
    if rows:  # written as a running bot would have persisted them, before this start
        db = await Database.open(tmp_path / DB_NAME)
        await db.upsert_buckets(rows)
        await db.close()
    clock = FixedClock(now)
    rt = await app.build(
        stack_config(tmp_path, fake), Secrets(telegram_token=fake.token), clock=clock
    )
    for v in VENUES:
        rt.market.up(v, now - 8 * DAY)
    stack = Stack(fake, rt, clock)  # type: ignore[arg-type]
    await app.start(rt, jobs=False)
    await fake.wait_parked()
    return stack


@pytest.fixture
async def closing() -> AsyncIterator[list[Stack]]:
    stacks: list[Stack] = []
    yield stacks
    for s in stacks:
        await s.close()


def replay(stack: Stack, path: Path | str, start_ms: int, until_ms: int) -> int:
    """Feed a replay file's events up to `until_ms` into the live market, venue by venue."""
    _, events = read_events(path, start_ms)
    due = [e for e in events if e.ts_ms <= until_ms]
    for venue in sorted({e.venue for e in due}):
        stack.market.events(venue, [e for e in due if e.venue == venue])
    return len(due)


async def alerts_sent(stack: Stack, chat: int) -> list[str]:
    before = len(stack.fake.texts(chat))
    await stack.rt.engine.tick()
    await stack.rt.delivery.drain()
    return stack.fake.texts(chat)[before:]


def private(chat: int = CHAT) -> ChatContext:
    return ChatContext(f"telegram:{chat}", "telegram", "private", user="alice")


# ---- single large liquidations --------------------------------------------------------------


async def test_single_liquidations_burst_is_one_message(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    now = DAY0 + 15 * HOUR + 20 * MINUTE
    stack = await insight_stack(tmp_path, fake, now)
    closing.append(stack)
    reply = await stack.ask(CHAT, "/subscribe btc single 1m")
    assert "#1 each single BTC liquidation of $1M or more" in reply
    assert "Backtest: none for single liquidations" in reply
    other = await stack.ask(CHAT + 1, "/subscribe all single 3m longs on binance")
    assert "#1 each single long liquidation of $3M or more on Binance" in other

    stack.clock.now = now + 5_000  # type: ignore[attr-defined]
    assert replay(stack, FIXTURES / "big_singles.jsonl", now, now + 5_000) == 5
    [mine] = await alerts_sent(stack, CHAT)
    assert mine == (
        "<b>3 big liquidations, $6.75M in all</b>\n"
        "#1 $3.10M BTC long liquidated on Bybit at $94,020 (15:20:03 UTC)\n"
        "#1 $2.40M BTC long liquidated on Binance at $94,210 (15:20:01 UTC)\n"
        "#1 $1.25M BTC short liquidated on OKX at $94,306 (15:20:02 UTC)\n"
        "<i>as of 13 Jan 2026 15:20 UTC</i>\n"
        "<i>Single liquidations as each venue reports them.</i>"
    )
    [theirs] = stack.fake.texts(CHAT + 1)[-1:]
    assert theirs == (
        "<b>Big liquidation: $5.00M ETH long</b>\n"
        "#1 $5.00M ETH long liquidated on Binance at $3,310 (15:20:02 UTC)\n"
        "<i>as of 13 Jan 2026 15:20 UTC</i>\n"
        "<i>Single liquidations as each venue reports them.</i>"
    )
    assert await alerts_sent(stack, CHAT) == []  # each liquidation is told once


async def test_a_cascade_of_singles_is_paced_one_message_per_ten_seconds(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    now = DAY0 + 15 * HOUR
    stack = await insight_stack(tmp_path, fake, now)
    closing.append(stack)
    await stack.ask(CHAT, "/subscribe btc single 1m")
    clock: FixedClock = stack.clock  # type: ignore[assignment]

    def big(usd: float) -> None:
        stack.market.events("binance", [liq("binance", usd, clock.now, Side.LONG)])

    big(2e6)
    [first] = await alerts_sent(stack, CHAT)
    assert first.startswith("<b>Big liquidation: $2.00M BTC long</b>")
    clock.now += 3_000
    big(3e6)
    big(4e6)
    assert await alerts_sent(stack, CHAT) == []  # 3 s after the last one: held
    clock.now += 7_000
    [second] = await alerts_sent(stack, CHAT)  # 10 s on: both held ones in one message
    assert second.splitlines()[:3] == [
        "<b>2 big liquidations, $7.00M in all</b>",
        "#1 $4.00M BTC long liquidated on Binance at $94,000 (15:00:03 UTC)",
        "#1 $3.00M BTC long liquidated on Binance at $94,000 (15:00:03 UTC)",
    ]
    clock.now += 3_000
    big(5e6)
    assert await alerts_sent(stack, CHAT) == []  # held again ...
    await stack.ask(CHAT, "/unsubscribe 1")
    clock.now += 10_000
    assert await alerts_sent(stack, CHAT) == []  # ... and the rule is gone: nothing more


async def test_muted_chat_gets_no_single_alerts(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    now = DAY0 + 15 * HOUR
    stack = await insight_stack(tmp_path, fake, now)
    closing.append(stack)
    await stack.ask(CHAT, "/subscribe btc single 1m")
    await stack.ask(CHAT, "/mute 1h")
    replay(stack, FIXTURES / "big_singles.jsonl", now - 10_000, now)
    assert await alerts_sent(stack, CHAT) == []


# ---- /top on replayed data --------------------------------------------------------------------


async def test_top_on_the_demo_replay(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    start = DAY0 + 14 * HOUR
    now = start + HOUR - 1  # the last moment of the demo's hour: the 1h window is that hour
    stack = await insight_stack(tmp_path, fake, now)
    closing.append(stack)
    replay(stack, DEMO, start, now)
    text = await stack.ask(CHAT, "/top 1h")
    assert text == TOP_1H
    # the same figures, summed straight from the replayed events
    _, events = read_events(DEMO, start)
    hour = [e for e in events if start <= e.ts_ms <= now]
    btc = [e for e in hour if e.coin == "BTC"]
    assert f"${sum(e.usd for e in btc) / 1e6:.2f}M" in text.splitlines()[3]
    assert f"${sum(e.usd for e in hour) / 1e6:.2f}M" in text.splitlines()[1]
    # the console and Discord read the same table through the one command service
    reply = await stack.service.handle_text(private(), "/top")
    assert plain_text(reply.messages[0]).splitlines()[2:5] == [
        "#  Coin     Total     Longs    Shorts  Long%",
        *TOP_1H.splitlines()[3:5],
    ]


TOP_1H = (
    "<b>Top liquidations, 1h</b>\n"
    "Market $421.65M: longs $38.11M (9%), shorts $383.55M (91%)\n"
    "<pre>#  Coin     Total     Longs    Shorts  Long%\n"
    "1  BTC   $189.21M   $16.97M  $172.24M     9%\n"
    "2  ETH   $124.08M   $10.52M  $113.56M     8%\n"
    "3  SOL    $42.71M    $4.43M   $38.28M    10%\n"
    "4  XRP    $22.90M    $2.49M   $20.41M    11%\n"
    "5  DOGE   $16.41M    $1.48M   $14.93M     9%\n"
    "6  PEPE    $9.93M    $1.19M    $8.75M    12%\n"
    "7  BNB     $8.46M  $391.96K    $8.07M     5%\n"
    "8  SUI     $7.95M  $640.40K    $7.31M     8%</pre>\n"
    "<i>as of 14:59 UTC · sources: binance, bitget, bitmex, bybit, deribit, htx, okx</i>\n"
    "<i>Exchange streams are sampled: figures are a floor, not the full total.</i>"
)


# ---- venue filters ----------------------------------------------------------------------------


def liq(venue: str, usd: float, ts: int, side: Side = Side.SHORT, coin: str = "BTC") -> Liquidation:
    return Liquidation(venue, coin, side, usd, ts, f"{coin}USDT", 94_000.0)


async def test_venue_filter_on_liqs_and_subscriptions(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    now = DAY0 + 15 * HOUR
    stack = await insight_stack(tmp_path, fake, now)
    stack.market.events("binance", [liq("binance", 60e6, now - 5 * MINUTE)])
    stack.market.events("bybit", [liq("bybit", 50e6, now - 4 * MINUTE)])

    liqs = await stack.ask(CHAT, "/liqs btc 1h on bybit")
    assert liqs.splitlines()[0] == "<b>Liquidations: BTC, 1h on Bybit</b>"
    assert "Total $50.00M: longs $0 (0%), shorts $50.00M (100%)" in liqs
    assert "$110.00M" not in liqs and "Binance" not in liqs

    reply = await stack.ask(CHAT, "/subscribe btc 1h 100m shorts on binance")
    assert "#1 BTC shorts over 1h above $100M on Binance" in reply
    assert "Now: $60.00M (60% of the threshold)" in reply  # Binance's share, not $110M
    assert "Already subscribed" in await stack.ask(CHAT, "/subscribe btc 1h 100m shorts binance")
    assert await alerts_sent(stack, CHAT) == []  # $110M market-wide, $60M on Binance

    stack.market.events("binance", [liq("binance", 45e6, now - MINUTE)])
    [alert] = await alerts_sent(stack, CHAT)
    assert "#1 BTC shorts liquidated on Binance in 1h: $105.00M (threshold $100M)" in alert
    assert "Shorts by venue: Binance $105.00M" in alert and "Bybit" not in alert
    assert await alerts_sent(stack, CHAT) == []  # fired: the lifecycle holds it
    assert "BTC (binance)" in await stack.ask(CHAT, "/list")

    # a restart keeps the filter and the fired state (migration 3 columns, RuleSet.load)
    await stack.kill()
    again = await insight_stack(tmp_path, fake, now + MINUTE)
    closing.append(again)
    [sub] = await again.db.list_subscriptions(f"telegram:{CHAT}")
    assert (sub.venue, sub.side, sub.threshold) == ("binance", Side.SHORT, 100e6)
    state = again.rt.engine.extras.state(sub.id)  # type: ignore[union-attr]
    assert state is not None and state.status.value == "fired"


# ---- backtest on subscribe ------------------------------------------------------------------


def rows(values: dict[int, float], venue: str = "binance", coin: str = "BTC") -> list[BucketRow]:
    return [BucketRow(m, coin, venue, usd, 0.0) for m, usd in values.items()]


async def test_backtest_on_subscribe_and_on_its_own(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    """The hand-computed case of tests/domain/test_insight_rules.py, through the store: the
    config's policy (re-arm below 80%, 15 minutes quiet) gives 2 alerts and 1 escalation."""
    m = MINUTE
    history = rows({DAY0: 1.0, DAY0 + 10 * m: 120e3, DAY0 + 40 * m: 100e3, DAY0 + 50 * m: 250e3})
    history += rows({DAY0 + 20 * m: 150e3, DAY0 + 42 * m: 60e3}, venue="bybit")  # summed
    now = DAY0 + 2 * HOUR
    stack = await insight_stack(tmp_path, fake, now, history)
    closing.append(stack)
    line = (
        "Backtest: would have fired 2 times in the last 2 hours, last on 00:41 UTC "
        "(plus 1 escalation) (minute by minute, with the real re-arm rules)."
    )
    alone = await stack.ask(CHAT, "/backtest btc 5m 100k")
    assert line in alone and "Not subscribed" in alone
    assert "No subscriptions" in await stack.ask(CHAT, "/list")
    reply = await stack.ask(CHAT, "/subscribe btc 5m 100k")
    assert "#1 BTC total over 5m above $100K" in reply and line in reply
    only_binance = await stack.ask(CHAT, "/backtest btc 5m 100k on binance")
    assert "would have fired 2 times" in only_binance  # 10 and 40; no 20 without Bybit
    service = await stack.service.handle_text(private(CHAT + 1), "/backtest btc 4h 100k")
    assert "not enough stored history yet (it needs one whole 4h window)" in plain_text(
        service.messages[0]
    )


# ---- relative thresholds ----------------------------------------------------------------------


def hand_history(days: int) -> list[BucketRow]:
    """$1K of BTC longs a minute on Binance, $3K in 14:00-14:59 UTC, `days` whole days."""
    out = {}
    for i in range(days * 1440):
        out[DAY0 + i * MINUTE] = 3e3 if i % 1440 // 60 == 14 else 1e3
    return rows(out)


async def test_relative_threshold_from_a_hand_built_history(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    now = DAY0 + 4 * DAY + 14 * HOUR + 30 * MINUTE
    stack = await insight_stack(tmp_path, fake, now, hand_history(4))
    closing.append(stack)
    reply = await stack.ask(CHAT, "/subscribe btc 1h 3x longs")
    # hour 14: the 1h window averages $62K + $2K x 29.5 = $121K each day; 3 x that = $363K
    assert "#1 BTC longs over 1h above 3× the usual for that hour of day" in reply
    assert (
        "Usual for BTC longs over 1h at 14:00 UTC: $121.00K (median of 4 days), "
        "so it fires at $363.00K this hour." in reply
    )
    assert "Backtest: would have fired 0 times in the last 4.6 days" in reply
    assert "3x usual" in await stack.ask(CHAT, "/list")

    stack.market.events("binance", [liq("binance", 350e3, now - MINUTE, Side.LONG)])
    assert await alerts_sent(stack, CHAT) == []  # $350K < $363K
    stack.market.events("binance", [liq("binance", 50e3, now, Side.LONG)])
    [alert] = await alerts_sent(stack, CHAT)
    assert "#1 BTC longs liquidated in 1h: $400.00K (threshold $363K = 3× the usual)" in alert

    # after a restart the baseline is read from the store again: a new wave fires the rule
    await stack.kill()
    later = now + 2 * HOUR  # 16:30: a new hour; the fired state re-arms after the quiet time
    again = await insight_stack(tmp_path, fake, later)
    closing.append(again)
    assert "3x usual  fired" in await again.ask(CHAT, "/list")  # still fired from 14:30
    again.market.events("binance", [liq("binance", 10e6, later, Side.LONG)])
    [escalated] = await alerts_sent(again, CHAT)  # $10M is many times the usual of 16h
    assert "#1 BTC longs liquidated in 1h: $10.00M (threshold $180K = 3× the usual)" in escalated


async def test_relative_rule_waits_for_history(
    tmp_path: Path, fake: FakeTelegram, closing: list[Stack]
) -> None:
    now = DAY0 + 2 * DAY + 14 * HOUR + 30 * MINUTE
    stack = await insight_stack(tmp_path, fake, now, hand_history(2))
    closing.append(stack)
    reply = await stack.service.handle_text(private(), "/subscribe btc 1h 3x longs")
    text = plain_text(reply.messages[0])
    assert (
        'Waiting for history: "usual" needs 3 days of stored data at each hour of day '
        "(2.6 stored so far); this rule stays silent until then." in text
    )
    stack.market.events("binance", [liq("binance", 50e6, now, Side.LONG)])
    assert await alerts_sent(stack, CHAT) == []
    listed = plain_text((await stack.service.handle_text(private(), "/list")).messages[0])
    assert "3x usual  waiting for history" in listed


async def test_liqs_compare_through_telegram_sets_streams_beside_coinglass(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    """The real PTB client, `app.build` with a CoinGlass key, the real CoinGlassSource on the
    CoinGlass fake (its documented coin-list sample, once per exchange asked)."""
    from tests.fakes.exchanges import FakeCoinGlass
    from tests.telegram.harness import make_stack

    key = "cg-telegram-test-key-42"
    cg = await FakeCoinGlass(key).start()
    config = with_coinglass(stack_config(tmp_path, fake), cg.base)
    stack = await make_stack(
        tmp_path, fake, config=config, secrets=Secrets(telegram_token=fake.token, coinglass_key=key)
    )
    try:
        (source,) = [s for s in stack.rt.sources if s.name == "coinglass"]
        assert await source.poll_once(stack.market)
        text = await stack.ask(CHAT, "/liqs btc compare")
    finally:
        await stack.close()
        await cg.stop()
    # the harness seeds a $12.50M BTC long on Binance; CoinGlass's hour is 3 x $3,283,635.95
    assert "1h      $12.50M     $9.85M      127%" in text
    # Binance's 24h on CoinGlass is the sample's $82.28M; Bybit and OKX are up and saw nothing
    assert "By venue, 24h: Binance 15% · Bybit 0% · OKX 0%" in text
    assert text.startswith("<b>Our streams vs CoinGlass: BTC</b>\n")  # Telegram HTML, as sent
    assert "<pre>Window  Streams  CoinGlass  Coverage\n" in text  # the table stays aligned


async def test_backtest_through_telegram_reaches_back_with_coinglass_history(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    """/subscribe through the real PTB client: the confirmation's backtest joins CoinGlass's
    hourly buckets before the store's first minute (the hand-computed case of
    tests/test_backtest_history.py: 4 fires, the last on the store's spike)."""
    from tests.fakes.exchanges import FakeCoinGlass
    from tests.test_backtest_history import KEY, NOW, fill_store, hourly_rows

    cg = await FakeCoinGlass(KEY).start()
    cg.history_rows = hourly_rows()
    await fill_store(tmp_path / DB_NAME)
    config = with_coinglass(stack_config(tmp_path, fake), cg.base)
    clock = FixedClock(NOW)
    rt = await app.build(config, Secrets(telegram_token=fake.token, coinglass_key=KEY), clock=clock)
    stack = Stack(fake, rt, clock)  # type: ignore[arg-type]
    await app.start(rt, jobs=False)
    await fake.wait_parked()
    try:
        text = await stack.ask(CHAT, "/subscribe btc 1h 100m")
    finally:
        await stack.close()
        await cg.stop()
    print(text)
    assert (
        "Backtest: would have fired 4 times in the last 12 days, last on 24 Jan 05:01 UTC" in text
    )
    assert "2 days from our store, 10 days before that from CoinGlass hourly totals" in text
    assert KEY not in text
