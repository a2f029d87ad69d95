"""`/liqs compare`: our streams' totals beside CoinGlass's, with the share the streams see."""

from __future__ import annotations

from bot.domain.compare import CompareRow, Comparison
from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import coin_label, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import ALL, WindowTotals
from bot.domain.money import format_usd
from bot.domain.render_common import hhmm, venue_name

NA = N_("n/a")


def _money(t: WindowTotals | None) -> str:
    return NA if t is None else format_usd(t.total)


def _share(part: float, whole: float) -> str:
    return NA if whole <= 0 else f"{round(100 * part / whole)}%"


def _coverage(row: CompareRow) -> str:
    c = row.coverage
    return NA if c is None else f"{round(100 * c)}%"


def render_compare_off(lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Compare needs CoinGlass"),
        lines=(
            lang._(
                "/liqs compare sets our streams' totals beside CoinGlass's for the same windows, "
                "so you see how much of the market the free streams catch. It needs a CoinGlass "
                "API key: set COINGLASS_API_KEY and restart."
            ),
            lang._(
                "Without it, /liqs shows the streams' own figures: a floor of the whole market."
            ),
        ),
        tone=Tone.INFO,
    )


def render_compare(c: Comparison, lang: Lang = EN) -> Message:
    """Window / Streams / CoinGlass / Coverage; n/a (never zero) where a figure is unknown."""
    _ = lang._
    label = coin_label(c.coin, lang)
    na = _(NA)
    rows = tuple(
        (
            window_label(r.window),
            _money(r.streams).replace(NA, na),
            _money(r.coinglass).replace(NA, na),
            _coverage(r).replace(NA, na),
        )
        for r in c.rows
    )
    table = Table((_("Window"), _("Streams"), "CoinGlass", _("Coverage")), rows)
    lines: list[str] = []
    ours = ", ".join(venue_name(v) for v in c.stream_sources) or _("none connected")
    counted = [venue_name(v.venue) for v in c.venues if v.coinglass is not None]
    if not counted:
        theirs = ""
    elif len(counted) <= 6:
        theirs = f" ({', '.join(counted)})"
    else:
        theirs = lang.n_(" (%(n)d exchange)", " (%(n)d exchanges)", len(counted))
    lines.append(
        _(
            "Coverage: what our streams (%(ours)s) saw as a share of CoinGlass's total%(theirs)s.",
            ours=ours,
            theirs=theirs,
        )
    )
    if c.coinglass == "waiting":
        lines.append(_("CoinGlass has not answered yet: its column fills after its next poll."))
    elif c.coinglass == "stale" and c.coinglass_as_of_ms is not None:
        lines.append(
            _(
                "CoinGlass's last figures are from %(time)s: too old to set beside ours.",
                time=hhmm(c.coinglass_as_of_ms, c.as_of_ms, lang=lang),
            )
        )
    if all(r.streams is None for r in c.rows):
        lines.append(_("No stream is connected now: the streams' column is unknown."))
    if c.only_coins and c.coin == ALL:
        lines.append(
            _(
                "CoinGlass sums %(coins)s only on this key (no coin-list), so both columns count "
                "those coins.",
                coins="+".join(c.only_coins),
            )
        )
    if side := _side_line(c, lang):
        lines.append(side)
    if venue := _venue_line(c, lang):
        lines.append(venue)
    gaps = [
        window_label(r.window) for r in c.rows if r.streams is not None and not r.streams_complete
    ]
    if gaps:
        lines.append(
            _(
                "A stream had a gap inside %(windows)s: those figures miss that time.",
                windows=", ".join(gaps),
            )
        )
    if any((r.coverage or 0) > 1 for r in c.rows):
        lines.append(
            _("Above 100%: CoinGlass's figures are from our last poll of it; the streams are live.")
        )
    footer = _("as of %(time)s", time=hhmm(c.as_of_ms, lang=lang))
    if c.coinglass_as_of_ms is not None and c.coinglass != "off":
        footer += _(
            " · CoinGlass as of %(time)s", time=hhmm(c.coinglass_as_of_ms, c.as_of_ms, lang=lang)
        )
    return Message(
        title=_("Our streams vs CoinGlass: %(coin)s", coin=label),
        lines=tuple(lines),
        table=table,
        footer=footer,
        tone=Tone.INFO,
    )


def _side_line(c: Comparison, lang: Lang = EN) -> str | None:
    """Coverage by side over the longest window both sides know: the streams may see one side
    better (Binance samples, some venues list only one side's forced orders)."""
    for r in reversed(c.rows):
        s, g = r.streams, r.coinglass
        if s is not None and g is not None and g.total > 0:
            return lang._(
                "%(window)s by side: longs %(lp)s (%(ls)s of %(lg)s) · shorts %(sp)s "
                "(%(ss)s of %(sg)s)",
                window=window_label(r.window),
                lp=_share(s.longs, g.longs),
                ls=format_usd(s.longs),
                lg=format_usd(g.longs),
                sp=_share(s.shorts, g.shorts),
                ss=format_usd(s.shorts),
                sg=format_usd(g.shorts),
            ).replace(NA, lang._(NA))
    return None


def _venue_line(c: Comparison, lang: Lang = EN) -> str | None:
    """`By venue, 24h: Binance 12% · Bybit 40% · OKX not streamed`: where the gap comes from."""
    if c.venue_window is None or not c.venues:
        return None
    parts = []
    for v in c.venues[:8]:
        name = venue_name(v.venue)
        if v.streams is None:
            parts.append(lang._("%(venue)s not streamed", venue=name))
        elif v.coinglass is None:
            parts.append(
                lang._(
                    "%(venue)s %(usd)s (not in CoinGlass's answer)",
                    venue=name,
                    usd=format_usd(v.streams),
                )
            )
        else:
            parts.append(f"{name} {_share(v.streams, v.coinglass)}".replace(NA, lang._(NA)))
    return lang._(
        "By venue, %(window)s: %(parts)s",
        window=window_label(c.venue_window),
        parts=" · ".join(parts),
    )
