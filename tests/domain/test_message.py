"""Message.to_dict / from_dict: the outbox's JSON form, written out by hand for speed, must
round-trip and give exactly what dataclasses.asdict gave (the stored rows stay readable)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from bot.domain.message import ChartRef, Field, Message, Table, Tone


def _full() -> Message:
    return Message(
        title="BTC: $12.5M liquidated in 5m",
        lines=("Longs $10M", "Shorts $2.5M"),
        table=Table(
            headers=("Coin", "USD"), rows=(("BTC", "$1M"), ("ETH", "$2M")), align=("l", "r")
        ),
        fields=(Field("Window", "5m"), Field("Venue", "Binance", inline=False)),
        footer="liqbot",
        tone=Tone.LONG,
        ephemeral=True,
        image=b"\x89PNG",
        image_name="chart.png",
        data={"coin": "BTC", "venues": [["binance", 1e6]]},
        chart=ChartRef("BTC", 5, 1_800_000_000_000),
    )


def _old_to_dict(m: Message) -> dict:
    d = asdict(m)
    d["tone"] = m.tone.value
    del d["image"], d["image_name"], d["keyboard"]  # never stored
    for optional in ("data", "chart", "buttons", "thread"):  # absent when unset, as before
        if d[optional] is None:
            del d[optional]
    if d["silent"] is None:
        del d["silent"]
    if d["lang"] == "en":  # absent for English, as before languages existed
        del d["lang"]
    if "chart" in d and d["chart"]["zone"] == "UTC":  # a chart's zone: absent for UTC, as before
        del d["chart"]["zone"]
    return d


def test_to_dict_equals_what_asdict_gave() -> None:
    topic = replace(_full(), thread=12, silent=True)  # a forum topic, quiet hours
    ru = replace(_full(), lang="ru")
    tokyo = replace(_full(), chart=ChartRef("BTC", 5, 1_800_000_000_000, "Asia/Tokyo"))
    cases = (_full(), Message(title="hello"), replace(_full(), data=None, chart=None), topic, ru)
    for m in (*cases, tokyo):
        assert m.to_dict() == _old_to_dict(m)
        assert json.dumps(m.to_dict()) == json.dumps(_old_to_dict(m))


def test_round_trip_through_json_keeps_everything_but_the_picture() -> None:
    m = _full()
    back = Message.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == replace(m, image=None, image_name="")  # the picture is never stored
    assert back.image is None
    assert back.table == m.table and back.fields == m.fields and back.tone is Tone.LONG
    plain = Message(title="x")
    assert Message.from_dict(json.loads(json.dumps(plain.to_dict()))) == plain


def test_a_keyboard_is_never_stored() -> None:
    m = replace(_full(), keyboard=((("Subscribe", "lg1.yBTC_3cl.sig"),),))
    assert "keyboard" not in m.to_dict() and "lg1" not in json.dumps(m.to_dict())
    assert Message.from_dict(m.to_dict()).keyboard == ()


def test_round_trip_keeps_the_topic_and_the_silence() -> None:
    m = replace(_full(), thread=12, silent=True, buttons=3)
    back = Message.from_dict(json.loads(json.dumps(m.to_dict())))
    assert (back.thread, back.silent, back.buttons) == (12, True, 3)
    plain = Message.from_dict(json.loads(json.dumps(Message(title="x").to_dict())))
    assert (plain.thread, plain.silent) == (None, None)
    loud = replace(_full(), silent=False)  # quiet hours set, this one rings: said so
    assert Message.from_dict(json.loads(json.dumps(loud.to_dict()))).silent is False


def test_the_language_round_trips_and_english_is_not_stored() -> None:
    assert "lang" not in Message(title="hello").to_dict()
    ru = Message.from_dict(json.loads(json.dumps(replace(_full(), lang="ru").to_dict())))
    assert ru.lang == "ru"
