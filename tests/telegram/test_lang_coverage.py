"""No English left in a translated chat: a corpus of every command (valid and malformed forms),
the guided /subscribe's steps, an alert, an escalation, a single-liquidation alert, /test and a
daily digest, driven through the production wiring (PTB, the fake Bot API, SQLite) in a chat set
to /lang ru and one set to /lang zh. Every line the chat receives (texts, captions, button labels,
button answers) that holds a Latin word of 3+ letters outside ALLOWED must also hold Cyrillic
(ru) or CJK (zh). tests/test_i18n.py catches a marked string without a translation; this catches
a string nobody marked: a new English sentence anywhere in what users see fails here."""

from __future__ import annotations

import datetime as dtm
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.command_specs import SPECS
from bot.domain.market import COIN_ALIASES, KNOWN_COINS
from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.telegram.harness import Stack, make_stack

# Latin words that stay Latin in every language, and why.
ALLOWED = {
    # venues and brands (names)
    *"binance bybit okx bitget bitmex deribit gate htx coinglass telegram discord".split(),
    # units and labels typed as they are (README "Languages": windows stay 1h, money $1.23M)
    *"utc usd usdt".split(),
    # the language names /lang lists, each in its own language
    *"english".split(),
    # typed arguments shown in usage lines and examples (README: they stay English)
    *"coin window amount side venue number duration time zone off all auto single".split(),
    *"long short total longs shorts except big text the gave".split(),
    # time zone names (IANA: Europe/Berlin)
    *"europe berlin america new_york york".split(),
}
ALLOWED |= {c.lower() for c in KNOWN_COINS} | {a.lower() for a in COIN_ALIASES}
_WORD = re.compile(r"[A-Za-z]{3,}")
_STRIP = re.compile(r"/\w+|https?://\S+|\b\w+/\w+\b|<[^>]+>")  # commands, URLs, zones, tags
_SCRIPT = {"ru": re.compile(r"[А-Яа-яЁё]"), "zh": re.compile(r"[\u4e00-\u9fff]")}


def english_lines(lines: list[str], code: str) -> list[str]:
    out = []
    for line in lines:
        rest = _STRIP.sub(" ", line)
        words = {w.lower() for w in _WORD.findall(rest)} - ALLOWED
        if words and not _SCRIPT[code].search(line):
            out.append(line)
    return out


# ---- the corpus ----------------------------------------------------------------------------

VALID = [
    "/start", "/help", "/lang", "/liqs", "/liqs btc", "/liqs eth 4h", "/liqs btc on binance",
    "/liqs compare", "/liqs btc compare", "/top", "/top 4h", "/chart btc", "/chart all 24h",
    "/subscribe btc 1h 100m", "/subscribe eth 4h 50m longs on bybit", "/subscribe btc 1h 3x",
    "/subscribe btc single 1m", "/subscribe all 1h 1b", "/subscribe btc 1h 100m",
    "/backtest btc 1h 100m", "/backtest btc 1h 3x", "/list", "/export",
    "/import /subscribe sol 4h 20m", "/status", "/tz", "/tz Europe/Berlin", "/quiet",
    "/quiet 23:00-07:00 except big", "/quiet", "/quiet off", "/digest",
    "/digest 08:00 Europe/Berlin", "/digest", "/digest off", "/mute 2h", "/mute eth 1h",
    "/list", "/unmute eth", "/unmute", "/unsubscribe 9", "/unsubscribe 5", "/test",
    "hello",
]  # fmt: skip
INVALID = [
    "/liqs dogezz", "/liqs btc 7m", "/liqs btc eth", "/liqs 1h 4h", "/liqs btc on nowhere",
    "/liqs btc on", "/liqs compare 4h", "/liqs a b c d e", "/top 7m", "/top 1h 4h",
    "/chart", "/chart btc 7m", "/chart xxxq", "/chart btc eth", "/subscribe btc",
    "/subscribe 1h", "/subscribe btc 1h", "/subscribe btc 1h lots", "/subscribe btc 1h 0",
    "/subscribe btc 1h 100m sideways", "/subscribe btc 1h 100x", "/subscribe btc 1h 1h",
    "/subscribe btc 1h 100m long short extra", "/subscribe btc 1h 1", "/backtest btc",
    "/backtest btc single 1m", "/unsubscribe", "/unsubscribe x", "/unsubscribe 1 all",
    "/export now", "/import", "/import hello", "/mute", "/mute btc", "/mute 90d", "/mute 0m",
    "/mute xyz", "/unmute btc eth", "/status x", "/digest 25:00", "/digest 08:00 Mars/Base",
    "/digest soon", "/tz Nowhere/City", "/tz a b", "/quiet 23:00", "/quiet 23:00-23:00",
    "/quiet 23:00-07:00 except small", "/lang fr", "/lang ru es", "/test x", "/help x",
    "/start x", "/nosuch", "/", "//", "/subscribe " + "x" * 80,
]  # fmt: skip


