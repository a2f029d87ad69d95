"""Alert messages: every alert of one chat in one tick, as one message.

An alert gets forwarded and quoted, so it stands alone: the total and the split, what each
breakdown sums ("Shorts by venue"), the coins that carried a market-wide wave, and a dated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.domain.alert_parts import Facts, Footer, Part, SeriesText, compose, multiple
from bot.domain.market import format_duration, window_label
from bot.domain.message import Message, Tone
from bot.domain.models import ALL, Alert, AlertKind, Side, Snapshot, VenueSplit
from bot.domain.money import format_usd
from bot.domain.render_common import (
    MOSTLY,
    WAVE_NAMES,
    dominance,
    percent,
    side_plural,
    sources_footer,
    sub_label,
    upper_first,
    venue_name,
)
from bot.domain.rules import Policy

TOP_VENUES = 3
TOP_COINS = 3
ONE_SIDED = 0.75  # the dramatic names need a split at least this one-sided ...
UNUSUAL = 2.0  # ... and a window this many times busier than the rest of the day
DAY_MIN = 1440


@dataclass
class AlertContext:
    """What a tick knows beyond its alerts: the snapshot (coins, the day's baseline) and policy.

    One context serves every chat of a tick; the per-window coin ranking is computed once.
    """

    snapshot: Snapshot | None = None
    policy: Policy = field(default_factory=Policy)
    _coins: dict[tuple[int, Side], str] = field(default_factory=dict)
    _memo: dict[object, str] = field(default_factory=dict)  # the same words for every chat
    _venues: dict[object, tuple[tuple[VenueSplit, ...], str]] = field(default_factory=dict)
    _usd: dict[float, str] = field(default_factory=dict)
    _series: dict[object, tuple[object, object, object, SeriesText]] = field(default_factory=dict)

    def coins_line(self, window: int, side: Side) -> str:
        """`Shorts by coin: BTC $380.00M · ETH $250.00M · SOL $41.00M · others $29.00M`."""
        key = (window, side)
        if key not in self._coins:
            self._coins[key] = self._rank_coins(window, side)
        return self._coins[key]

    def _rank_coins(self, window: int, side: Side) -> str:
        ranking = coin_ranking(self.snapshot, window, side) if self.snapshot else ""
        return f"{_by(side)} by coin: {ranking}" if ranking else ""

    def is_unusual(self, coin: str, window: int, side: Side, value: float) -> bool:
        """The window ran at UNUSUAL times the rate of the rest of the last 24 h.

        Without a baseline (the 24h window itself, no data before the window) it is not called
        unusual: a quiet hour after a restart is no "flush".
        """
        snap = self.snapshot
        if snap is None or window >= DAY_MIN or DAY_MIN not in snap.served_windows:
            return False
        day = snap.totals.get((coin, DAY_MIN))
        rest = (day.side(side) if day else 0.0) - value
        if rest <= 0:
            return False
        return value / window >= UNUSUAL * rest / (DAY_MIN - window)

    def multiple(self, level: int) -> str:
        """`3×`: the multiple of the threshold that `level` means under the policy."""
        return multiple(self.policy.escalation_factor, level)

    def parts(self, alerts: Sequence[Alert]) -> list[Part]:
        """Each alert as (its crossing's shared words, its rule's own facts)."""
        return [(self.series_text(a), facts(a)) for a in alerts]

    def series_text(self, a: Alert) -> SeriesText:
        """The words every chat's alert of this crossing shares, made once per tick.

        Keyed by the values they are made of; the tuples by identity (a tick's alerts of one
        series share them), kept in the entry so an id is never reused while it is cached."""
        s = a.sub
        key = (
            s.coin, s.window, s.side, s.venue, a.value, a.longs, a.shorts, a.as_of_ms,
            a.sampled, id(a.venues), id(a.gaps), id(a.sources),
        )  # fmt: skip
        hit = self._series.get(key)
        if hit is not None and hit[0] is a.venues and hit[1] is a.gaps and hit[2] is a.sources:
            return hit[3]
        text = self._series_text(a)
        self._series[key] = (a.venues, a.gaps, a.sources, text)
        return text

    def _series_text(self, a: Alert) -> SeriesText:
        s = a.sub
        who = "Market-wide" if s.coin == ALL else s.coin
        what = "liquidations" if s.side is Side.TOTAL else f"{side_plural(s.side)} liquidated"
        on = f" on {venue_name(s.venue)}" if s.venue else ""
        head = f"{who} {what}{on} in {window_label(s.window)}: {self.usd(a.value)} (threshold "
        wave = self.wave(a)
        return SeriesText(
            coin=s.coin, window=s.window, side=s.side, venue=s.venue, value=a.value,
            longs=a.longs, shorts=a.shorts, head=head, wave=wave, split=self.split(a, wave),
            venues=self.venues(a),
            coins=self.coins_line(s.window, s.side) if s.coin == ALL else "",
            gaps=a.gaps, sources=a.sources, as_of_ms=a.as_of_ms, sampled=a.sampled,
            rearm=self.rearm_note(), escalation=self.policy.escalation_factor,
        )  # fmt: skip

    def footer_in(self, tz: ZoneInfo | None) -> Footer:
        """The footer of a message in `tz`, through this tick's memo."""

        def footer(as_of_ms: int, sources: tuple[str, ...], sampled: bool) -> str:
            return self.footer(as_of_ms, sources, sampled, tz)

        return footer

    # The lines every alert of one series shares (the split, the venues, the wave's name): a
    # crash tick renders the same series for thousands of chats, so each is made once per tick.
    # Keys hold the values they are made of (the venue tuple by identity, kept alive in the
    # entry), so a hit is always the text the plain function would give.
    def wave(self, a: Alert) -> str:
        key = ("wave", a.sub.coin, a.sub.window, a.longs, a.shorts)
        text = self._memo.get(key)
        if text is None:
            text = self._memo[key] = _wave(a, self)
        return text

    def split(self, a: Alert, wave: str) -> str:
        key = ("split", a.longs, a.shorts, wave)
        text = self._memo.get(key)
        if text is None:
            text = self._memo[key] = _split(a, wave)
        return text

    def venues(self, a: Alert) -> str:
        key = ("venues", id(a.venues), a.sub.side)
        hit = self._venues.get(key)
        if hit is None or hit[0] is not a.venues:
            hit = self._venues[key] = (a.venues, _venues(a))
        return hit[1]

    def usd(self, value: float) -> str:
        text = self._usd.get(value)
        if text is None:
            text = self._usd[value] = format_usd(value)
        return text

    def rearm_note(self) -> str:
        if "rearm" not in self._memo:
            self._memo["rearm"] = self._rearm_note()
        return self._memo["rearm"]

    def footer(
        self, as_of_ms: int, sources: tuple[str, ...], sampled: bool, tz: ZoneInfo | None = None
    ) -> str:
        key = (as_of_ms, sources, sampled, tz.key if tz is not None else None)
        if key not in self._memo:
            self._memo[key] = sources_footer(as_of_ms, sources, sampled, with_date=True, tz=tz)
        return self._memo[key]

    def _rearm_note(self) -> str:
        p = self.policy
        quiet = p.min_quiet_ms // 1000
        after = f", at least {format_duration(quiet)} after its first alert" if quiet > 0 else ""
        return (
            f"One alert per wave, one more at each {self.multiple(2)} of the amount; "
            f"it re-arms once the total is back below {round(p.rearm_ratio * 100)}% of the amount"
            f"{after}."
        )


def coin_ranking(snap: Snapshot, window: int, side: Side = Side.TOTAL) -> str:
    """`BTC $380.00M · ETH $250.00M · SOL $41.00M · others $29.00M`: who carried the window."""
    values = [
        (t.side(side), coin)
        for (coin, w), t in snap.totals.items()
        if w == window and coin != ALL and t.side(side) > 0
    ]
    if not values:
        return ""
    values.sort(reverse=True)
    top = values[:TOP_COINS]
    whole = snap.totals.get((ALL, window))
    market = whole.side(side) if whole else sum(v for v, _ in values)
    others = market - sum(v for v, _ in top)
    parts = [f"{coin} {format_usd(v)}" for v, coin in top]
    if others >= 0.5:
        parts.append(f"others {format_usd(others)}")
    return " · ".join(parts)


def _by(side: Side) -> str:
    return "Total" if side is Side.TOTAL else upper_first(side_plural(side))


def _one_sided(longs: float, shorts: float) -> Tone:
    total = longs + shorts
    if total <= 0:
        return Tone.NEUTRAL
    if shorts / total >= ONE_SIDED:
        return Tone.SHORT
    if longs / total >= ONE_SIDED:
        return Tone.LONG
    return Tone.NEUTRAL


def _wave(a: Alert, ctx: AlertContext) -> str:
    """`short squeeze` / `long flush` for a one-sided, unusual wave; else `mostly shorts`."""
    side = _one_sided(a.longs, a.shorts)
    total = a.longs + a.shorts
    if side is not Tone.NEUTRAL and ctx.is_unusual(a.sub.coin, a.sub.window, Side.TOTAL, total):
        return WAVE_NAMES[side]
    return MOSTLY[dominance(a.longs, a.shorts)]


def facts(a: Alert) -> Facts:
    """What the alert's rule adds to its crossing's words."""
    s = a.sub
    return Facts(
        sub_label(s), s.threshold, a.level, a.kind is AlertKind.ESCALATED, s.factor,
        s.origin == "config",
    )  # fmt: skip


def _split(a: Alert, wave: str) -> str:
    total = a.longs + a.shorts
    text = (
        f"Total {format_usd(total)}: longs {format_usd(a.longs)} ({percent(a.longs, total)}) · "
        f"shorts {format_usd(a.shorts)} ({percent(a.shorts, total)})"
    )
    if not wave:
        return text
    return f"{text}: a {wave}" if wave in WAVE_NAMES.values() else f"{text}, {wave}"


def _venue_value(v: VenueSplit, side: Side) -> float:
    return v.longs if side is Side.LONG else v.shorts if side is Side.SHORT else v.total


def _venues(a: Alert) -> str:
    ranked = sorted(a.venues, key=lambda v: _venue_value(v, a.sub.side), reverse=True)
    top = [
        f"{venue_name(v.venue)} {format_usd(_venue_value(v, a.sub.side))}"
        for v in ranked[:TOP_VENUES]
    ]
    return f"{_by(a.sub.side)} by venue: " + ", ".join(top) if top else ""


def render_alerts(
    alerts: Sequence[Alert], ctx: AlertContext | None = None, tz: ZoneInfo | None = None
) -> Message:
    """All alerts of one chat in one tick, as ONE message; its time in `tz` (the chat's /tz).

    The layout is `alert_parts.compose`'s: the store composes a message kept as parts with it
    again when it is sent, so both give the same text."""
    if not alerts:
        raise ValueError("render_alerts needs at least one alert")
    ctx = ctx or AlertContext()
    return compose(ctx.parts(alerts), ctx.footer_in(tz))
