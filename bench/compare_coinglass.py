"""How much of the market the free streams see: our totals against CoinGlass's, per window.

    python bench/compare_coinglass.py record hour.jsonl --minutes 60 [--config FILE]
    python bench/compare_coinglass.py replay [hour.jsonl] [--coin btc]

`record` runs the service as `liqbot run` builds it (live venue streams, CoinGlass with
COINGLASS_API_KEY) and writes every stream event and every CoinGlass answer with its time. It
needs the internet. The file is also a replay file (`sources.replay.url`): the CoinGlass lines
are skipped there.

`replay` builds the service with `app.build` on a clock it moves itself. It feeds the recorded
events into its LiveMarket (the streams path). It serves the recorded CoinGlass answers from a
local HTTP server on 127.0.0.1 to the real CoinGlassSource (the CoinGlass path), at the times
they were recorded. After each answer it reads what `/liqs compare` reads and prints, per
window, the streams' total, CoinGlass's total and their ratio. A window counts only when the
recording holds all of it before that answer.

Without a file, replay uses the bundled demo day (SYNTHETIC events shaped after 2026-01-13)
and CoinGlass's documented coin-list sample, once per exchange. That shows the mechanics only:
the ratio it prints says nothing about real coverage. Record a real hour for that.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Secrets, parse_config, settings
from bot.domain.compare import Comparison
from bot.domain.market import resolve_coin, window_label
from bot.domain.models import ALL, Liquidation, Side
from bot.domain.money import format_usd
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.sources.coinglass import CoinGlassSource
from bot.sources.replay import demo_path
from tests.fakes.exchanges import FakeVenue
from tests.offline import LIVE_SOURCES, sources_off

SAMPLE = (
    Path(__file__).resolve().parents[1] / "tests/fixtures/wire-samples/coinglass_coin_list.json"
)
POLL_GAP_S = 5.0  # CoinGlass answers this close together belong to one poll


# ---- record ------------------------------------------------------------------------------


async def record(out: Path, minutes: float, config_path: str | None) -> int:
    loaded = settings.load(config_path)
    if not loaded.secrets.coinglass_key.get_secret_value():
        print("record: COINGLASS_API_KEY is not set; the recording needs CoinGlass's answers")
        return 2
    config = loaded.config.model_copy(
        update={"console": loaded.config.console.model_copy(update={"enabled": "off"})}
    )
    rt = await app.build(config, loaded.secrets, stdout=io.StringIO())
    start = rt.clock.now_ms()
    f = out.open("w", encoding="utf-8")
    streams = [s.name for s in rt.sources if s.name not in ("coinglass", "replay")]
    header = {
        "recording": True,
        "start_ms": start,
        "sources": streams,
        "description": "recorded by bench/compare_coinglass.py: stream events and CoinGlass answers",
    }
    f.write(json.dumps(header) + "\n")
    counts = {"events": 0, "coinglass": 0}
    sink_events = rt.market.events

    def events(source: str, batch: list[Liquidation]) -> None:
        for e in batch:
            row = {"t": round((e.ts_ms - start) / 1000, 3), "venue": e.venue, "coin": e.coin}
            row |= {"side": e.side.value, "usd": round(e.usd, 2), "symbol": e.symbol}
            f.write(json.dumps(row) + "\n")
        counts["events"] += len(batch)
        sink_events(source, batch)

    rt.market.events = events  # type: ignore[method-assign]  # a tee in front of the Sink
    for src in rt.sources:
        if isinstance(src, CoinGlassSource):

            def answer(path: str, params: dict[str, str], body: Any) -> None:
                t = round((rt.clock.now_ms() - start) / 1000, 3)
                cg = {"path": path, "params": params, "body": body}
                f.write(json.dumps({"t": t, "coinglass": cg}) + "\n")
                counts["coinglass"] += 1

            src.on_answer = answer
    await app.start(rt)
    try:
        await asyncio.sleep(minutes * 60)
    finally:
        await app.stop(rt)
        f.close()
    print(f"recorded {counts['events']} events and {counts['coinglass']} CoinGlass answers")
    print(f"over {minutes:g} min from {', '.join(streams)} into {out}")
    return 0


# ---- replay ------------------------------------------------------------------------------

AnswerKey = tuple[str, tuple[tuple[str, str], ...]]


def answer_key(path: str, params: dict[str, str]) -> AnswerKey:
    """A recorded answer is served to the same path and query (coin-list: the exchange;
    exchange-list: the coin and range)."""
    return path, tuple(sorted((k, str(v)) for k, v in params.items()))


@dataclass
class Poll:
    t_ms: int
    answers: dict[AnswerKey, Any] = field(default_factory=dict)  # answer_key(...) -> body


@dataclass
class Recording:
    label: str
    start_ms: int
    events: list[Liquidation]
    polls: list[Poll]
    synthetic: bool


def read_recording(path: Path) -> Recording:
    header: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if "t" in row:
                rows.append(row)
            else:
                header = row
    start = int(header.get("start_ms", 1_768_262_400_000))
    events = [
        Liquidation(
            str(r["venue"]), str(r["coin"]).upper(), Side(r["side"]), float(r["usd"]),
            start + int(float(r["t"]) * 1000), str(r.get("symbol", "")),
        )
        for r in rows
        if "coinglass" not in r
    ]  # fmt: skip
    polls: list[Poll] = []
    for r in sorted((r for r in rows if "coinglass" in r), key=lambda r: float(r["t"])):
        t = start + int(float(r["t"]) * 1000)
        if not polls or t - polls[-1].t_ms > POLL_GAP_S * 1000:
            polls.append(Poll(t))
        cg = r["coinglass"]
        polls[-1].answers[answer_key(cg["path"], cg["params"])] = cg["body"]
        polls[-1].t_ms = t  # the poll is read once its last answer is in
    synthetic = bool(header.get("synthetic"))
    return Recording(str(path), start, sorted(events, key=lambda e: e.ts_ms), polls, synthetic)


def demo_recording() -> Recording:
    """The bundled SYNTHETIC demo day, with CoinGlass's documented coin-list sample served once
    per exchange at the end of the demo's squeeze hour."""
    rec = read_recording(demo_path())
    end = rec.events[-1].ts_ms
    body = json.loads(SAMPLE.read_text(encoding="utf-8"))
    path = "/api/futures/liquidation/coin-list"
    poll = Poll(end, {answer_key(path, {"exchange": x}): body for x in _EXCHANGES})
    label = "the bundled demo (SYNTHETIC) + CoinGlass's documented coin-list sample"
    return Recording(label, rec.start_ms, rec.events, [poll], True)