def test_the_corpus_names_every_command() -> None:
    named = {t.split()[0].lstrip("/") for t in VALID + INVALID if t.startswith("/") and t != "/"}
    assert set(SPECS) <= named, set(SPECS) - named


def _labels(sent: Sent) -> list[str]:
    rows = (sent.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def _lines(stack: Stack, chat: int) -> list[str]:
    out: list[str] = []
    for s in stack.fake.sent:
        if s.chat_id == chat:
            out += [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in s.text.splitlines()]
            out += _labels(s)
    for p in stack.fake.edits:  # the guide's steps, each an edit of its message
        if p.get("chat_id") in (chat, str(chat)):
            out += [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in p["text"].splitlines()]
            rows = (p.get("reply_markup") or {}).get("inline_keyboard", [])
            out += [b["text"] for row in rows for b in row]
    out += [a.get("text", "") for a in stack.fake.answers]
    return [line for line in out if line.strip()]


async def _events(stack: Stack, usd: float, single: bool = False) -> None:
    now = stack.clock.now_ms()
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, usd, now - 1000, "BTCUSDT")]
    )
    await stack.rt.engine.tick()
    await stack.rt.delivery.drain()


async def _guide(stack: Stack, chat: int, path: tuple[str, ...]) -> None:
    await stack.ask(chat, "/subscribe")
    guide = [s for s in stack.fake.sent if s.chat_id == chat][-1]
    for i in range(len(path)):
        labels = _labels(guide)
        before = len(stack.fake.answers)
        stack.fake.press(guide, labels[path[i]] if isinstance(path[i], int) else path[i])
        await stack.fake.wait_answers(before + 1)
        await stack.settle()


async def _corpus(stack: Stack, chat: int, code: str) -> list[str]:
    await stack.ask(chat, f"/lang {code}")
    for text in VALID + INVALID:
        await stack.ask(chat, text)
    await stack.rt.delivery.drain()  # /test
    # the guide: coin, window, amount, side, then Subscribe; a second one to Back and Cancel
    await _guide(stack, chat, (0, 0, 0, 0, 0))  # type: ignore[arg-type]
    await _guide(stack, chat, (0, -2, -1))  # type: ignore[arg-type]
    # an alert ($100M rule), its escalation, single liquidations
    await _events(stack, 150e6)
    await _events(stack, 300e6)
    await _events(stack, 5e6, single=True)
    # a daily digest due now
    now = dtm.datetime.fromtimestamp(stack.clock.now_ms() / 1000, dtm.UTC)
    await stack.ask(chat, f"/digest {(now + dtm.timedelta(minutes=1)):%H:%M} UTC")
    stack.clock.ahead_ms += 120_000
    assert stack.rt.digests is not None and await stack.rt.digests.run_due() >= 1
    await stack.rt.delivery.drain()
    stack.clock.ahead_ms -= 120_000
    return _lines(stack, chat)


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


@pytest.mark.parametrize("code", ["ru", "zh"])
async def test_no_english_line_reaches_a_translated_chat(stack: Stack, code: str) -> None:
    chat = 701 if code == "ru" else 702
    lines = await _corpus(stack, chat, code)
    assert len(lines) > 300
    seen = "\n".join(lines)
    for needle in ("#1", "BTC"):  # the corpus did reach the alerts and replies
        assert needle in seen
    left = english_lines(lines, code)
    assert not left, f"{len(left)} English lines in a {code} chat:\n" + "\n".join(left)


def test_the_check_itself() -> None:
    assert english_lines(["Say for how long, like 2h"], "ru")
    assert not english_lines(["Скажите, на сколько, например 2h"], "ru")
    assert not english_lines(["BTC 1h $1.2M on Binance", "/subscribe btc 1h 100m"], "ru")
    assert english_lines(["Backtest: would have fired 3 times"], "zh")
