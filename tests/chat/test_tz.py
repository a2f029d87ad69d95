"""/tz through the real command service (SQLite store, RuleBook): set, show, errors, and the
chat's zone in /mute, /list, /status and /liqs times; UTC chats unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.service import CommandService, ServiceSettings
from bot.domain.message import plain_text
from bot.domain.rules import RuleBook
from bot.store import Database
from tests.chat.test_service import Admin, Clock, Env, FakeMarket, group, private, say


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await Database.open(tmp_path / "bot.db")
    book, market, clock = RuleBook(), FakeMarket(), Clock()
    service = CommandService(db, market, book, ServiceSettings(bot_username="LiqBot"), clock)
    try:
        yield Env(db, book, market, clock, service)
    finally:
        await db.close()


W = 1774746000000  # 2026-03-29 01:00 UTC: 03:00 CEST in Berlin, an hour after the change
S = 1792890000000  # 2026-10-25 01:00 UTC: 02:00 CET, an hour after clocks went back


async def test_tz_alone_shows_utc_by_default(env: Env) -> None:
    text = plain_text(await say(env, "/tz"))
    assert "Time zone: UTC" in text and "14:05 UTC" in text


async def test_tz_sets_the_zone_case_fixed_and_it_is_stored(env: Env) -> None:
    text = plain_text(await say(env, "/tz europe/berlin"))
    assert "now shown in Europe/Berlin" in text and "15:05 CET" in text
    assert await env.db.chat_tz("telegram:1") == "Europe/Berlin"
    assert "Time zone: Europe/Berlin" in plain_text(await say(env, "/tz"))
    # another chat keeps UTC
    assert await env.db.chat_tz("telegram:2") is None


async def test_tz_utc_clears_it(env: Env) -> None:
    await say(env, "/tz Asia/Tokyo")
    assert "23:05 JST" in plain_text(await say(env, "/tz"))
    await say(env, "/tz utc")
    assert await env.db.chat_tz("telegram:1") is None
    assert "Time zone: UTC" in plain_text(await say(env, "/tz"))


async def test_unknown_zone_is_a_friendly_error_with_an_example(env: Env) -> None:
    text = plain_text(await say(env, "/tz Europe/Berln"))
    assert "Unknown time zone" in text and "did you mean Europe/Berlin" in text
    assert "Example: /tz Europe/Berlin" in text
    assert "Not quite" in text
    assert await env.db.chat_tz("telegram:1") is None
    text = plain_text(await say(env, "/tz Mars/Olympus"))
    assert "Unknown time zone" in text and "Example: /tz Europe/Berlin" in text


async def test_mute_list_status_liqs_use_the_chat_zone(env: Env) -> None:
    await say(env, "/tz Europe/Berlin")
    await say(env, "/subscribe btc 1h 100m")
    muted = plain_text(await say(env, "/mute 2h"))
    assert "muted until 17:05 CET" in muted and "UTC" not in muted
    assert "muted until 17:05 CET" in plain_text(await say(env, "/list"))
    status = plain_text(await say(env, "/status"))
    assert "as of 15:05 CET" in status and "muted until 17:05 CET" in status
    liqs = plain_text(await say(env, "/liqs btc"))
    assert "as of 15:05 CET" in liqs and "14:05 UTC" not in liqs


async def test_utc_chat_output_is_unchanged(env: Env) -> None:
    await say(env, "/tz Europe/Berlin", private("telegram:2"))
    muted = plain_text(await say(env, "/mute 2h"))
    assert "muted until 16:05 UTC" in muted
    assert "as of 14:05 UTC" in plain_text(await say(env, "/liqs btc"))


async def test_dst_spring_and_autumn_in_berlin(env: Env) -> None:
    await say(env, "/tz Europe/Berlin")
    env.clock.now = W
    assert "03:00 CEST" in plain_text(await say(env, "/tz"))
    env.clock.now = W - 7_200_000  # 23:00 UTC the evening before: 00:00 CET
    assert "00:00 CET" in plain_text(await say(env, "/tz"))
    env.clock.now = S
    assert "02:00 CET" in plain_text(await say(env, "/tz"))
    env.clock.now = S - 3_600_000  # 00:00 UTC: 02:00 CEST, the first 02:00 of the night
    assert "02:00 CEST" in plain_text(await say(env, "/tz"))


async def test_tz_in_a_group_needs_an_admin(env: Env) -> None:
    check = Admin(False)
    text = plain_text(await say(env, "/tz Europe/Berlin", group(check)))
    assert "ask a group admin" in text and check.asked == 1
    assert await env.db.chat_tz("telegram:-100") is None
    # showing it is for everyone
    assert "Time zone: UTC" in plain_text(await say(env, "/tz", group(check)))


async def test_digest_without_a_zone_takes_the_chats(env: Env) -> None:
    await say(env, "/tz Europe/Berlin")
    await say(env, "/digest 08:00")
    stored = await env.db.get_digest("telegram:1")
    assert stored is not None and stored.tz == "Europe/Berlin"
    await say(env, "/digest 09:00 Asia/Tokyo")  # a zone typed wins
    stored = await env.db.get_digest("telegram:1")
    assert stored is not None and stored.tz == "Asia/Tokyo"
    await say(env, "/digest 08:00", private("telegram:2"))  # a UTC chat: UTC, as before
    other = await env.db.get_digest("telegram:2")
    assert other is not None and other.tz == "UTC"


async def test_test_message_reads_the_chats_zone(env: Env) -> None:
    await say(env, "/tz Asia/Tokyo")
    await say(env, "/test")
    await say(env, "/test", private("telegram:2"))
    rows = await env.db.due_outbox(env.clock.now + 1, limit=10)
    text = {r.chat_key: plain_text(r.message) for r in rows}
    assert "Sent at 23:05 JST" in text["telegram:1"]
    assert "Sent at 14:05 UTC" in text["telegram:2"]
