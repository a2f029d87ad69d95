"""Alert messages as parts (bot.domain.alert_parts): kept as parts, stored as JSON and composed
back, a message is today's `render_alerts` text byte for byte, whatever its rules are."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.alert_parts import Body, PartsMessage, SeriesText, from_row
from bot.domain.i18n import N_, Text
from bot.domain.message import ChartRef
from bot.domain.models import ALL, Alert, AlertKind, Side, Subscription, VenueSplit
from bot.domain.render_alerts import AlertContext, render_alerts
from bot.domain.rules import Policy
from bot.locale import get_lang
from tests.domain.test_render import M, T, day_snapshot
from tests.reference_render import reference_render_alerts

# a gap note as SourceHealth.notes makes it: a Text, translated where it is shown
GAP = Text(
    N_("%(source)s %(words)s"),
    source="bybit",
    words=Text(N_("down %(start)s–%(end)s UTC"), start="14:02", end="14:05"),
)
VENUES = (VenueSplit("binance", 200 * M, 90 * M), VenueSplit("okx", 20 * M, 9 * M))


def alert(
    sub_id: int,
    coin: str = "BTC",
    side: Side = Side.LONG,
    *,
    window: int = 60,
    threshold: float = 100 * M,
    origin: str = "user",
    number: int = 0,
    venue: str | None = None,
    factor: float | None = None,
    kind: AlertKind = AlertKind.FIRED,
    level: int = 1,
    gaps: tuple[str, ...] = (),
) -> Alert:
    sub = Subscription(
        sub_id, "telegram:1", coin, window, side, threshold, origin=origin, number=number,
        venue=venue, factor=factor,
    )  # fmt: skip
    return Alert(
        sub, kind, 220.5 * M, level, 1, T, 220.5 * M, 99.9 * M, VENUES, ("binance", "okx"),
        True, gaps,
    )  # fmt: skip


CASES = {
    "one": [alert(3)],
    "escalated three levels": [alert(3, kind=AlertKind.ESCALATED, level=3)],
    "numbered, a venue and a relative rule": [
        alert(4, number=2, venue="okx"),
        alert(9, number=5, factor=2.5, threshold=88_123.0),
    ],
    "the operator's broadcast beside a market-wide rule": [
        alert(1, origin="config"),
        alert(7, coin=ALL, side=Side.TOTAL, window=60, gaps=(GAP,)),
    ],
    "so many the layout goes compact and is cut": [
        alert(i, side=(Side.LONG, Side.SHORT, Side.TOTAL)[i % 3], threshold=1e5 * i)
        for i in range(1, 90)
    ],
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("zone", [None, "Asia/Kolkata"])
@pytest.mark.parametrize("code", ["en", "ru", "zh", "es"])
def test_parts_stored_and_composed_are_todays_text(name: str, zone: str | None, code: str) -> None:
    alerts = CASES[name]
    tz = ZoneInfo(zone) if zone else None
    policy = Policy(escalation_factor=3.0)
    snap = day_snapshot(60, ("BTC", 300 * M, 120 * M), ("ETH", 50 * M, 20 * M), rest=40 * M)
    lang = get_lang(code)
    assert lang.code == code
    want = reference_render_alerts(alerts, AlertContext(snap, policy, lang=lang), tz)
    assert want.lang == code
    ctx = AlertContext(snap, policy, lang=lang)
    now = render_alerts(alerts, ctx, tz)
    assert now == want and now.footer == want.footer and now.lang == code
    bodies: dict[int, Body] = {}  # id(SeriesText) -> its body, as a tick makes them
    for a in alerts:
        series = ctx.series_text(a)
        bodies.setdefault(id(series), Body(series)).add(a)
    kept = PartsMessage(
        tuple(bodies.values()),
        tuple(a.sub.id for a in alerts),
        zone,
        buttons=3,
        chart=ChartRef("BTC", 60, T),
    )
    stored = {i: b.to_json() for i, b in enumerate(kept.bodies, 1)}
    row = json.loads(kept.row_json(list(stored)))
    kept_back = from_row(row, lambda i: Body.from_json(stored[i]))
    assert kept_back.lang == code
    back = kept_back.message(lang)
    assert replace(back, chart=None) == want and back.footer == want.footer
    assert back.lang == code and back.thread is None and back.silent is None
    if GAP in [g for a in alerts for g in a.gaps] and code != "en":  # the note in the language
        assert not any("down 14:02–14:05" in line for line in back.lines)
    assert back.buttons == 3 and back.chart == ChartRef("BTC", 60, T)
    # a crossing's words are stored once, however many rules of the chat it crossed
    assert len(stored) == len({(a.sub.coin, a.sub.window, a.sub.side, a.sub.venue) for a in alerts})


def test_a_russian_alert_is_russian_and_parts_refuse_another_language() -> None:
    lang = get_lang("ru")
    alerts = [alert(4, number=2, venue="okx"), alert(1, origin="config")]
    ctx = AlertContext(day_snapshot(60, ("BTC", 300 * M, 120 * M)), Policy(), lang=lang)
    m = render_alerts(alerts, ctx)
    assert m == reference_render_alerts(alerts, AlertContext(ctx.snapshot, ctx.policy, lang=lang))
    english = render_alerts(alerts, AlertContext(ctx.snapshot, ctx.policy))
    assert m.lang == "ru" and m.title != english.title and m.lines[0] != english.lines[0]
    assert "#2" in m.lines[0] and lang._("Broadcast") != "Broadcast"
    assert any(line.startswith(lang._("Broadcast")) for line in m.lines)
    body = Body(ctx.series_text(alerts[0]))
    body.add(alerts[0])
    kept = PartsMessage((body,), (4,), thread=7, silent=True)
    assert kept.lang == "ru"
    with pytest.raises(ValueError):
        kept.message()  # English: not the words' language
    back = from_row(json.loads(kept.row_json([1])), lambda i: Body.from_json(body.to_json()))
    composed = back.message(lang)
    assert composed == render_alerts([alerts[0]], ctx)
    assert (composed.thread, composed.silent, composed.lang) == (7, True, "ru")


# ---- the stored form of a body's facts ---------------------------------------------------------

FACTS = st.tuples(
    st.integers(1, 2**62),  # a rule id
    st.one_of(st.none(), st.integers(0, 10**6)),  # its label: None for the operator's rules
    st.floats(allow_nan=False, allow_infinity=False, min_value=0.0),  # its threshold
    st.integers(0, 60),  # its level
    st.booleans(),  # escalated
)


def body_of(facts: list[tuple[int, int | None, float, int, bool]]) -> Body:
    body = Body(SeriesText(**SERIES_WORDS, value=1.0))
    for sub_id, label, threshold, level, escalated in facts:
        origin = "config" if label is None else "user"
        sub = Subscription(sub_id, "telegram:1", "BTC", 60, Side.LONG, threshold, origin=origin,
                           number=label or 0)  # fmt: skip
        body.extend([sub], [level], escalated)
    return body


SERIES_WORDS = {
    "coin": "BTC", "window": 60, "side": Side.LONG, "venue": None, "longs": 1.0, "shorts": 0.0,
    "lang": "en", "who": "BTC", "on": "", "usd": "$1.00", "wave": "", "split": "", "venues": "",
    "coins": "", "gaps": (), "sources": ("binance",), "as_of_ms": T, "sampled": False,
    "rearm": "", "escalation": 2.0,
}  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(facts=st.lists(FACTS, max_size=30))
def test_a_bodys_facts_come_back_from_the_store_bit_for_bit(facts) -> None:  # type: ignore[no-untyped-def]
    body = body_of(facts)
    back = Body.from_json(body.to_json())
    for column in ("subs", "labels", "thresholds", "levels", "escalated", "factors"):
        assert getattr(back, column) == getattr(body, column), column
    assert [struct.pack("<d", t) for t in back.thresholds] == [
        struct.pack("<d", t) for t in body.thresholds
    ]  # -0.0 and the last bit of every float too


def test_a_body_stored_before_the_columns_were_packed_still_reads() -> None:
    body = body_of([(3, 2, 88_123.0, 1, False), (9, None, 1e8, 3, True)])
    d = json.loads(body.to_json())
    del d["packed"]  # as the bot wrote bodies until 2026-12: every column a JSON list
    d.update(subs=[3, 9], labels=[2, None], thresholds=[88_123.0, 1e8], levels=[1, 3],
             escalated=[0, 1])  # fmt: skip
    old = Body.from_json(json.dumps(d))
    for column in ("subs", "labels", "thresholds", "levels", "escalated", "factors"):
        assert getattr(old, column) == getattr(body, column), column
    assert old.facts(9) == body.facts(9) and old.facts(9).label == "Broadcast"


@settings(max_examples=100, deadline=None)
@given(
    facts=st.lists(FACTS, max_size=12),
    words=st.text(max_size=20),
    factor=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_a_bodys_stored_text_is_the_compact_json_of_what_it_holds(facts, words, factor) -> None:  # type: ignore[no-untyped-def]
    """to_json writes its text by hand around the packed columns: it must be exactly what
    json.dumps gives for the same content (any quote, backslash or control character in the
    words escaped), so any JSON reader, SQLite's included, reads it."""
    body = body_of(facts)
    body.series = SeriesText(**{**SERIES_WORDS, "split": words, "venues": f'"{words}\\'}, value=1.0)
    if facts:
        body.factors[0] = factor
    text = body.to_json()
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    assert json.loads(text)["series"] == body.series.to_dict() | {
        "side": "long",
        "gaps": [],
        "sources": ["binance"],
    }
    back = Body.from_json(text)
    assert back.series == body.series and back.factors == body.factors