_EXCHANGES = ("Binance", "OKX", "Bybit")


class RecordedCoinGlass:
    """A CoinGlass v4 server on 127.0.0.1 (the test suite's FakeVenue) that answers what was
    recorded for the current poll."""

    PATHS = ("/api/futures/liquidation/coin-list", "/api/futures/liquidation/exchange-list")

    def __init__(self) -> None:
        self.answers: dict[AnswerKey, Any] = {}
        self.served = 0
        self.venue = FakeVenue()
        for path in self.PATHS:
            self.venue.rest[path] = self._answer

    @property
    def base(self) -> str:
        return self.venue.base

    async def start(self) -> RecordedCoinGlass:
        await self.venue.start()
        return self

    async def stop(self) -> None:
        await self.venue.stop()

    def _answer(self, request: web.Request) -> Any:
        body = self.answers.get(answer_key(request.path, dict(request.query)))
        if body is None:  # not recorded: what CoinGlass says to a plan without the endpoint,
            # so a recording made without coin-list replays through exchange-list as it ran
            return {"code": "400", "msg": "Upgrade plan to access this endpoint"}
        self.served += 1
        return body


class ReplayClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


async def replay(rec: Recording, coin: str) -> list[tuple[int, Comparison]]:
    """Both paths through the production wiring; one Comparison per CoinGlass poll."""
    fake = await RecordedCoinGlass().start()
    venues = sorted({e.venue for e in rec.events})
    first = rec.events[0].ts_ms if rec.events else rec.start_ms
    clock = ReplayClock(first)
    out: list[tuple[int, Comparison]] = []
    with tempfile.TemporaryDirectory() as d:
        config = parse_config(
            {
                "storage": {"path": str(Path(d) / "compare.sqlite3")},
                "sources": sources_off(
                    **{v: {"enabled": True} for v in venues if v in LIVE_SOURCES},
                    coinglass={"url": fake.base, "exchanges": list(_exchanges(rec))}
                    | ({"coins": list(coins)} if (coins := _coins(rec)) else {}),
                ),
                "console": {"enabled": "off"},
            }
        )
        rt = await app.build(config, Secrets(coinglass_key="replayed-recording"), clock=clock)
        try:
            for v in venues:
                rt.market.up(v, first)
            source = next(s for s in rt.sources if isinstance(s, CoinGlassSource))
            i = 0
            for poll in rec.polls:
                while i < len(rec.events) and rec.events[i].ts_ms <= poll.t_ms:
                    j = i
                    while j < len(rec.events) and rec.events[j].ts_ms == rec.events[i].ts_ms:
                        j += 1
                    clock.now = rec.events[i].ts_ms
                    for v in venues:
                        batch = [e for e in rec.events[i:j] if e.venue == v]
                        if batch:
                            rt.market.events(v, batch)
                    i = j
                clock.now = poll.t_ms
                fake.answers = poll.answers
                if await source.poll_once(rt.market):
                    out.append((poll.t_ms - first, rt.market.compare(coin, poll.t_ms)))
        finally:
            await app.stop(rt)
            await fake.stop()
    return out


