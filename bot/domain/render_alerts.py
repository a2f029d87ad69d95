"""Alert messages: every alert of one chat in one tick, as one message.

An alert gets forwarded and quoted, so it stands alone: the total and the split, what each
breakdown sums ("Shorts by venue"), the coins that carried a market-wide wave, and a dated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import coin_label, format_duration, window_label
from bot.domain.message import Message, Tone
from bot.domain.models import ALL, Alert, AlertKind, Side, Snapshot, VenueSplit
from bot.domain.money import format_threshold, format_usd
from bot.domain.render_common import (
    MAX_CHARS,
    MOSTLY,
    WAVE_NAMES,
    dominance,
    fit_lines,
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
        m = self.policy.escalation_factor ** (level - 1)
        return f"{m:.2f}".rstrip("0").rstrip(".") + "×"

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
_HEADLINE = {
    Side.TOTAL: N_("%(who)s liquidations%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
    Side.LONG: N_("%(who)s longs liquidated%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
    Side.SHORT: N_("%(who)s shorts liquidated%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
}  # fmt: skip


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


def _headline(a: Alert, ctx: AlertContext) -> str:
    s, lang = a.sub, ctx.lang
    line = lang._(
        _HEADLINE[s.side],
        who=lang._("Market-wide") if s.coin == ALL else s.coin,
        on=lang._(" on %(venue)s", venue=venue_name(s.venue)) if s.venue else "",
        window=window_label(s.window),
        usd=ctx.usd(a.value),
        threshold=format_threshold(s.threshold),
        relative=lang._(" = %(factor)s× the usual", factor=f"{s.factor:g}")
        if s.factor is not None
        else "",
    )
    if a.level > 1:  # escalated, or a first alert that crossed several levels at once
        line += lang._(", now %(multiple)s your threshold", multiple=ctx.multiple(a.level))
    label = sub_label(s, lang)
    return f"{label}: {line}" if s.origin == "config" else f"{label} {line}"


def _compact(a: Alert, lang: Lang = EN) -> str:
    """`#3 BTC shorts 1h $419.03M ≥ $400M, total $458.07M`: for messages of many alerts."""
    s = a.sub
    who = lang._("All") if s.coin == ALL else s.coin
    if s.venue:
        who += lang._(" on %(venue)s", venue=venue_name(s.venue))
    side = "" if s.side is Side.TOTAL else f" {side_plural(s.side, lang)}"
    line = (
        f"{sub_label(s, lang)} {who}{side} {window_label(s.window)} {format_usd(a.value)} "
        f"≥ {format_threshold(s.threshold)}"
    )
    if s.side is Side.TOTAL:
        return line
    return lang._("%(line)s, total %(usd)s", line=line, usd=format_usd(a.longs + a.shorts))


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
    """All alerts of one chat in one tick, as ONE message; its time in `tz` (the chat's /tz)."""
    if not alerts:
        raise ValueError("render_alerts needs at least one alert")
    ctx = ctx or AlertContext()
    lang = ctx.lang
    longs = sum(a.longs for a in alerts)
    shorts = sum(a.shorts for a in alerts)
    tone = dominance(longs, shorts)
    waves = [ctx.wave(a) for a in alerts]
    dramatic = WAVE_NAMES[tone] if WAVE_NAMES[tone] in waves else ""
    first = alerts[0]
    if len(alerts) == 1:
        s = first.sub
        subject = f"{coin_label(s.coin, lang)} {window_label(s.window)}"
        if dramatic:
            title = f"{upper_first(lang._(dramatic))}: {subject}"
        elif first.kind is AlertKind.ESCALATED:
            title = lang._("Liquidation escalation: %(subject)s", subject=subject)
        else:
            title = lang._("Liquidation alert: %(subject)s", subject=subject)
    else:
        n = len(alerts)
        title = (
            upper_first(lang._(dramatic)) + ": " + lang.n_("%(n)d alert", "%(n)d alerts", n)
            if dramatic
            else lang.n_("%(n)d liquidation alert", "%(n)d liquidation alerts", n)
        )
    blocks: list[list[str]] = []
    for a, wave in zip(alerts, waves, strict=True):
        block = [_headline(a, ctx), ctx.split(a, wave)]
        if venues := ctx.venues(a):
            block.append(venues)
        if a.sub.coin == ALL and (coins := ctx.coins_line(a.sub.window, a.sub.side)):
            block.append(coins)
        blocks.append(block)
    gaps = list(dict.fromkeys(g for a in alerts for g in a.gaps))
    notes = [lang._("Gap: %(gap)s", gap=lang.text(g)) for g in gaps[:5]]
    full = [line for b in blocks for line in ([*b, ""] if len(blocks) > 1 else b)]
    if len(blocks) > 1:
        full.pop()  # no blank line after the last block
    # Many alerts: drop the per-alert detail lines rather than cut alerts off.
    if sum(len(x) + 1 for x in full) <= MAX_CHARS - 800:
        body = full
    else:  # one short line each, still with the total (a side's value is not the whole wave)
        body = [_compact(a, lang) for a in alerts]
    lines = fit_lines([*body, *notes, ctx.rearm_note()], MAX_CHARS - 600, lang)
    sources = tuple(dict.fromkeys(s for a in alerts for s in a.sources))
    as_of = max(a.as_of_ms for a in alerts)
    return Message(
        title=title[:256],
        lines=lines,
        footer=ctx.footer(as_of, sources, any(a.sampled for a in alerts), tz),
        tone=tone,
        lang=lang.code,
    )
