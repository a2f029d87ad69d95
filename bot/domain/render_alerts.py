"""Alert messages: every alert of one chat in one tick, as one message.

An alert gets forwarded and quoted, so it stands alone: the total and the split, what each
breakdown sums ("Shorts by venue"), the coins that carried a market-wide wave, and a dated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.domain.alert_parts import (
    Facts,
    Footer,
    Part,
    SeriesText,
    compose,
    multiple,
)
from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import format_duration
from bot.domain.message import Message, Tone
from bot.domain.models import ALL, Alert, AlertKind, Side, Snapshot, VenueSplit
from bot.domain.money import format_usd
from bot.domain.render_common import (
    MOSTLY,
    WAVE_NAMES,
    dominance,
    percent,
    sources_footer,
    sub_label,
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

    One context serves every chat of a tick in one language (`lang`; the engine keeps one per
    language); the per-window coin ranking is computed once.
    """

    snapshot: Snapshot | None = None
    policy: Policy = field(default_factory=Policy)
    lang: Lang = EN
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
        ranking = coin_ranking(self.snapshot, window, side, self.lang) if self.snapshot else ""
        return self.lang._(_BY_COIN[side], ranking=ranking) if ranking else ""

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
        """The words every chat's alert of this crossing shares in this context's language,
        made once per tick (one context per language: a crossing's words once per language).

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
        s, lang = a.sub, self.lang
        wave = self.wave(a)
        # the headline's words but the rule's own (threshold, factor): the template's arguments,
        # filled in by `compose` (the translated template has the threshold in the middle)
        return SeriesText(
            coin=s.coin, window=s.window, side=s.side, venue=s.venue, value=a.value,
            longs=a.longs, shorts=a.shorts, lang=lang.code,
            who=lang._("Market-wide") if s.coin == ALL else s.coin,
            on=lang._(" on %(venue)s", venue=venue_name(s.venue)) if s.venue else "",
            usd=self.usd(a.value), wave=wave, split=self.split(a, wave),
            venues=self.venues(a),
            coins=self.coins_line(s.window, s.side) if s.coin == ALL else "",
            gaps=self.gaps(a.gaps), sources=a.sources, as_of_ms=a.as_of_ms, sampled=a.sampled,
            rearm=self.rearm_note(), escalation=self.policy.escalation_factor,
        )  # fmt: skip

    def gaps(self, gaps: tuple[str, ...]) -> tuple[str, ...]:
        """The gap notes in this context's language (a note is a Text: translated here, so a
        body stored as JSON keeps its words, not the English)."""
        return tuple([self.lang.text(g) for g in gaps])

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
            text = self._memo[key] = _split(a, wave, self.lang)
        return text

    def venues(self, a: Alert) -> str:
        key = ("venues", id(a.venues), a.sub.side)
        hit = self._venues.get(key)
        if hit is None or hit[0] is not a.venues:
            hit = self._venues[key] = (a.venues, _venues(a, self.lang))
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
            self._memo[key] = sources_footer(
                as_of_ms, sources, sampled, with_date=True, tz=tz, lang=self.lang
            )
        return self._memo[key]

    def _rearm_note(self) -> str:
        p, lang = self.policy, self.lang
        quiet = p.min_quiet_ms // 1000
        values = {"multiple": self.multiple(2), "ratio": f"{round(p.rearm_ratio * 100)}%"}
        if quiet > 0:
            return lang._(
                "One alert per wave, one more at each %(multiple)s of the amount; it re-arms once "
                "the total is back below %(ratio)s of the amount, at least %(quiet)s after its "
                "first alert.",
                quiet=format_duration(quiet),
                **values,
            )
        return lang._(
            "One alert per wave, one more at each %(multiple)s of the amount; it re-arms once "
            "the total is back below %(ratio)s of the amount.",
            **values,
        )


def coin_ranking(snap: Snapshot, window: int, side: Side = Side.TOTAL, lang: Lang = EN) -> str:
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
        parts.append(lang._("others %(usd)s", usd=format_usd(others)))
    return " · ".join(parts)


_BY_COIN = {
    Side.TOTAL: N_("Total by coin: %(ranking)s"),
    Side.LONG: N_("Longs by coin: %(ranking)s"),
    Side.SHORT: N_("Shorts by coin: %(ranking)s"),
}
_BY_VENUE = {
    Side.TOTAL: N_("Total by venue: %(venues)s"),
    Side.LONG: N_("Longs by venue: %(venues)s"),
    Side.SHORT: N_("Shorts by venue: %(venues)s"),
}


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
    """What the alert's rule adds to its crossing's words (its label in English: `compose`
    says `Broadcast` in the message's language)."""
    s = a.sub
    return Facts(
        sub_label(s), s.threshold, a.level, a.kind is AlertKind.ESCALATED, s.factor,
        s.origin == "config",
    )  # fmt: skip


def _split(a: Alert, wave: str, lang: Lang = EN) -> str:
    total = a.longs + a.shorts
    text = lang._(
        "Total %(total)s: longs %(longs)s (%(longs_pct)s) · shorts %(shorts)s (%(shorts_pct)s)",
        total=format_usd(total),
        longs=format_usd(a.longs),
        longs_pct=percent(a.longs, total),
        shorts=format_usd(a.shorts),
        shorts_pct=percent(a.shorts, total),
    )
    if not wave:
        return text
    if wave in WAVE_NAMES.values():
        return lang._("%(split)s: a %(wave)s", split=text, wave=lang._(wave))
    return lang._("%(split)s, %(wave)s", split=text, wave=lang._(wave))


def _venue_value(v: VenueSplit, side: Side) -> float:
    return v.longs if side is Side.LONG else v.shorts if side is Side.SHORT else v.total


def _venues(a: Alert, lang: Lang = EN) -> str:
    ranked = sorted(a.venues, key=lambda v: _venue_value(v, a.sub.side), reverse=True)
    top = [
        f"{venue_name(v.venue)} {format_usd(_venue_value(v, a.sub.side))}"
        for v in ranked[:TOP_VENUES]
    ]
    return lang._(_BY_VENUE[a.sub.side], venues=", ".join(top)) if top else ""


def render_alerts(
    alerts: Sequence[Alert], ctx: AlertContext | None = None, tz: ZoneInfo | None = None
) -> Message:
    """All alerts of one chat in one tick, as ONE message; its time in `tz` (the chat's /tz),
    its words in the context's language.

    The layout is `alert_parts.compose`'s: the store composes a message kept as parts with it
    again when it is sent, so both give the same text."""
    if not alerts:
        raise ValueError("render_alerts needs at least one alert")
    ctx = ctx or AlertContext()
    return compose(ctx.parts(alerts), ctx.footer_in(tz), ctx.lang)
