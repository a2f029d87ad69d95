"""TelegramSender against the fake Bot API: outcomes for every kind of failure, and pacing."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from telegram import Bot

from bot.chat.telegram_limits import FloodLimiter, TelegramLimits
from bot.chat.telegram_sender import TelegramSender, chat_id_of
from bot.domain.message import Message
from bot.runtime.delivery import Outcome
from tests.fakes.telegram_api import FakeLimits, FakeTelegram

FAST = TelegramLimits(global_per_s=0, per_chat_interval_s=0, group_per_window=0)
MSG = Message(title="BTC <longs> & co", lines=("$1.20B in 1h",))


async def test_sends_html_to_ids_and_channel_names(fake: FakeTelegram, tg_bot: Bot) -> None:
    sender = TelegramSender(tg_bot, FAST)
    assert (await sender.send("telegram:42", MSG)).outcome is Outcome.SENT
    assert (await sender.send("telegram:-1001", MSG)).outcome is Outcome.SENT
    assert (await sender.send("telegram:@liqchannel", MSG)).outcome is Outcome.SENT
    assert fake.texts(42) == ["<b>BTC &lt;longs&gt; &amp; co</b>\n$1.20B in 1h"]
    assert len(fake.texts(-1001)) == 1 and len(fake.texts("@liqchannel")) == 1
    assert {s.parse_mode for s in fake.sent} == {"HTML"}


@pytest.mark.parametrize(
    ("code", "description", "params", "outcome", "detail"),
    [
        (429, "Too Many Requests: retry after 3", {"retry_after": 3}, Outcome.RETRY, 3.0),
        (403, "Forbidden: bot was blocked by the user", {}, Outcome.PERMANENT, "blocked"),
        (403, "Forbidden: bot was kicked from the group chat", {}, Outcome.PERMANENT, "kicked"),
        (400, "Bad Request: chat not found", {}, Outcome.PERMANENT, "chat not found"),
        (400, "Bad Request: group chat was deleted", {}, Outcome.PERMANENT, "deleted"),
        (
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": -100777},
            Outcome.MIGRATED,
            "telegram:-100777",
        ),
        (500, "Internal Server Error", {}, Outcome.RETRY, 0.0),
        (502, "Bad Gateway", {}, Outcome.RETRY, 0.0),
        # Our own bug (a message Telegram refuses): never pause the chat for it.
        (400, "Bad Request: message is too long", {}, Outcome.RETRY, 60.0),
        (401, "Unauthorized", {}, Outcome.RETRY, 60.0),
    ],
)
async def test_failures_map_to_outcomes(
    fake: FakeTelegram, tg_bot: Bot, code, description, params, outcome, detail
) -> None:
    sender = TelegramSender(tg_bot, FAST)
    fake.fail_next(-5, code, description, **params)
    got = await sender.send("telegram:-5", MSG)
    assert got.outcome is outcome
    if outcome is Outcome.RETRY:
        assert got.retry_after == detail
    elif outcome is Outcome.PERMANENT:
        assert detail in got.reason.lower()
    else:
        assert got.new_chat_key == detail
    assert fake.texts(-5) == []
    # The failure was one-shot: the next send goes through.
    assert (await sender.send("telegram:-5", MSG)).outcome is Outcome.SENT


async def test_unparsable_html_falls_back_to_plain_text(fake: FakeTelegram, tg_bot: Bot) -> None:
    fake.fail_next(9, 400, "Bad Request: can't parse entities: unexpected end tag")
    got = await TelegramSender(tg_bot, FAST).send("telegram:9", MSG)
    assert got.outcome is Outcome.SENT
    (sent,) = [s for s in fake.sent if s.chat_id == 9]
    assert sent.parse_mode is None and sent.text == "BTC <longs> & co\n$1.20B in 1h"


async def test_server_unreachable_is_a_retry() -> None:
    bot = Bot("1:x", base_url="http://127.0.0.1:9/bot")  # discard port: connection refused
    got = await TelegramSender(bot, FAST).send("telegram:1", MSG)
    assert got.outcome is Outcome.RETRY and "network" in got.reason


async def test_bad_keys_are_permanent(tg_bot: Bot) -> None:
    sender = TelegramSender(tg_bot, FAST)
    for key in ("discord:channel:1", "telegram:", "telegram:abc"):
        assert (await sender.send(key, MSG)).outcome is Outcome.PERMANENT
    assert chat_id_of("telegram:@chan") == "@chan" and chat_id_of("telegram:-100") == -100


async def test_long_message_goes_in_parts_in_order(fake: FakeTelegram, tg_bot: Bot) -> None:
    msg = Message(title="big", lines=tuple(f"line {i:05d} " + "x" * 80 for i in range(200)))
    assert (await TelegramSender(tg_bot, FAST).send("telegram:3", msg)).outcome is Outcome.SENT
    parts = fake.texts(3)
    assert len(parts) >= 4 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts).count("line ") == 200
    assert parts[0].startswith("<b>big</b>\nline 00000")


# ---- pacing -----------------------------------------------------------------------------------


async def _slot_times(limiter: FloodLimiter, chat_id: int | str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        async with limiter.slot(chat_id):
            out.append(time.perf_counter())
    return out


async def test_overall_limit_spaces_sends_evenly() -> None:
    limiter = FloodLimiter(TelegramLimits(global_per_s=50, per_chat_interval_s=0))
    times: list[float] = []

    async def one(i: int) -> None:
        async with limiter.slot(i):
            times.append(time.perf_counter())

    await asyncio.gather(*(one(i) for i in range(1, 41)))
    times.sort()
    # One slot every 20 ms, with a tenth of a slot of tolerance: k+1 sends span at least
    # k - 0.1 slots, so there is no burst, even at the start.
    for k in range(1, 40):
        span = min(b - a for a, b in zip(times, times[k:], strict=False))
        assert span >= (k - 0.1) * 0.02 - 0.002, k
    assert times[-1] - times[0] < 39 * 0.02 + 0.15  # and not much slower than that


async def test_per_chat_and_group_spacing() -> None:
    limits = TelegramLimits(
        global_per_s=0, per_chat_interval_s=0.05, group_per_window=5, group_window_s=0.5
    )
    limiter = FloodLimiter(limits)
    private, group = await asyncio.gather(
        _slot_times(limiter, 7, 5), _slot_times(limiter, -100, 12)
    )
    assert min(b - a for a, b in itertools.pairwise(private)) >= 0.05 * 0.98
    # 5 in any 0.5 s: evenly spaced at 0.1 s, the 6th leaves the 1st's window behind.
    for i, t in enumerate(group):
        window = [u for u in group if t - 0.5 < u <= t]
        assert len(window) <= 5, i
    assert group[5] >= group[0] + 0.5 and group[10] >= group[5] + 0.5
    assert group[10] - group[0] < 1.0 + 0.2  # and not much slower than that


async def test_chat_interval_counts_from_telegrams_answer() -> None:
    """A send that waited or travelled long does not let the next one follow too closely."""
    limiter = FloodLimiter(TelegramLimits(global_per_s=0, per_chat_interval_s=0.1))
    async with limiter.slot(5):
        await asyncio.sleep(0.15)  # a slow answer: the bucket leaked meanwhile
        answered = time.perf_counter()
    async with limiter.slot(5):
        assert time.perf_counter() - answered >= 0.1 * 0.98


async def test_idle_chats_are_forgotten() -> None:
    limiter = FloodLimiter(TelegramLimits(global_per_s=0, per_chat_interval_s=0.05))
    for i in range(1000):
        async with limiter.slot(i):
            pass
    await asyncio.sleep(0.1)  # every bucket has emptied
    for i in range(1000, 2100):
        async with limiter.slot(i):
            pass
    assert len(limiter) < 1200  # the first thousand were dropped once idle


async def test_paced_burst_stays_within_the_servers_limits(tg_bot: Bot) -> None:
    lim = FakeLimits(global_per_s=30, group_per_min=3, group_window_s=0.5, chat_window_s=0.1)
    fake = FakeTelegram(limits=lim)
    await fake.start()
    try:
        bot = Bot(fake.token, base_url=fake.base_url)
        limits = TelegramLimits(
            global_per_s=29, per_chat_interval_s=0.1, group_per_window=3, group_window_s=0.5
        )
        sender = TelegramSender(bot, limits)
        t0 = time.perf_counter()
        outcomes = await asyncio.gather(
            *(sender.send(f"telegram:{i}", MSG) for i in range(1, 36)),
            *(sender.send("telegram:-42", MSG) for _ in range(6)),
        )
        elapsed = time.perf_counter() - t0
        assert [o for o in outcomes if o.outcome is not Outcome.SENT] == []
        assert fake.rejected_429 == 0
        assert len(fake.sent) == 41
        assert elapsed >= 40 / 29 - 0.05  # paced, not bursted
    finally:
        await fake.stop()


async def test_command_reply_overtakes_an_outbox_burst() -> None:
    limiter = FloodLimiter(TelegramLimits(global_per_s=20, per_chat_interval_s=0))  # 50 ms apart
    done: list[float] = []

    async def bulk(i: int) -> None:
        async with limiter.slot(i):
            done.append(time.perf_counter())

    t0 = time.perf_counter()
    burst = [asyncio.create_task(bulk(i)) for i in range(1, 31)]  # 1.5 s worth of slots
    await asyncio.sleep(0.2)
    asked = time.perf_counter()
    async with limiter.slot(-5, priority=True):
        waited = time.perf_counter() - asked
    await asyncio.gather(*burst)
    assert waited < 0.12  # at most about two slots, not the 1.3 s left of the burst
    # The overall rate held: 31 sends, never two closer than one slot apart on average.
    assert done[-1] - t0 >= 30 * 0.05 - 0.02


async def test_a_cancelled_outbox_send_frees_its_place() -> None:
    limiter = FloodLimiter(TelegramLimits(global_per_s=20, per_chat_interval_s=0))  # 50 ms apart
    done: list[int] = []

    async def bulk(i: int) -> None:
        async with limiter.slot(i):
            done.append(i)

    tasks = [asyncio.create_task(bulk(i)) for i in range(1, 6)]
    await asyncio.sleep(0.07)  # 1 and 2 sent, 3 waits in the bucket, 4 and 5 behind it
    tasks[2].cancel()
    async with limiter.slot(-5, priority=True):  # a reply still overtakes the rest
        done.append(-5)
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[2].cancelled()
    assert done == [1, 2, -5, 4, 5]


async def test_outbox_sends_build_no_ptb_message_from_the_answer(
    fake: FakeTelegram, tg_bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lean send path (issue 18 item 2): the answer of an outbox send is not parsed into a
    telegram.Message (de_json was PTB's largest per-send cost); the request is unchanged."""
    import telegram

    built = 0
    real = telegram.Message.de_json.__func__  # type: ignore[attr-defined]

    def counting(cls, data, bot=None):  # type: ignore[no-untyped-def]
        nonlocal built
        built += 1
        return real(cls, data, bot)

    monkeypatch.setattr(telegram.Message, "de_json", classmethod(counting))
    sender = TelegramSender(tg_bot, FAST)
    assert (await sender.send("telegram:42", MSG)).outcome is Outcome.SENT
    assert built == 0
    (sent,) = fake.sent
    assert sent.text == "<b>BTC &lt;longs&gt; &amp; co</b>\n$1.20B in 1h"
    assert sent.parse_mode == "HTML"
    await sender.send_message(42, MSG, reply_to=1)  # a reply still goes through PTB's method
    assert built == 1