def _coins(rec: Recording) -> tuple[str, ...]:
    """The coins a recording made without coin-list asked exchange-list about."""
    return tuple(
        sorted({v for p in rec.polls for _, q in p.answers for k, v in q if k == "symbol"})
    )


def _exchanges(rec: Recording) -> tuple[str, ...]:
    names = {v for p in rec.polls for _, q in p.answers for k, v in q if k == "exchange"}
    return tuple(sorted(names)) or _EXCHANGES


def report(rec: Recording, coin: str, results: list[tuple[int, Comparison]]) -> None:
    print(f"recording: {rec.label}")
    span = (rec.events[-1].ts_ms - rec.events[0].ts_ms) / 60_000 if rec.events else 0
    print(
        f"  {len(rec.events)} stream events over {span:.0f} min, {len(rec.polls)} CoinGlass polls"
    )
    if rec.synthetic:
        print("  SYNTHETIC input: the ratio below shows the mechanics, not real coverage")
    if not results:
        print("no CoinGlass poll could be read")
        return
    label = "All coins" if coin == ALL else coin
    print(f"coin: {label}; streams: {', '.join(results[-1][1].stream_sources)}")
    print(f"{'window':<7}{'polls':>6}{'streams':>11}{'CoinGlass':>12}{'ratio':>8}{'median':>8}")
    for k, w in enumerate(results[-1][1].rows):
        ratios = [
            r for held, c in results if held >= w.window * 60_000 and (r := c.rows[k].coverage)
        ]
        last_held, last = results[-1]
        row = last.rows[k]
        if last_held < w.window * 60_000:
            print(f"{window_label(w.window):<7}{'':>6}  not covered: the recording holds "
                  f"{last_held // 60_000} min before the last poll")  # fmt: skip
            continue
        ours = format_usd(row.streams.total) if row.streams else "n/a"
        theirs = format_usd(row.coinglass.total) if row.coinglass else "n/a"
        ratio = f"{row.coverage:.1%}" if row.coverage is not None else "n/a"
        median = f"{statistics.median(ratios):.1%}" if ratios else "n/a"
        print(
            f"{window_label(w.window):<7}{len(ratios):>6}{ours:>11}{theirs:>12}{ratio:>8}{median:>8}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="record live streams and CoinGlass (needs the internet)")
    r.add_argument("out", type=Path)
    r.add_argument("--minutes", type=float, default=60.0)
    r.add_argument("--config", help="the YAML config, as for liqbot run")
    p = sub.add_parser("replay", help="replay a recording through both paths")
    p.add_argument("recording", nargs="?", type=Path, help="default: the SYNTHETIC demo day")
    p.add_argument(
        "--coin",
        help="a coin or all (default: all; btc for the demo, whose "
        "CoinGlass sample lists BTC only)",
    )
    args = ap.parse_args()
    if args.cmd == "record":
        return asyncio.run(record(args.out, args.minutes, args.config))
    rec = read_recording(args.recording) if args.recording else demo_recording()
    coin = resolve_coin(args.coin or ("all" if args.recording else "btc"))
    t0 = time.perf_counter()
    results = asyncio.run(replay(rec, coin))
    report(rec, coin, results)
    print(f"replayed in {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
