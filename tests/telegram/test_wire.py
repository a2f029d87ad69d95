"""The aiohttp wire under python-telegram-bot (bot/chat/telegram_wire.py): a real `telegram.Bot`
on AiohttpRequest against the fake Bot API on 127.0.0.1. PTB's own error parsing must still see
every answer: flood control with its retry_after, a migrated group, a blocked user, uploads."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.chat.telegram_sender import outcome_of
from bot.chat.telegram_wire import AiohttpRequest
from bot.runtime.delivery import SendOutcome
from tests.fakes.telegram_api import FakeTelegram

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # bytes a text encoding would mangle


@pytest.fixture
async def fake():
    f = FakeTelegram()
    await f.start()
    yield f
    await f.stop()


def _bot(fake: FakeTelegram, **kw: float) -> Bot:
    return Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=AiohttpRequest(connections=4, **kw),
    )


async def test_send_message_and_reply_parse_through_ptb(fake: FakeTelegram) -> None:
    async with _bot(fake) as bot:
        msg = await bot.send_message(42, "<b>BTC</b> longs $1.2M", parse_mode="HTML")
    assert msg.message_id > 0 and msg.chat.id == 42
    sent = fake.sent[-1]
    assert (sent.chat_id, sent.text, sent.parse_mode) == (42, "<b>BTC</b> longs $1.2M", "HTML")


async def test_errors_are_ptbs_documented_exceptions(fake: FakeTelegram) -> None:
    fake.fail_next(7, 429, "Too Many Requests: retry after 3", retry_after=3)
    fake.fail_next(8, 400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-1009)
    fake.fail_next(9, 403, "Forbidden: bot was blocked by the user")
    fake.fail_next(10, 400, "Bad Request: message text is empty")
    async with _bot(fake) as bot:
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(7, "x")
        with pytest.raises(ChatMigrated) as moved:
            await bot.send_message(8, "x")
        with pytest.raises(Forbidden):
            await bot.send_message(9, "x")
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(10, "x")
    # and the delivery's reading of them is unchanged
    assert outcome_of(flood.value) == SendOutcome.retry(3.0, "flood control (429)")
    assert moved.value.new_chat_id == -1009


async def test_photo_upload_arrives_byte_identical_with_caption_and_markup(
    fake: FakeTelegram,
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Mute 1h", callback_data="m1")]])
    async with _bot(fake) as bot:
        await bot.send_photo(
            5, PNG, caption="<b>chart</b>", parse_mode="HTML", filename="c.png", reply_markup=markup
        )
    (shot,) = fake.photos(5)
    upload = shot.params["photo"]
    assert (upload.filename, upload.data) == ("c.png", PNG)
    assert shot.text == "<b>chart</b>"
    assert shot.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "m1"


async def test_a_server_that_does_not_answer_is_timed_out() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    req = AiohttpRequest(read_timeout=0.2)
    try:
        with pytest.raises(TimedOut):
            await req.post(f"http://127.0.0.1:{port}/botX/sendMessage")
    finally:
        release.set()
        await req.shutdown()
        await runner.cleanup()


async def test_nothing_listening_is_a_network_error_not_a_crash() -> None:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    req = AiohttpRequest()
    try:
        with pytest.raises(NetworkError) as err:
            await req.post(f"http://127.0.0.1:{port}/botX/sendMessage")
        assert not isinstance(err.value, TimedOut)
    finally:
        await req.shutdown()


async def test_shutdown_then_use_again_reopens(fake: FakeTelegram) -> None:
    req = AiohttpRequest()
    bot = Bot(fake.token, base_url=fake.base_url, request=req)
    async with bot:
        await bot.send_message(1, "a")
    async with bot:  # PTB re-initialises a stopped bot; the session comes back
        await bot.send_message(1, "b")
    assert fake.texts(1) == ["a", "b"]


async def test_post_json_sends_one_json_object_and_still_raises_ptbs_errors(
    fake: FakeTelegram,
) -> None:
    req = AiohttpRequest()
    url = f"{fake.base_url}{fake.token}/sendMessage"
    body = {"chat_id": 3, "text": "ünïcode ≥ $1M", "reply_markup": {"inline_keyboard": [[]]}}
    try:
        result = await req.post_json(url, body)
        fake.fail_next(3, 429, "Too Many Requests: retry after 2", retry_after=2)
        with pytest.raises(RetryAfter):
            await req.post_json(url, body)
    finally:
        await req.shutdown()
    assert result["chat"]["id"] == 3
    (sent,) = fake.sent
    assert sent.text == "ünïcode ≥ $1M"
    assert sent.params["reply_markup"] == {"inline_keyboard": [[]]}  # an object, not a string


async def test_the_fake_in_a_process_of_its_own_records_what_was_sent() -> None:
    """bench/bench_fanout.py's server (tests/fakes/telegram_process.py) is the same fake."""
    from tests.fakes.telegram_process import RemoteTelegram

    remote = RemoteTelegram(global_per_s=30, paid_per_s=1000)
    await remote.start()
    try:
        async with Bot(remote.token, base_url=remote.base_url, request=AiohttpRequest()) as bot:
            await bot.send_message(5, "a")
            await bot.request.post_json(  # type: ignore[attr-defined]
                f"{remote.base_url}{remote.token}/sendMessage",
                {"chat_id": 6, "text": "b", "allow_paid_broadcast": True},
            )
        await remote.fetch_sent()
    finally:
        await remote.stop()
    assert [(s.chat_id, s.paid) for s in remote.sent] == [(5, False), (6, True)]
    assert remote.paid_sent == 1 and remote.rejected_429 == 0
