"""/lang through the real PTB client against the fake Bot API: exact text in Russian and
Simplified Chinese, the user's language_code as a private chat's default, a group left in
English until an admin sets one, alerts and their buttons in the chat's language, and the
setting kept across a restart (it is in the store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.telegram.harness import Stack, make_stack


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


async def _wave(stack: Stack, chats: int) -> None:
    now = stack.service.clock()
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, 150_000_000.0, now - 1000, "BTCUSDT")]
    )
    assert await stack.rt.engine.tick() == chats
    assert (await stack.rt.delivery.drain()).sent == chats


def _last(stack: Stack, chat_id: int) -> Sent:
    return [s for s in stack.fake.sent if s.chat_id == chat_id][-1]


def _labels(sent: Sent) -> list[str]:
    rows = (sent.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


async def test_lang_ru_exact_replies_and_an_alert_in_russian(stack: Stack) -> None:
    reply = await stack.ask(601, "/lang ru")
    assert reply == (
        "<b>Язык</b>\n"
        "Теперь этот чат говорит по-русски (Русский).\n"
        "Варианты: en English, ru Русский, es Español, zh 简体中文. "
        "/lang auto — вернуть язык по умолчанию.\n"
        "По умолчанию личный чат следует языку вашего приложения Telegram; группы и каналы "
        "остаются на английском, пока админ не выберет язык."
    )
    assert (await stack.ask(601, "/mute")).startswith("<b>Не совсем так</b>\n")
    # the framing and the parser's own sentence are translated
    assert await stack.ask(601, "/mute") == (
        "<b>Не совсем так</b>\nУкажите, на сколько, например 2h\n"
        "Формат: /mute [coin] &lt;duration&gt;\nПример: /mute 2h"
    )
    reply = await stack.ask(601, "/subscribe btc 1h 100m")
    assert reply.startswith("<b>Подписка оформлена</b>\n#1 BTC всего за 1h выше $100M\n")
    await _wave(stack, 1)
    alert = _last(stack, 601)
    assert alert.text.startswith("<b>Алерт по ликвидациям: BTC 1h</b>\n")
    # with the harness's seeded $12.5M of BTC longs
    assert alert.text.splitlines()[1:4] == [
        "#1 BTC: ликвидации за 1h: $162.50M (порог $100M)",
        "Всего $162.50M: лонги $162.50M (100%) · шорты $0 (0%), в основном лонги",
        "Всего по биржам: Binance $162.50M",
    ]
    assert _labels(alert) == ["Тишина 1ч", "Тишина 24ч", "Отписаться", "График", "Подробнее"]


async def test_language_code_is_a_private_chats_default(stack: Stack) -> None:
    reply = await stack.ask(602, "/help", language_code="zh-hans")
    assert reply.startswith(
        "<b>爆仓提醒：命令</b>\n/liqs [coin] [window] [on venue] | [coin] compare: 当前爆仓：1h/4h/12h/24h\n"
    )
    assert "/lang [en|ru|es|zh|auto]: 本聊天的语言：English、Русский、Español、简体中文" in reply
    reply = await stack.ask(602, "/lang", language_code="zh-CN")
    assert reply.splitlines()[:2] == ["<b>语言</b>", "语言：简体中文（默认）。"]
    # the alert, rendered by the engine with no update at hand, reads the stored default
    await stack.ask(602, "/subscribe btc 1h 100m", language_code="zh-CN")
    await _wave(stack, 1)
    alert = _last(stack, 602)
    assert alert.text.splitlines()[:4] == [
        "<b>爆仓提醒：BTC 1h</b>",
        "#1 BTC 1h爆仓 $162.50M（阈值 $100M）",
        "合计 $162.50M：多单 $162.50M（100%）· 空单 $0（0%），以多单为主",
        "各交易所合计：Binance $162.50M",
    ]
    assert "截至 20" in alert.text and "年" in alert.text  # the date in Chinese order
    assert _labels(alert)[:3] == ["静音1小时", "静音24小时", "取消订阅"]
    # an app in a language we do not speak: English; /lang wins over the app
    assert (await stack.ask(603, "/help", language_code="fr")).startswith(
        "<b>Liquidation alerts: commands</b>"
    )
    await stack.ask(602, "/lang es", language_code="zh-CN")
    assert (await stack.ask(602, "/lang", language_code="zh-CN")).startswith(
        "<b>Idioma</b>\nIdioma: Español (elegido con /lang)."
    )
    await stack.ask(602, "/lang auto", language_code="ru")
    assert (await stack.ask(602, "/lang", language_code="ru")).startswith(
        "<b>Язык</b>\nЯзык: Русский (по умолчанию)."
    )


async def test_a_group_stays_english_and_only_admins_set_its_language(stack: Stack) -> None:
    group = -7001
    stack.fake.members[group] = {1001: "administrator", 2002: "member"}
    reply = await stack.ask(group, "/lang", chat_type="group", user_id=2002, language_code="ru")
    assert reply.startswith("<b>Language</b>\nLanguage: English (the default).")
    refused = await stack.ask(group, "/lang ru", chat_type="group", user_id=2002)
    assert refused.startswith("<b>Not allowed</b>\n")
    await stack.ask(group, "/lang ru", chat_type="group", user_id=1001)
    refused = await stack.ask(group, "/lang en", chat_type="group", user_id=2002)
    assert refused == (
        "<b>Нет доступа</b>\nМенять алерты этого чата могут только админы: "
        "менять алерты этой группы могут только её админы."
    )


async def test_the_language_survives_a_restart(tmp_path: Path, fake: FakeTelegram) -> None:
    first = await make_stack(tmp_path, fake)
    try:
        await first.ask(604, "/lang es")
        await first.ask(605, "/start", language_code="ru")  # a default seen, not set
    finally:
        await first.close()
    second = await make_stack(tmp_path, fake)  # a new process on the same SQLite file
    try:
        assert (await second.ask(604, "/lang")).startswith(
            "<b>Idioma</b>\nIdioma: Español (elegido con /lang)."
        )
        assert await second.db.chat_langs() == {"telegram:604": "es", "telegram:605": "ru"}
        reply = await second.ask(604, "/unsubscribe 9")
        assert reply == "<b>Nada eliminado</b>\nNo están en este chat: #9. Las tuyas: ninguna."
    finally:
        await second.close()
