"""Absurd but well-formed amounts never reach the totals (issue 17 item 5).

Recorded frames (tests/fixtures/recorded/tardis_node_liquidations.json, tardis-dev/tardis-node)
of each streamed venue, their size replaced by an absurd value, go through the venue's own parser
into the service built by `app.build` on a real SQLite file; `/liqs` must show no absurd total,
`/status` counts the rejects, and the stored buckets are clean after a restart.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Secrets, parse_config
from bot.domain.frames import FrameError
from bot.domain.models import Liquidation
from bot.domain.venues import parse_binance, parse_bybit, parse_okx
from bot.runtime import app
from tests.offline import sources_off
from tests.test_restart_health import ManualClock

T0 = 1_800_000_000_000 + 10_000
RECORDED = Path(__file__).parent / "fixtures" / "recorded" / "tardis_node_liquidations.json"
_FRAMES = {f["id"]: f["frame"] for f in json.loads(RECORDED.read_text())["frames"]}


def _binance(size: Any, price: str = "4706.04") -> list[Liquidation]:
    f = copy.deepcopy(_FRAMES["tardis/binance-futures/BTCUSDT"])
    f["data"]["o"].update(z=size, ap=price, T=T0)  # USD = z x ap (the recorded ap: 4706.04)
    return parse_binance(json.dumps(f))


def _bybit(size: Any) -> list[Liquidation]:
    f = copy.deepcopy(_FRAMES["tardis/bybit/liquidation.GALAUSDT"])
    f["data"].update(size=size, updatedTime=T0)  # USD = size x price (0.03803)
    f["ts"] = T0
    return parse_bybit(json.dumps(f))


def _okx(size: Any) -> list[Liquidation]:
    f = copy.deepcopy(_FRAMES["tardis/okex-futures/XRP-USD-230929"])
    f["data"][0]["details"][0].update(sz=size, ts=str(T0))  # inverse: USD = sz x ctVal
    return parse_okx(json.dumps(f), {"XRP-USD-230929": 10.0})


# a size that makes about $500 billion (half the old hard-coded 1e12 cut-off) on each venue
BILLIONS = {"binance": "1e8", "bybit": "1e13", "okx": "5e10"}

PARSERS: dict[str, Callable[[Any], list[Liquidation]]] = {
    "binance": _binance,
    "bybit": _bybit,
    "okx": _okx,
}


def _config(tmp_path: Path) -> Any:
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "absurd.sqlite3")},
            "sources": sources_off(binance={}, bybit={}, okx={}),
            "console": {"enabled": "on"},
        }
    )


def test_the_default_bound_is_one_billion() -> None:
    assert parse_config({}).sources.max_event_usd == 1e9
    assert parse_config({"sources": {"max_event_usd": 5e8}}).sources.max_event_usd == 5e8


@pytest.mark.parametrize("venue", sorted(PARSERS))
def test_json_true_is_not_a_size(venue: str) -> None:
    assert PARSERS[venue]("1")  # the recorded frame parses with a plain size
    with pytest.raises(FrameError):
        PARSERS[venue](True)


async def test_absurd_sizes_are_rejected_counted_and_never_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    out = io.StringIO()
    rt = await app.build(config, Secrets(), stdout=out, clock=ManualClock(T0))
    try:
        assert rt.console is not None
        for venue, parse in PARSERS.items():
            rt.market.up(venue, T0)
            for absurd in (
                BILLIONS[venue],
                "1e15",
                "1e299",
                "0",
            ):  # huge, huger, zero (each parser takes them)
                rt.market.events(venue, parse(absurd))
                rt.market.events(venue, parse(absurd))  # twice: logged once per transition
        for _ in range(2):  # both finite, their product overflows to inf
            rt.market.events("binance", _binance("1e299", price="1e299"))
        # just under the bound ($1B): kept. BTC: z x 4706.04; GALA: size x 0.03803
        rt.market.events("binance", _binance(str(0.999e9 / 4706.04)))
        rt.market.events("bybit", _bybit(str(0.5e9 / 0.03803)))
        await rt.console.handle_line("/liqs")
        await rt.console.handle_line("/status")
        assert rt.ops is not None
        metrics = rt.ops.metrics.exposition().decode()
        assert 'liqbot_events_rejected_total{reason="zero or negative",source="okx"} 2.0' in metrics
    finally:
        await app.stop(rt)
    text = out.getvalue()
    assert "Sorry" not in text and "Traceback" not in text
    liqs = text[text.index("Liquidations") :]
    assert "T" not in "".join(w for w in liqs.split() if w.startswith("$"))  # no $...T
    assert "$999.00M" in liqs and "$500.00M" in liqs
    assert "binance: 10 events rejected (6 above max_event_usd, 2 not a finite number, " in text
    for venue in ("bybit", "okx"):
        assert f"{venue}: 8 events rejected (6 above max_event_usd, 2 zero or negative)" in text
    warned = [r.getMessage() for r in caplog.records if "rejecting events" in r.getMessage()]
    assert len(warned) == 3 * 2 + 1  # one line per source and reason, not per event

    out2 = io.StringIO()
    rt2 = await app.build(config, Secrets(), stdout=out2, clock=ManualClock(T0 + 20_000))
    try:
        rows = rt2.market.agg.dirty_rows()  # nothing new: loads are not dirty
        assert rows == []
        buckets = await rt2.db.bucket_minutes(T0 - 60_000, None)
        assert rt2.console is not None
        for venue in PARSERS:
            rt2.market.up(venue, T0 + 20_000)
        await rt2.console.handle_line("/liqs")
    finally:
        await app.stop(rt2)
    stored = sorted(round(v) for _, _, values in buckets for v in values if v)
    assert stored == [round(0.5e9), round(0.999e9)]
    after = out2.getvalue()
    assert "$999.00M" in after and "Sorry" not in after
