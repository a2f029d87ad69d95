"""The real python-telegram-bot client <-> the fake Bot API, through the real CommandService,
Database (SQLite on tmp_path) and RuleBook: private chats, groups, channels, odd updates."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.telegram_bot import APOLOGY
from bot.domain.message import Reply
from bot.features.charts import PNG_SIGNATURE
from bot.store import BucketRow
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram, Upload
from tests.telegram.harness import Stack, make_stack

USER, GROUP, CHANNEL = 1001, -1002003, -1009001


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


async def test_start_registers_the_command_menu(stack: Stack) -> None:
    names = [c["command"] for c in stack.fake.commands]
    assert names == [n for n, _ in stack.service.commands()]
    assert {"liqs", "subscribe", "unsubscribe", "list", "mute", "start"} <= set(names)
    assert stack.bot.username == BOT_USERNAME
    # the same menu in each language, for apps set to it; the default stays English
    assert set(stack.fake.command_menus) == {"ru", "es", "zh"}
    ru = {c["command"]: c["description"] for c in stack.fake.command_menus["ru"]}
    assert [c["command"] for c in stack.fake.command_menus["zh"]] == names
    assert ru["mute"] == "Заглушить алерты на время"
    en = {c["command"]: c["description"] for c in stack.fake.commands}
    assert en["mute"] == "Silence alerts for a while"


async def test_every_command_in_a_private_chat(stack: Stack) -> None:
    key = f"telegram:{USER}"
    assert "Liquidation alerts" in await stack.ask(USER, "/start")
    help_text = await stack.ask(USER, "/help")
    # Placeholders like <coin> arrive escaped, or Telegram would reject the HTML.
    assert "/subscribe &lt;coin|all&gt; &lt;window|single&gt; &lt;amount|3x&gt;" in help_text

    sub = await stack.ask(USER, "/subscribe btc 1h 100m")
    assert sub.startswith("<b>Subscribed</b>") and "$100M" in sub
    (s,) = await stack.db.list_subscriptions(key)
    assert (s.coin, s.window, s.threshold) == ("BTC", 60, 100_000_000)
    assert stack.book.subscription(s.id) is not None  # the rules engine knows it at once

    listing = await stack.ask(USER, "/list")
    assert f"#{s.id}  BTC   1h   total  $100M  armed" in listing and "<pre>" in listing
    assert "Muted" in await stack.ask(USER, "/mute 2h")
    assert None in (await stack.db.active_mutes(stack.service.clock())).get(key, {})
    assert "Unmuted" in await stack.ask(USER, "/unmute")
    assert (await stack.db.active_mutes(stack.service.clock())).get(key, {}) == {}

    liqs = await stack.ask(USER, "/liqs")
    assert "$12.50M" in liqs and "$15.50M" in liqs  # BTC longs + ETH shorts, market-wide
    assert "Binance  $12.50M" in await stack.ask(USER, "/liqs btc 4h")
    assert "binance  up" in await stack.ask(USER, "/status")

    assert f"Removed #{s.id}" in await stack.ask(USER, f"/unsubscribe {s.id}")
    assert await stack.db.list_subscriptions(key) == []
    assert stack.book.subscription(s.id) is None
    assert "No subscriptions" in await stack.ask(USER, "/list")


async def test_unknown_and_malformed_commands_get_the_services_error(stack: Stack) -> None:
    assert "Unknown command /foo" in await stack.ask(USER, "/foo")
    # Text starting with "/" but without a bot_command entity still reaches the service.
    assert "Unknown command /weird" in await stack.ask(USER, "/weird thing", entities=[])
    bad = await stack.ask(USER, "/subscribe btc <b>x</b> 5")
    assert "&lt;b&gt;x&lt;/b&gt;" in bad and "<b>x</b>" not in bad  # the user's text is escaped


async def test_group_member_refused_admin_accepted(stack: Stack) -> None:
    member, admin = 2001, 2002
    stack.fake.members[GROUP] = {admin: "administrator", 2003: "creator"}
    kw = {"chat_type": "supergroup"}
    refused = await stack.ask(GROUP, "/subscribe btc 1h 100m", user_id=member, **kw)
    assert "only this group&#x27;s admins" in refused or "only this group's admins" in refused
    assert await stack.db.list_subscriptions(f"telegram:{GROUP}") == []
    # The check asked Telegram about this user in this chat.
    assert ("getChatMember", {"chat_id": GROUP, "user_id": member}) in stack.fake.calls
    # Anyone may read.
    assert "No subscriptions" in await stack.ask(GROUP, "/list", user_id=member, **kw)

    ok = await stack.ask(GROUP, "/subscribe eth 4h 50m short", user_id=admin, **kw)
    assert "Subscribed" in ok
    (s,) = await stack.db.list_subscriptions(f"telegram:{GROUP}")
    assert (s.coin, s.window, s.side.value) == ("ETH", 240, "short")
    assert "Subscribed" in await stack.ask(GROUP, "/subscribe btc 1h 1b", user_id=2003, **kw)
    # Replies in groups quote the command they answer.
    last = stack.fake.sent[-1]
    assert last.params.get("reply_parameters", {}).get("message_id") is not None


async def test_anonymous_group_admin_may_manage(stack: Stack) -> None:
    # An admin posting "as the group": sender_chat is the group itself, `from` is a stand-in.
    extra = {"sender_chat": {"id": GROUP, "type": "supergroup", "title": "G"}}
    reply = await stack.ask(
        GROUP, "/subscribe sol 1h 10m", user_id=1087968824, chat_type="supergroup", extra=extra
    )
    assert "Subscribed" in reply
    assert len(await stack.db.list_subscriptions(f"telegram:{GROUP}")) == 1


async def test_commands_addressed_to_bots(stack: Stack) -> None:
    kw = {"chat_type": "group"}
    stack.fake.members[GROUP] = {2002: "administrator"}
    ok = await stack.ask(GROUP, f"/subscribe@{BOT_USERNAME} btc 1h 100m", user_id=2002, **kw)
    assert "Subscribed" in ok
    assert len(await stack.db.list_subscriptions(f"telegram:{GROUP}")) == 1
    n = len(stack.fake.texts(GROUP))
    stack.fake.message(GROUP, "/liqs@some_other_bot", **kw)
    await stack.settle()
    assert "Liquidations" in await stack.ask(GROUP, f"/liqs@{BOT_USERNAME.upper()}", **kw)
    # The other bot's command got no answer: exactly one more message, the /liqs one.
    assert len(stack.fake.texts(GROUP)) == n + 1
    # A command addressed to us that we do not know gets the friendly error, even in a group
    # (the composed service learned our name from getMe at start).
    assert stack.service.bot_username == BOT_USERNAME
    unknown = await stack.ask(GROUP, f"/price@{BOT_USERNAME} btc", **kw)
    assert "Unknown command /price" in unknown and "/liqs" in unknown


async def test_channel_post_manages_the_channel(stack: Stack) -> None:
    reply = await stack.ask(
        CHANNEL, "/subscribe all 1h 400m shorts", chat_type="channel", kind="channel_post"
    )
    assert "Subscribed" in reply  # the reply went to the channel itself
    (s,) = await stack.db.list_subscriptions(f"telegram:{CHANNEL}")
    assert (s.coin, s.side.value, s.threshold) == ("ALL", "short", 400_000_000)
    chat = await stack.db.get_chat(f"telegram:{CHANNEL}")
    assert chat is not None and chat.kind == "channel"


async def test_group_migration_moves_subscriptions(stack: Stack) -> None:
    old, new = -5001, -1005001
    stack.fake.members[old] = {2002: "creator"}
    await stack.ask(old, "/subscribe btc 1h 100m", user_id=2002, chat_type="group")
    (s,) = await stack.db.list_subscriptions(f"telegram:{old}")
    # Telegram announces the upgrade in the old group, then in the new supergroup.
    stack.fake.message(old, None, chat_type="group", extra={"migrate_to_chat_id": new})
    stack.fake.message(new, None, chat_type="supergroup", extra={"migrate_from_chat_id": old})
    await stack.settle()
    assert await stack.db.list_subscriptions(f"telegram:{old}") == []
    (moved,) = await stack.db.list_subscriptions(f"telegram:{new}")
    assert moved.id == s.id
    assert stack.book.subscription(s.id).chat_key == f"telegram:{new}"  # type: ignore[union-attr]


async def test_malformed_updates_do_not_stop_polling(stack: Stack) -> None:
    f = stack.fake
    f.message(USER, None)  # no text (a sticker, a photo)
    f.message(USER, "/liqs", entities=[{"type": "shiny_new_entity", "offset": 0, "length": 5}])
    f.message(USER, "/subscribe btc 1h 1m", kind="edited_message")  # edits are not commands
    f.push({"brand_new_update_kind": {"x": 1}})
    f.message(USER, "/liqs " + "x" * 100_000)  # far over any real message
    f.message(USER, "hello there")  # not a command
    f.push({"message": {"message_id": 77}})  # no chat, no date: does not even parse
    await stack.settle()
    assert await stack.db.list_subscriptions(f"telegram:{USER}") == []  # the edit did nothing
    before = len(f.texts(USER))
    assert "Liquidation alerts" in await stack.ask(USER, "/start")
    assert len(f.texts(USER)) == before + 1


async def test_handler_exception_apologises_and_polling_goes_on(
    tmp_path: Path, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        def __init__(self, inner):  # type: ignore[no-untyped-def]
            self.inner = inner
            self.book = inner.book

        def commands(self):  # type: ignore[no-untyped-def]
            return self.inner.commands()

        async def handle_text(self, ctx, text) -> Reply:  # type: ignore[no-untyped-def]
            if text.startswith("/boom"):
                raise RuntimeError(f"kaboom near {fake.token}")
            return await self.inner.handle_text(ctx, text)

    caplog.set_level(logging.DEBUG)
    st = await make_stack(tmp_path, fake, service_wrapper=Exploding)
    try:
        assert await st.ask(USER, "/boom") == APOLOGY
        assert "Liquidation alerts" in await st.ask(USER, "/start")
    finally:
        await st.close()
    ours = [r for r in caplog.records if r.name == "bot.chat.telegram_bot"]
    assert any("kaboom" in r.getMessage() and "RuntimeError" in r.getMessage() for r in ours)
    # Never the token, not even from the traceback; nor at INFO and above from any library
    # (PTB's and httpx's DEBUG logs carry request URLs: never run them at DEBUG in production).
    shown = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO or r in ours]
    assert not [m for m in shown if fake.token in m]


async def test_chart_in_a_private_chat_is_a_photo_with_a_caption(stack: Stack) -> None:
    # history from before this process ($1M of shorts) + the live $12.5M of longs (seeded)
    minute = stack.service.clock() // 60_000 * 60_000
    await stack.db.upsert_buckets([BucketRow(minute - 3 * 3_600_000, "BTC", "binance", 0, 1e6)])
    caption = await stack.ask(USER, "/chart btc 24h")
    [photo] = stack.fake.photos(USER)
    assert photo.params["parse_mode"] == "HTML" and caption == photo.text
    assert caption.startswith("<b>BTC liquidations, last 24h (UTC)</b>")
    assert "Total $13.50M" in caption and len(caption) <= 1024
    upload = photo.params["photo"]
    assert isinstance(upload, Upload) and upload.data.startswith(PNG_SIGNATURE)
    assert upload.filename == "chart-btc-24h.png"
    empty = await stack.ask(USER, "/chart doge 1h")  # no data: words, not a picture
    assert (
        "No liquidations of DOGE recorded in the last 1h." in empty
        and len(stack.fake.photos(USER)) == 1
    )


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("/", "A lone slash is not a command"),
        ("//", "&#x27;//&#x27; is not a command"),
        ("<b>bold</b> & stuff", "Try /liqs btc for the market now"),
        ("hello", "Try /liqs btc for the market now"),
        ("x" * 4096, "Try /liqs btc for the market now"),  # Telegram's longest message
    ],
)
async def test_every_private_input_gets_one_short_reply(
    stack: Stack, text: str, reply: str
) -> None:
    answer = await stack.ask(USER, text)
    assert reply in answer.replace("'", "&#x27;") and len(answer) < 400
    await stack.settle()
    assert len(stack.fake.texts(USER)) == 1  # one reply, no more


async def test_talk_in_a_group_gets_no_reply(stack: Stack) -> None:
    for text in ("hello", "<b>bold</b> & stuff", "/", "//"):
        stack.fake.message(GROUP, text, user_id=2003, chat_type="group")
    await stack.settle()
    assert stack.fake.texts(GROUP) == []
