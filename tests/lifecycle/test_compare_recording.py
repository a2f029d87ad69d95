"""bench/compare_coinglass.py: `replay` runs both paths through the production wiring (a
hand-built recording with hand-computed ratios), and `record` run as a child process against a
fake Binance and the CoinGlass fake writes what `replay` reads."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import yaml

from bench import compare_coinglass as bench
from bot.domain.models import ALL
from tests.fakes.exchanges import FakeCoinGlass, FakeVenue, binance_frame, sample
from tests.offline import sources_off

ROOT = Path(__file__).resolve().parents[2]
S = 1_800_000_000_000  # the recording's start
MIN = 60_000
COIN_LIST = "/api/futures/liquidation/coin-list"


def _coin_list(longs_1h: float, shorts_1h: float) -> dict:
    row: dict = {"symbol": "ETH"}
    for label, k in (("1h", 1), ("4h", 4), ("12h", 12), ("24h", 24)):
        row[f"long_liquidation_usd_{label}"] = longs_1h * k
        row[f"short_liquidation_usd_{label}"] = shorts_1h * k
        row[f"liquidation_usd_{label}"] = (longs_1h + shorts_1h) * k
    return {"code": "0", "msg": "success", "data": [row]}


def _recording(path: Path) -> None:
    body = _coin_list(2e6, 2e6)  # $4M an hour per exchange: $12M over Binance, OKX, Bybit
    lines = [
        {"recording": True, "start_ms": S, "sources": ["binance", "bybit"]},
        {"t": 600, "venue": "binance", "coin": "ETH", "side": "long", "usd": 600_000.0},
        {"t": 1800, "venue": "binance", "coin": "BTC", "side": "long", "usd": 3_000_000.0},
        {"t": 3000, "venue": "bybit", "coin": "ETH", "side": "short", "usd": 400_000.0},
    ]
    for t in (3660, 4200):  # two polls: 61 and 70 minutes in
        for i, x in enumerate(("Binance", "OKX", "Bybit")):
            cg = {"path": COIN_LIST, "params": {"exchange": x}, "body": body}
            lines.append({"t": t + i * 0.2, "coinglass": cg})
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n", encoding="utf-8")


async def test_replay_sets_both_paths_side_by_side_per_poll(tmp_path: Path) -> None:
    _recording(tmp_path / "hour.jsonl")
    rec = bench.read_recording(tmp_path / "hour.jsonl")
    assert len(rec.events) == 3 and len(rec.polls) == 2  # three answers 0.2 s apart: one poll
    results = await bench.replay(rec, "ETH")
    (held1, first), (held2, second) = results
    # held: from the first event (t=600 s) to each poll (3660.4 s, 4200.4 s)
    assert (held1, held2) == (3_060_400, 3_600_400)
    hour1, hour2 = first.rows[0], second.rows[0]
    assert hour1.streams is not None and hour1.coinglass is not None
    assert (hour1.streams.total, hour1.coinglass.total) == (1_000_000.0, 12_000_000.0)
    assert hour2.streams is not None and hour2.streams.total == 400_000.0  # t=600 s left the hour
    assert round(hour1.coverage or 0, 4) == 0.0833 and round(hour2.coverage or 0, 4) == 0.0333
    assert first.stream_sources == ("binance", "bybit")


async def test_replay_report_prints_ratio_per_window_and_what_is_not_covered(
    tmp_path: Path, capsys
) -> None:
    _recording(tmp_path / "hour.jsonl")
    rec = bench.read_recording(tmp_path / "hour.jsonl")
    bench.report(rec, "ETH", await bench.replay(rec, "ETH"))
    out = capsys.readouterr().out.splitlines()
    # only the 70-minute poll holds a whole hour before it (the first holds 51 min)
    assert "1h          1   $400.00K     $12.00M    3.3%    3.3%" in out
    assert "4h             not covered: the recording holds 60 min before the last poll" in out


async def test_all_coins_of_the_demo_run_without_a_file() -> None:
    rec = bench.demo_recording()
    assert rec.synthetic and len(rec.polls) == 1
    [(_, c)] = await bench.replay(rec, ALL)
    assert c.coinglass == "up" and all(r.streams is not None for r in c.rows)


async def test_record_writes_events_and_coinglass_answers_that_replay_reads(
    tmp_path: Path, binance: FakeVenue
) -> None:
    key = "cg-record-key-0123456789"
    cg = await FakeCoinGlass(key).start()
    config = {
        "storage": {"path": str(tmp_path / "rec.sqlite3")},
        "sources": sources_off(
            binance={"url": binance.ws_url, "rest_url": binance.base},
            coinglass={"url": cg.base, "poll": 1},
        ),
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / "hour.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    env["COINGLASS_API_KEY"] = key
    script = str(ROOT / "bench" / "compare_coinglass.py")
    args = ["record", str(out), "--minutes", "0.1", "--config", str(tmp_path / "config.yaml")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, script, *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        conn = await asyncio.wait_for(binance.connection(0), 30)
        now = 1_800_000_000_000
        await conn.send(binance_frame("ETHUSDT", "SELL", 1.0, 500_000.0, now))
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
        await cg.stop()
    assert proc.returncode == 0, stderr.decode()
    assert key not in out.read_text() and key not in stderr.decode()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["recording"] is True and rows[0]["sources"] == ["binance"]
    [event] = [r for r in rows if "venue" in r]
    assert (event["coin"], event["side"], event["usd"]) == ("ETH", "long", 500_000.0)
    answers = [r["coinglass"] for r in rows if "coinglass" in r]
    assert answers and answers[0]["path"] == COIN_LIST
    assert answers[0]["body"] == sample("coinglass_coin_list.json")
    assert {a["params"]["exchange"] for a in answers} == {"Binance", "OKX", "Bybit"}
    assert "recorded 1 events" in stdout.decode()
    rec = bench.read_recording(out)  # and replay reads it: the recording is its input
    assert len(rec.events) == 1 and rec.polls


async def test_a_recording_without_coin_list_replays_through_exchange_list(tmp_path: Path) -> None:
    """A key without coin-list: the recording holds exchange-list answers per coin and range;
    replay answers coin-list as CoinGlass does for such a plan, and the source falls back."""
    path = "/api/futures/liquidation/exchange-list"
    lines: list[dict] = [
        {"recording": True, "start_ms": S},
        {"t": 3000, "venue": "binance", "coin": "ETH", "side": "long", "usd": 500_000.0},
    ]
    for label, k in (("1h", 1), ("4h", 4), ("12h", 12), ("24h", 24)):
        rows = [
            {"exchange": "All", "liquidation_usd": 5e6 * k, "long_liquidation_usd": 4e6 * k,
             "short_liquidation_usd": 1e6 * k},
            {"exchange": "Binance", "liquidation_usd": 2e6 * k, "long_liquidation_usd": 2e6 * k,
             "short_liquidation_usd": 0.0},
        ]  # fmt: skip
        body = {"code": "0", "msg": "success", "data": rows}
        cg = {"path": path, "params": {"symbol": "ETH", "range": label}, "body": body}
        lines.append({"t": 3700, "coinglass": cg})
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    rec = bench.read_recording(tmp_path / "x.jsonl")
    [(_, c)] = await bench.replay(rec, ALL)
    assert c.only_coins == ("ETH",)  # CoinGlass's "All coins" here is ETH alone: so is ours
    hour = c.rows[0]
    assert hour.streams is not None and hour.coinglass is not None
    assert (hour.streams.total, hour.coinglass.total) == (500_000.0, 5e6)  # the All row: 10%
