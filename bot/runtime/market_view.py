"""The live market: the Sink every source pushes into, and the view commands and rules read.

It folds stream events into the aggregator, tracks source health, overlays CoinGlass window
totals when a key is configured, and builds the Snapshot (cached per tick) and /status rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.domain.aggregate import Aggregator
from bot.domain.coinglass_payloads import COINGLASS_WINDOWS as CG_WINDOW_MINUTES
from bot.domain.compare import COMPARE_WINDOWS, CompareRow, Comparison, VenueRow
from bot.domain.event_checks import DEFAULT_MAX_EVENT_USD, reject_reason
from bot.domain.health import SourceHealth
from bot.domain.market import WINDOWS
from bot.domain.models import (
    ALL,
    Liquidation,
    Side,
    Snapshot,
    SourceStatus,
    VenueSplit,
    WindowTotals,
)
from bot.domain.source_fault import DownReason
from bot.domain.universe import CoinUniverse
from bot.domain.unknown_coins import UnknownCoins
from bot.runtime.clock import Clock

log = logging.getLogger(__name__)

UNKNOWN_OVER_BUDGET = "unknown coin over budget"  # sources.unknown_coins_max

COINGLASS_WINDOWS = frozenset(CG_WINDOW_MINUTES.values())  # the windows CoinGlass serves


@dataclass
class _Totals:
    as_of_ms: int
    totals: dict[tuple[str, int], WindowTotals]
    venues: dict[tuple[str, int], tuple[VenueSplit, ...]]
    coverage: str = ""  # what ALL covers when it is not the whole market


class LiveMarket:
    def __init__(
        self,
        aggregator: Aggregator,
        health: SourceHealth,
        clock: Clock,
        *,
        coinglass_stale_ms: int = 5 * 60_000,
        sampled: bool = True,
        universe: CoinUniverse | None = None,
        max_event_usd: float = DEFAULT_MAX_EVENT_USD,
        unknown_coins: UnknownCoins | None = None,
    ) -> None:
        self.agg = aggregator
        self.max_event_usd = max_event_usd
        # coins no instrument list names, on a bounded budget (bot.domain.unknown_coins)
        self.unknown = (
            unknown_coins if unknown_coins is not None else UnknownCoins(500, 25 * 3600_000)
        )
        self.universe = universe or CoinUniverse()  # what the venues list (their sources feed it)
        self.health = health
        self.clock = clock
        self.sampled = sampled
        self.coinglass_stale_ms = coinglass_stale_ms
        self.on_data: Callable[[], None] = lambda: None
        self.count_events: Callable[[list[Liquidation]], None] = lambda events: None  # metrics
        # single-liquidation rules see every batch (bot.domain.single_rules.SingleIndex.offer)
        self.watch: Callable[[list[Liquidation]], None] | None = None
        self._cg: _Totals | None = None
        self._snap: Snapshot | None = None
        self._touched_all = False  # CoinGlass totals replace whole windows: every series moved

    # ---- Sink -----------------------------------------------------------------------------

    def events(self, source: str, events: list[Liquidation]) -> None:
        events = self._screen(source, events)
        if not events:
            return
        now = self.clock.now_ms()
        self.agg.add(events, now)
        if self.watch is not None:
            self.watch(events)
        self.count_events(events)
        self.health.data(source, now, len(events))
        self._snap = None
        self.on_data()

    def _screen(self, source: str, events: list[Liquidation]) -> list[Liquidation]:
        """Every event of every source, before anything counts it: absurd amounts are dropped
        and counted per source and reason; the first of each reason is logged, once."""
        bound = self.max_event_usd
        bad: dict[str, list[Liquidation]] | None = None
        for ev in events:
            usd = ev.usd
            if type(usd) is float and 0.0 < usd <= bound:  # the common case, cheap
                continue
            reason = reject_reason(usd, bound)
            if reason is not None:
                bad = bad or {}
                bad.setdefault(reason, []).append(ev)
        bad = self._budget(events, bad)
        if bad is None:
            return events
        for reason, evs in bad.items():
            if self.health.rejected(source, reason, len(evs)):
                ev = evs[0]
                log.warning(
                    "source %s: rejecting events %s (first: %s %s %r USD); counted in /status",
                    source,
                    reason,
                    ev.coin,
                    ev.symbol or "-",
                    ev.usd,
                )
        dropped = {id(ev) for evs in bad.values() for ev in evs}
        return [ev for ev in events if id(ev) not in dropped]

    def _budget(
        self, events: list[Liquidation], bad: dict[str, list[Liquidation]] | None
    ) -> dict[str, list[Liquidation]] | None:
        """Events of coins no instrument list names pass only while the unknown-coin budget has
        room; a coin gone quiet gives its place (and its series) back."""
        names, unknown = self.universe.names, self.unknown
        skip = {id(e) for evs in bad.values() for e in evs} if bad else set()
        now: int | None = None
        for ev in events:
            coin = ev.coin
            if names(coin) or id(ev) in skip:
                continue
            if now is None:
                now = self.clock.now_ms()
            ok, freed = unknown.admit(coin, now, names)
            for gone in freed:
                self.agg.forget(gone)
            if freed:
                log.info(
                    "unknown coins quiet for a while dropped: %d (%s, ...)", len(freed), freed[0]
                )
            if not ok:
                bad = bad or {}
                bad.setdefault(UNKNOWN_OVER_BUDGET, []).append(ev)
        return bad

    def totals(
        self,
        source: str,
        as_of_ms: int,
        totals: dict[tuple[str, int], WindowTotals],
        venues: dict[tuple[str, int], tuple[VenueSplit, ...]],
        coverage: str = "",
    ) -> None:
        self._cg = _Totals(as_of_ms, dict(totals), dict(venues), coverage)
        self._touched_all = True
        self.health.data(source, self.clock.now_ms(), 1)
        self._snap = None
        self.on_data()

    # the health record decides what is a transition; each is logged once, never per retry
    def up(self, source: str, now_ms: int) -> None:
        if self.health.up(source, now_ms):
            log.info("source %s is up", source)
            self._snap = None

    def down(self, source: str, now_ms: int, reason: DownReason) -> None:
        if self.health.down(source, now_ms, reason):
            log.warning("source %s is down %s", source, reason.log_text())
            self._snap = None

    def skipped(self, source: str, count: int) -> None:
        self.health.skipped(source, count)

    def take_touched(self) -> set[tuple[str, Side]] | None:
        """(coin, side) pairs with new data since the last call; None: any series may have moved."""
        touched = self.agg.take_touched()
        if self._touched_all:
            self._touched_all = False
            return None
        return touched

    # ---- MarketView -----------------------------------------------------------------------

    def snapshot(self, now_ms: int) -> Snapshot:
        snap = self._snap
        if snap is not None and snap.as_of_ms // 1000 == now_ms // 1000:
            return snap
        snap = self.agg.snapshot(now_ms, WINDOWS, self.health)
        cg = self._cg
        if cg is not None and now_ms - cg.as_of_ms <= self.coinglass_stale_ms:
            snap = self._overlay(snap, cg)
        self._snap = snap
        return snap

    def _overlay(self, snap: Snapshot, cg: _Totals) -> Snapshot:
        """CoinGlass counts every venue it covers: its totals replace the streams' floor."""
        totals = {k: v for k, v in snap.totals.items() if k[1] not in COINGLASS_WINDOWS}
        totals.update(cg.totals)
        venues = {k: v for k, v in snap.venues.items() if k[1] not in COINGLASS_WINDOWS}
        venues.update(cg.venues)
        served = snap.served_windows | COINGLASS_WINDOWS
        complete = snap.complete_windows | (
            COINGLASS_WINDOWS if self.health.is_up("coinglass") else frozenset()
        )
        label = f"coinglass ({cg.coverage})" if cg.coverage else "coinglass"
        named = (label if s == "coinglass" else s for s in (*snap.sources, "coinglass"))
        sources = tuple(dict.fromkeys(named))
        return replace(
            snap,
            totals=totals,
            venues=venues,
            served_windows=served,
            complete_windows=complete,
            sources=sources,
        )

    def compare(self, coin: str, now_ms: int) -> Comparison:
        """The streams' own totals (never the CoinGlass overlay) beside CoinGlass's."""
        streams = [s for s in self.health.sources if s != "coinglass"]
        snap = self.agg.snapshot(now_ms, COMPARE_WINDOWS, self.health)
        live = any(self.health.is_up(s) for s in streams)
        complete = self._streams_complete(streams, now_ms) if live else frozenset()
        cg = self._cg
        if "coinglass" not in self.health.sources:
            state = "off"
        elif cg is None:
            state = "waiting"
        elif now_ms - cg.as_of_ms > self.coinglass_stale_ms:
            state = "stale"
        else:
            state = "up"
        # without coin-list CoinGlass's ALL sums the configured coins: ours must sum the same
        only = (
            tuple(sorted({c for c, _ in cg.totals if c != ALL}))
            if cg is not None and cg.coverage
            else ()
        )
        rows = []
        for w in COMPARE_WINDOWS:
            mine: WindowTotals | None = None
            if live:
                if coin == ALL and only:
                    parts = [snap.totals.get((c, w)) for c in only]
                    mine = WindowTotals(
                        sum(p.longs for p in parts if p), sum(p.shorts for p in parts if p)
                    )
                else:
                    mine = snap.totals.get((coin, w), WindowTotals(0.0, 0.0))
            theirs = cg.totals.get((coin, w)) if cg is not None and state == "up" else None
            rows.append(CompareRow(w, mine, theirs, w in complete))
        venue_window, venues = self._venue_rows(coin, snap, cg, rows)
        rows_now = {st.name: st for st in self.status(now_ms)}
        fed = tuple(
            s
            for s in streams
            if s in rows_now and (rows_now[s].state == "up" or rows_now[s].events)
        )
        return Comparison(
            coin,
            now_ms,
            tuple(rows),
            fed,
            state,
            cg.as_of_ms if cg is not None else None,
            only,
            venue_window,
            venues,
        )

    def _venue_rows(
        self,
        coin: str,
        snap: Snapshot,
        cg: _Totals | None,
        rows: list[CompareRow],
    ) -> tuple[int | None, tuple[VenueRow, ...]]:
        known = [r for r in rows if r.streams is not None and r.coinglass is not None]
        if cg is None or not known:
            return None, ()
        w = known[-1].window
        ours = {v.venue: v.total for v in snap.venues.get((coin, w), ())}
        theirs = {v.venue: v.total for v in cg.venues.get((coin, w), ())}
        names = sorted(set(theirs) | set(ours), key=lambda v: (-theirs.get(v, ours.get(v, 0.0)), v))
        # the aggregator holds the venues the streams count for (bot.runtime.app maps binance_coinm to
        # binance); a source up in the health record streams its venue too
        streamed = set(self.agg.venue_names) | set(self.health.sources)
        return w, tuple(
            VenueRow(v, ours.get(v, 0.0) if v in streamed else None, theirs.get(v)) for v in names
        )

    def _streams_complete(self, streams: list[str], now_ms: int) -> frozenset[int]:
        """Windows no stream had a gap in (CoinGlass's own outages do not count here)."""
        first_minute = now_ms // 60_000 * 60_000
        out = set()
        for w in COMPARE_WINDOWS:
            start = first_minute - (w - 1) * 60_000
            gaps = [g for s in streams for g in self.health.gaps(start, s)]
            # as complete_windows, but an empty gap (up the instant it started) is no gap
            if not any(b is None or (b > a and b > start and a < now_ms) for a, b in gaps):
                out.add(w)
        return frozenset(out)

    def status(self, now_ms: int) -> list[SourceStatus]:
        return self.health.status(since_ms=now_ms - 24 * 3600_000)

    def known_coins(self) -> frozenset[str]:
        # asked per command, not per event: nothing on the ingest path keeps a coin set
        seen = self.agg.coins()
        if self._cg is not None:
            seen |= {coin for coin, _ in self._cg.totals}
        return self.universe.coins() | seen  # the built-in KNOWN_COINS included

    def windows_served(self) -> frozenset[int]:
        streams = [s for s in self.health.sources if s != "coinglass"]
        return frozenset(WINDOWS) if streams else COINGLASS_WINDOWS
