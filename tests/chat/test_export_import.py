"""/export and /import through the shared command service, a real SQLite store and RuleBook."""

from __future__ import annotations

from bot.chat.service import ServiceSettings
from bot.domain.message import Tone, plain_text
from tests.chat.test_service import Admin, Env, env, group, private, say

__all__ = ["env"]  # the fixture, shared with test_service


async def test_export_then_import_copies_the_rules_to_another_chat(env: Env) -> None:
    for rule in ("btc 1h 100m", "eth 4h 2.5m short on binance", "sol single 1m long", "all 1h 3x"):
        await say(env, f"/subscribe {rule}")
    exported = await say(env, "/export")
    text = plain_text(exported)
    assert text.splitlines()[:5] == [
        "/import",
        "/subscribe btc 1h 100m",
        "/subscribe eth 4h 2.5m short on binance",
        "/subscribe sol single 1m long",
        "/subscribe all 1h 3x",
    ]
    other = private("telegram:2")
    imported = await say(env, text, other)  # the whole message, pasted as it is
    assert imported.title == "Imported 4 rules"
    theirs = await env.db.list_subscriptions("telegram:2")
    mine = await env.db.list_subscriptions("telegram:1")
    key = lambda s: (s.coin, s.window, s.side, s.threshold, s.venue, s.kind, s.factor)  # noqa: E731
    assert [key(s) for s in theirs] == [key(s) for s in mine]
    assert [s.number for s in theirs] == [1, 2, 3, 4]  # the chat's own numbers
    for s in theirs:  # live at once, not only stored
        assert env.book.state(s.id) is not None


async def test_import_skips_what_the_chat_has_and_names_unreadable_lines(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    msg = await say(
        env, "/import\n/subscribe btc 1h 100m\n/subscribe doge 12h 750k long\n/subscribe btc 7h x"
    )
    text = plain_text(msg)
    assert msg.title == "Imported 1 rule"
    assert "#2 DOGE longs over 12h above $750K" in text
    assert "1 rule was already here" in text
    assert "Could not read '/subscribe btc 7h x'" in text
    assert len(await env.db.list_subscriptions("telegram:1")) == 2
    again = await say(env, "/import /subscribe doge 12h 750k long")
    assert again.title == "No rules imported" and again.tone is not Tone.ERROR


async def test_import_stops_at_the_chat_cap(env: Env) -> None:
    env.service = env.with_settings(ServiceSettings(max_subscriptions_per_chat=2))
    msg = await say(
        env, "/import\n" + "\n".join(f"/subscribe btc 1h {n}m" for n in (100, 200, 300))
    )
    assert msg.title == "Imported 2 rules"
    assert "1 not added: this chat reached its limit of 2 rules" in plain_text(msg)
    assert len(await env.db.list_subscriptions("telegram:1")) == 2


async def test_in_a_group_only_admins_import_and_anyone_exports(env: Env) -> None:
    member, admin = Admin(False), Admin(True)
    refused = await say(env, "/import /subscribe btc 1h 100m", group(member))
    assert "ask a group admin" in plain_text(refused)
    assert await env.db.list_subscriptions("telegram:-100") == []
    await say(env, "/import /subscribe btc 1h 100m", group(admin))
    exported = await say(env, "/export", group(member))
    assert "/subscribe btc 1h 100m" in plain_text(exported)


async def test_export_of_an_empty_chat_says_how_to_start(env: Env) -> None:
    msg = await say(env, "/export")
    assert msg.title == "Nothing to export" and "/subscribe btc 1h 100m" in plain_text(msg)
