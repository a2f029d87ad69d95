"""CoinGlassSource against a fake v4 REST API over real HTTP, with an injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from bot.domain.aggregate import Aggregator
from bot.domain.coinglass_payloads import HistoryPoint
from bot.domain.health import SourceHealth
from bot.domain.message import plain_text
from bot.domain.models import ALL, VenueSplit, WindowTotals
from bot.domain.money import format_usd
from bot.domain.render_market import render_liqs
from bot.domain.source_fault import Fault
from bot.runtime.market_view import LiveMarket
from bot.sources.coinglass import (
    AuthError,
    CoinGlassAPIError,
    CoinGlassSource,
    HistoryError,
    RateLimited,
)
from tests.fakes.exchanges import FakeCoinGlass
from tests.fakes.exchanges import sample as cg_sample
from tests.sources.conftest import RecordingSink

KEY = "sekret-key-123"


class Clock:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
async def cg():
    fake = await FakeCoinGlass(KEY).start()
    yield fake
    await fake.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(cg: FakeCoinGlass, clock: Clock, **kw) -> CoinGlassSource:
    kw.setdefault("exchanges", ("Binance", "Bybit"))
    return CoinGlassSource(KEY, base_url=cg.base, clock=clock, timeout_s=0.5, **kw)


async def test_coin_list_totals_per_window_venue_splits_and_all(
    cg, clock, sink: RecordingSink
) -> None:
    src = make(cg, clock)
    assert await src.poll_once(sink) is True
    await src.aclose()
    [(name, as_of, totals, venues)] = sink.totals_in
    assert (name, as_of) == ("coinglass", clock.ms)
    # the sample row served for both exchanges: sums are twice the sample
    assert totals[("BTC", 60)] == WindowTotals(2 * 3182915.16289, 2 * 100720.7902)
    assert totals[("BTC", 1440)].longs == pytest.approx(2 * 68437447.33734027)
    assert totals[(ALL, 240)] == totals[("BTC", 240)]
    assert {v.venue for v in venues[("BTC", 720)]} == {"binance", "bybit"}
    assert set(cg.keys_seen) == {KEY}
    assert sink.kinds() == ["up"]


async def test_plan_error_falls_back_to_exchange_list(cg, clock, sink: RecordingSink) -> None:
    cg.coin_list_mode = "plan_error"
    src = make(cg, clock, coins=("BTC", "ETH"))
    assert await src.poll_once(sink) is True
    assert src.use_coin_list is False
    assert await src.poll_once(sink) is True  # the next poll goes straight to exchange-list
    await src.aclose()
    assert sum("coin-list" in c for c in cg.calls) == 1
    totals, venues = sink.totals_in[-1][2], sink.totals_in[-1][3]
    assert set(totals) == {(c, w) for c in ("BTC", "ETH", ALL) for w in (60, 240, 720, 1440)}
    assert totals[("BTC", 240)] == WindowTotals(4 * 451394.17404598, 4 * 14222125.64334477)
    assert venues[("ETH", 60)] == (VenueSplit("bybit", 104560.13885, 4480729.99519),)
    # no market-wide row in this plan: ALL is the configured coins' sum, and says so
    assert totals[(ALL, 60)] == WindowTotals(2 * 451394.17404598, 2 * 14222125.64334477)
    assert venues[(ALL, 60)] == (VenueSplit("bybit", 2 * 104560.13885, 2 * 4480729.99519),)
    assert sink.coverage.startswith("All coins = BTC+ETH only")
    assert "down" not in sink.kinds()


class MarketClock:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.speed = 1.0

    def now_ms(self) -> int:
        return self.clock()


async def liqs_all(src: CoinGlassSource, clock: Clock) -> tuple[LiveMarket, str]:
    """/liqs all as the service renders it, from one poll into the live market."""
    market = LiveMarket(
        Aggregator(venues=()), SourceHealth(["coinglass"], clock.ms), MarketClock(clock)
    )
    assert await src.poll_once(market) is True
    await src.aclose()
    msg = render_liqs(market.snapshot(clock.ms), ALL, None, market.status(clock.ms))
    return market, plain_text(msg)


async def test_liqs_with_coin_list_gives_coinglass_numbers_to_the_cent(cg, clock) -> None:
    sample = cg_sample("coinglass_coin_list.json")["data"][0]  # BTC, asked of two exchanges
    market, text = await liqs_all(make(cg, clock), clock)
    snap = market.snapshot(clock.ms)
    for label, minutes in (("1h", 60), ("4h", 240), ("12h", 720), ("24h", 1440)):
        longs = 2 * sample[f"long_liquidation_usd_{label}"]
        shorts = 2 * sample[f"short_liquidation_usd_{label}"]
        t = snap.window_totals(ALL, minutes)
        assert (round(t.longs, 2), round(t.shorts, 2)) == (round(longs, 2), round(shorts, 2))
        row = f"{label} {format_usd(longs)} {format_usd(shorts)} {format_usd(longs + shorts)}"
        assert row in " ".join(text.split()), text
    assert "coinglass (" not in text  # the whole market: no coverage note


async def test_liqs_without_coin_list_is_never_a_market_wide_zero(cg, clock) -> None:
    cg.coin_list_mode = "plan_error"
    market, text = await liqs_all(make(cg, clock, coins=("BTC", "ETH")), clock)
    all_1h = market.snapshot(clock.ms).window_totals(ALL, 60)
    assert all_1h is not None and all_1h.total == pytest.approx(2 * 14673519.81739075)
    assert "$0 " not in " ".join(text.split())
    footer = "sources: coinglass (All coins = BTC+ETH only: market-wide totals need CoinGlass"
    assert footer + " coin-list)" in text


async def test_401_is_logged_once_marks_down_and_slows_polling(
    cg, clock, sink: RecordingSink, caplog
) -> None:
    cg.mode = "401"
    src = make(cg, clock, auth_pause_s=900)
    with caplog.at_level(logging.INFO):
        assert await src.poll_once(sink) is False
        assert await src.poll_once(sink) is False  # paused: no request at all
        clock.ms += 901_000
        assert await src.poll_once(sink) is False
    await src.aclose()
    assert len(cg.calls) == 2
    assert sum("rejected the API key" in r.message for r in caplog.records) == 1
    assert sink.kinds() == ["down"] and sink.totals_in == []
    st = sink.status(src.name)
    assert st.state == "down" and st.fault is Fault.AUTH_REJECTED
    assert st.note == "CoinGlass rejected the API key"
    assert KEY not in caplog.text and KEY not in repr(st)


async def test_429_backs_off_then_recovers(cg, clock, sink: RecordingSink) -> None:
    cg.mode = "429"
    src = make(cg, clock, rate_pause_s=60)
    assert await src.poll_once(sink) is False
    cg.mode = "ok"
    assert await src.poll_once(sink) is False  # still within the pause: no request sent
    assert len(cg.calls) == 1
    clock.ms += 61_000
    assert await src.poll_once(sink) is True
    await src.aclose()
    assert sink.kinds() == ["down", "up"]
    down = next(c[2] for c in sink.calls if c[0] == "down")
    assert down.fault is Fault.RATE_LIMITED and "429" in down.detail
    assert len(sink.totals_in) == 1


async def test_usage_headers_pause_before_the_budget_is_spent(
    cg, clock, sink: RecordingSink
) -> None:
    cg.max_limit = 10
    cg.coin_list_mode = "plan_error"
    src = make(cg, clock, coins=("BTC", "ETH", "SOL"), budget_ratio=0.8, rate_pause_s=60)
    assert await src.poll_once(sink) is False  # 12 requests needed, budget stops us at 8
    await src.aclose()
    assert cg.used == 8 and src.use_limit == 8 and src.max_limit == 10
    assert sink.totals_in == []  # a partial poll pushes nothing
    assert "budget" in sink.status(src.name).note
    assert sink.status(src.name).fault is Fault.RATE_LIMITED
    clock.ms += 30_000
    assert await src.poll_once(sink) is False and cg.used == 8  # still paused, nothing sent


@pytest.mark.parametrize(
    ("mode", "words", "fault"),
    [
        ("500", "HTTP 500", Fault.HTTP_ERROR),
        ("slow", "timed out", Fault.TIMEOUT),
        ("malformed", "malformed", Fault.BAD_DATA),
        ("envelope_error", "50001", Fault.API_ERROR),
    ],
)
async def test_failures_are_down_with_reason_no_totals_and_retried(
    cg, clock, sink: RecordingSink, mode, words, fault
) -> None:
    cg.mode = mode
    src = make(cg, clock)
    assert await src.poll_once(sink) is False
    assert sink.totals_in == []
    [down] = [c for c in sink.calls if c[0] == "down"]
    assert down[2].fault is fault
    assert words in down[2].detail and KEY not in down[2].detail
    cg.mode = "ok"
    assert await src.poll_once(sink) is True  # retried on the very next poll
    await src.aclose()
    assert sink.kinds() == ["down", "up"] and len(sink.totals_in) == 1


async def test_run_polls_on_its_own_and_survives_a_dead_server(clock, sink: RecordingSink) -> None:
    fake = await FakeCoinGlass(KEY).start()
    base = fake.base
    await fake.stop()  # nothing listens: every poll fails to connect
    src = CoinGlassSource(KEY, base_url=base, clock=clock, poll_interval_s=0.01, timeout_s=0.5)
    task = asyncio.create_task(src.run(sink))
    await sink.until(lambda s: "down" in s.kinds())
    assert not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert sink.kinds() == ["down"] and "cannot reach" in sink.status(src.name).note
    assert sink.status(src.name).fault is Fault.CANNOT_CONNECT
    assert src._client is None  # closed on the way out


# ---- history (aggregated-history) -----------------------------------------------------------


async def test_history_sends_the_key_and_params_and_sorts_by_time(cg, clock) -> None:
    src = make(cg, clock)  # exchanges Binance, Bybit: the fake scales the sample by 2
    points = await src.history("btc", interval="4h", limit=168)
    await src.aclose()
    assert points == [
        HistoryPoint(1658966400000, 2 * 5916885.14234, 2 * 12969583.87632),
        HistoryPoint(1659052800000, 2 * 5345708.23191, 2 * 6454875.54909),
    ]
    [call] = cg.calls
    assert call.startswith("/api/futures/liquidation/aggregated-history?")
    assert "exchange_list=Binance%2CBybit" in call and "symbol=BTC" in call
    assert "interval=4h" in call and "limit=168" in call
    assert cg.keys_seen == [KEY] and KEY not in call


async def test_history_exchanges_and_limit_are_passed_through(cg, clock) -> None:
    src = make(cg, clock)
    points = await src.history("ETH", interval="1d", limit=1, exchanges=["OKX"])
    await src.aclose()
    assert points == [HistoryPoint(1659052800000, 5345708.23191, 6454875.54909)]
    assert "exchange_list=OKX&" in cg.calls[0]


@pytest.mark.parametrize("interval", ["2h", "1H", "24h", "", "1M"])
async def test_history_rejects_an_interval_coinglass_does_not_serve(cg, clock, interval) -> None:
    src = make(cg, clock)
    with pytest.raises(ValueError, match="1m 3m 5m 15m 30m 1h 4h 6h 8h 12h 1d 1w"):
        await src.history("BTC", interval=interval)
    assert cg.calls == []  # rejected before any request


@pytest.mark.parametrize(("coin", "limit"), [("BTC", 0), ("BTC", 1001), ("ALL", 10), (" ", 10)])
async def test_history_rejects_bad_limit_or_coin(cg, clock, coin, limit) -> None:
    src = make(cg, clock)
    with pytest.raises(ValueError):
        await src.history(coin, limit=limit)
    assert cg.calls == []


async def test_history_401_names_the_key_problem_not_the_key(cg, clock) -> None:
    cg.mode = "401"
    src = make(cg, clock)
    with pytest.raises(AuthError) as info:
        await src.history("BTC")
    await src.aclose()
    assert "COINGLASS_API_KEY" in str(info.value) and "401" in str(info.value)
    assert KEY not in str(info.value)


async def test_history_401_in_an_envelope_is_an_auth_error(cg, clock) -> None:
    src = CoinGlassSource("wrong-key", base_url=cg.base, clock=clock, timeout_s=0.5)
    with pytest.raises(AuthError):
        await src.history("BTC")
    await src.aclose()


async def test_history_429_says_rate_limited(cg, clock) -> None:
    cg.mode = "429"
    src = make(cg, clock)
    with pytest.raises(RateLimited, match="rate limited") as info:
        await src.history("BTC")
    await src.aclose()
    assert isinstance(info.value, CoinGlassAPIError)


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("envelope_error", "CoinGlass error 50001: Server busy"),
        ("malformed", "malformed CoinGlass answer"),
        ("500", "CoinGlass HTTP 500"),
        ("slow", "timed out"),
    ],
)
async def test_history_failures_raise_history_error_with_the_reason(cg, clock, mode, words) -> None:
    cg.mode = mode
    src = make(cg, clock)
    with pytest.raises(HistoryError, match=words) as info:
        await src.history("BTC")
    await src.aclose()
    assert KEY not in str(info.value)


async def test_history_unreachable_server_is_a_history_error(clock) -> None:
    fake = await FakeCoinGlass(KEY).start()
    base = fake.base
    await fake.stop()
    src = CoinGlassSource(KEY, base_url=base, clock=clock, timeout_s=0.5)
    with pytest.raises(HistoryError, match="cannot reach CoinGlass"):
        await src.history("BTC")
    await src.aclose()
