"""`/liqs compare` through the production wiring: `app.build` with a CoinGlass key, the real
CoinGlassSource polling the CoinGlass fake on 127.0.0.1 (it serves the documented coin-list
sample), stream events fed into the composed LiveMarket, the answer read from the console."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.domain.source_fault import DownReason, Fault
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.sources.coinglass import CoinGlassSource
from tests.fakes.exchanges import FakeCoinGlass
from tests.offline import sources_off

KEY = "cg-test-key-0123456789"
T0 = 1_800_000_000_000 + 30_000  # 2027-01-15 08:00:30 UTC
MIN = 60_000


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@pytest.fixture
async def coinglass() -> AsyncIterator[FakeCoinGlass]:
    fake = await FakeCoinGlass(KEY).start()
    yield fake
    await fake.stop()


async def _runtime(
    tmp_path: Path, cg: FakeCoinGlass | None, clock: ManualClock, **coinglass: object
) -> tuple:
    sources = sources_off(binance={"enabled": True}, bybit={"enabled": True})
    if cg is not None:
        sources["coinglass"] = {"url": cg.base, **coinglass}
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "compare.sqlite3")},
            "sources": sources,
            "console": {"enabled": "on"},
        }
    )
    out = io.StringIO()
    secrets = Secrets(coinglass_key=KEY) if cg is not None else Secrets()
    rt = await app.build(config, secrets, stdout=out, clock=clock)
    for venue in ("binance", "bybit"):
        rt.market.up(venue, T0 - 25 * 3600_000)
    rt.market.events(
        "binance",
        [
            Liquidation("binance", "BTC", Side.LONG, 1_000_000.0, T0 - 30 * MIN, "BTCUSDT"),
            Liquidation("binance", "BTC", Side.SHORT, 50_000.0, T0 - 10 * MIN, "BTCUSDT"),
            Liquidation("binance", "BTC", Side.LONG, 2_000_000.0, T0 - 3 * 3600_000, "BTCUSDT"),
        ],
    )
    rt.market.events(
        "bybit",
        [Liquidation("bybit", "BTC", Side.LONG, 500_000.0, T0 - 5 * MIN, "BTCUSDT")],
    )
    return rt, out


def _coinglass(rt: app.Runtime) -> CoinGlassSource:
    return next(s for s in rt.sources if isinstance(s, CoinGlassSource))


async def _ask(rt: app.Runtime, out: io.StringIO, line: str) -> str:
    start = len(out.getvalue())
    assert rt.console is not None
    await rt.console.handle_line(line)
    return out.getvalue()[start:]


async def test_compare_sets_the_streams_beside_coinglass_window_by_window(
    tmp_path: Path, coinglass: FakeCoinGlass
) -> None:
    rt, out = await _runtime(tmp_path, coinglass, ManualClock(T0))
    try:
        assert await _coinglass(rt).poll_once(rt.market)
        text = await _ask(rt, out, "/liqs btc compare")
        plain = await _ask(rt, out, "/liqs btc")
    finally:
        await app.stop(rt)
    # CoinGlass: the coin-list sample once per exchange asked (Binance, OKX, Bybit), so 3x the
    # sample's BTC row: 1h 3 x $3,283,635.95 = $9.85M. Streams: 1h $1M + $50K + $500K = $1.55M,
    # 4h and up add the $2M long of 3 h ago. Coverage 1.55 / 9.85 = 16%; 3.55 / 246.84 = 1%.
    assert text.splitlines() == [
        "Our streams vs CoinGlass: BTC",
        "Coverage: what our streams (Binance, Bybit) saw as a share of CoinGlass's total "
        "(Binance, Bybit, OKX).",
        "24h by side: longs 2% ($3.50M of $205.31M) · shorts 0% ($50.00K of $41.53M)",
        "By venue, 24h: Binance 4% · Bybit 1% · OKX not streamed",
        "Window  Streams  CoinGlass  Coverage",
        "1h       $1.55M     $9.85M       16%",
        "4h       $3.55M    $34.14M       10%",
        "12h      $3.55M   $205.00M        2%",
        "24h      $3.55M   $246.84M        1%",
        "as of 08:00 UTC · CoinGlass as of 08:00 UTC",
        "",
    ]
    # the overlay is untouched: plain /liqs still shows CoinGlass's figure for the hour
    assert "$9.85M" in plain


async def test_coinglass_column_is_na_before_its_first_answer_and_when_stale(
    tmp_path: Path, coinglass: FakeCoinGlass
) -> None:
    clock = ManualClock(T0)
    rt, out = await _runtime(tmp_path, coinglass, clock)
    try:
        before = await _ask(rt, out, "/liqs compare btc")
        assert await _coinglass(rt).poll_once(rt.market)
        clock.now += 6 * MIN  # past sources.coinglass stale time (5 min) with no new answer
        stale = await _ask(rt, out, "/liqs compare btc")
    finally:
        await app.stop(rt)
    for text in (before, stale):
        rows = text.splitlines()
        table = rows[rows.index("Window  Streams  CoinGlass  Coverage") + 1 :][:4]
        assert [r.split()[2:] for r in table] == [["n/a", "n/a"]] * 4  # never $0 nor 0%
        assert [r.split()[1] for r in table] == ["$1.55M", "$3.55M", "$3.55M", "$3.55M"]
    assert "CoinGlass has not answered yet: its column fills after its next poll." in before
    assert "CoinGlass's last figures are from 08:00 UTC: too old to set beside ours." in stale
    assert stale.rstrip().splitlines()[-1] == "as of 08:06 UTC · CoinGlass as of 08:00 UTC"


async def test_without_coin_list_all_coins_compares_the_same_coins(
    tmp_path: Path, coinglass: FakeCoinGlass
) -> None:
    coinglass.coin_list_mode = "plan_error"  # a key without coin-list: exchange-list per coin
    rt, out = await _runtime(tmp_path, coinglass, ManualClock(T0))
    try:
        # a coin CoinGlass is not asked about: the streams' market-wide row must leave it out
        rt.market.events(
            "binance", [Liquidation("binance", "PEPE", Side.LONG, 7e6, T0 - MIN, "1000PEPEUSDT")]
        )
        assert await _coinglass(rt).poll_once(rt.market)
        text = await _ask(rt, out, "/liqs compare")
    finally:
        await app.stop(rt)
    lines = text.splitlines()
    assert lines[0] == "Our streams vs CoinGlass: All coins"
    assert (
        "CoinGlass sums BNB+BTC+DOGE+ETH+SOL+XRP only on this key (no coin-list), "
        "so both columns count those coins." in lines
    )
    hour = next(r for r in lines if r.startswith("1h "))
    assert hour.split()[1] == "$1.55M"  # BTC only: PEPE's $7M is not in CoinGlass's sum


async def test_with_no_stream_connected_the_streams_column_is_unknown(
    tmp_path: Path, coinglass: FakeCoinGlass
) -> None:
    rt, out = await _runtime(tmp_path, coinglass, ManualClock(T0))
    try:
        assert await _coinglass(rt).poll_once(rt.market)
        for venue in ("binance", "bybit"):
            rt.market.down(venue, T0, DownReason(Fault.CANNOT_CONNECT, "ConnectionRefusedError"))
        text = await _ask(rt, out, "/liqs btc compare")
    finally:
        await app.stop(rt)
    assert "No stream is connected now: the streams' column is unknown." in text
    assert "1h          n/a     $9.85M       n/a" in text.splitlines()


async def test_streams_above_coinglass_say_why(tmp_path: Path, coinglass: FakeCoinGlass) -> None:
    rt, out = await _runtime(tmp_path, coinglass, ManualClock(T0))
    try:
        assert await _coinglass(rt).poll_once(rt.market)
        rt.market.events(
            "binance", [Liquidation("binance", "BTC", Side.SHORT, 12e6, T0 - MIN, "BTCUSDT")]
        )
        text = await _ask(rt, out, "/liqs btc compare")
    finally:
        await app.stop(rt)
    assert "1h      $13.55M     $9.85M      138%" in text.splitlines()
    assert (
        "Above 100%: CoinGlass's figures are from our last poll of it; the streams are live."
        in text
    )


async def test_without_a_key_compare_says_what_it_needs(tmp_path: Path) -> None:
    rt, out = await _runtime(tmp_path, None, ManualClock(T0))
    try:
        text = await _ask(rt, out, "/liqs compare")
    finally:
        await app.stop(rt)
    assert text.splitlines()[0] == "Compare needs CoinGlass"
    assert "set COINGLASS_API_KEY and restart" in text


async def test_the_configured_exchanges_are_what_coinglass_counts(
    tmp_path: Path, coinglass: FakeCoinGlass
) -> None:
    exchanges = ["Binance", "OKX", "Bybit", "Bitget", "Gate", "HTX", "Hyperliquid"]
    rt, out = await _runtime(tmp_path, coinglass, ManualClock(T0), exchanges=exchanges)
    try:
        assert await _coinglass(rt).poll_once(rt.market)
        text = await _ask(rt, out, "/liqs btc compare")
    finally:
        await app.stop(rt)
    asked = [c.split("exchange=")[1] for c in coinglass.calls if "coin-list" in c]
    assert asked == exchanges  # one coin-list call per configured exchange
    # seven exchanges of the sample's $3.28M hour: $22.99M; ours $1.55M is 7%
    assert "1h       $1.55M    $22.99M        7%" in text.splitlines()
    assert "saw as a share of CoinGlass's total (7 exchanges)." in text
