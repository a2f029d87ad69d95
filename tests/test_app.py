"""The composition root and the CLI: broadcasts from the config, sources from the config, logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, Secrets, parse_config
from bot.features.broadcasts import sync_broadcasts
from bot.runtime.clock import Clock
from bot.sources.from_config import build_sources
from bot.store import Database

T = 1_800_000_000_000


def _config(broadcasts: list[dict[str, object]]) -> Config:
    return parse_config({"broadcasts": broadcasts})


async def test_broadcasts_are_synced_once_and_dropped_when_undeclared(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "b.sqlite3")
    try:
        two = _config(
            [
                {"chat": "@liqs", "rule": "all 1h 400m shorts"},
                {"chat": "discord:42", "rule": "btc 1h 100m"},
            ]
        )
        await sync_broadcasts(two, db, T)
        await sync_broadcasts(two, db, T)  # a restart must not duplicate them
        chan = await db.list_subscriptions("telegram:@liqs")
        assert [(s.coin, s.window, s.side.value, s.threshold, s.origin) for s in chan] == [
            ("ALL", 60, "short", 400e6, "config")
        ]
        assert len(await db.list_subscriptions("discord:channel:42")) == 1
        # a user's own subscription in the same chat is never touched by the sync
        await db.add_subscription("telegram:@liqs", "ETH", 240, chan[0].side, 50e6, T)
        await sync_broadcasts(_config([{"chat": "@liqs", "rule": "all 1h 500m shorts"}]), db, T)
        chan = await db.list_subscriptions("telegram:@liqs")
        assert sorted((s.coin, s.threshold, s.origin) for s in chan) == [
            ("ALL", 500e6, "config"),
            ("ETH", 50e6, "user"),
        ]
        assert await db.list_subscriptions("discord:channel:42") == []
    finally:
        await db.close()


async def test_a_broadcast_into_a_forum_topic(tmp_path: Path) -> None:
    """`topic:` is part of a declared broadcast: stored as the rule's thread, kept across a
    restart, moved when the config names another topic; only Telegram chats have topics."""
    db = await Database.open(tmp_path / "b.sqlite3")
    try:
        cfg = _config([{"chat": -100123, "rule": "btc 1h 100m", "topic": 42}])
        await sync_broadcasts(cfg, db, T)
        await sync_broadcasts(cfg, db, T)  # a restart: the same one rule
        (sub,) = await db.list_subscriptions("telegram:-100123")
        assert (sub.coin, sub.thread, sub.origin) == ("BTC", 42, "config")
        moved = _config([{"chat": -100123, "rule": "btc 1h 100m", "topic": 7}])
        await sync_broadcasts(moved, db, T)
        assert [s.thread for s in await db.list_subscriptions("telegram:-100123")] == [7]
        await sync_broadcasts(_config([{"chat": -100123, "rule": "btc 1h 100m"}]), db, T)
        assert [s.thread for s in await db.list_subscriptions("telegram:-100123")] == [None]
    finally:
        await db.close()
    with pytest.raises(ConfigError, match="only a Telegram chat has forum topics"):
        _config([{"chat": "discord:42", "rule": "btc 1h 100m", "topic": 3}])
    with pytest.raises(ConfigError):
        _config([{"chat": "@liqs", "rule": "btc 1h 100m", "topic": 0}])


def test_sources_follow_the_config() -> None:
    c = parse_config(
        {"sources": {"okx": {"enabled": False}, "bybit": {"url": "ws://127.0.0.1:9/ws"}}}
    )
    names = {s.name: s for s in build_sources(c, Secrets(), Clock())}
    assert set(names) == {
        "binance",
        "bybit",
        "bybit_inverse",
        "gate",
        "bitget",
        "bitmex",
        "htx",
        "deribit",
    }  # okx off, gate on by default (its docs fix the side), no CoinGlass without a key
    assert names["bybit"].url == "ws://127.0.0.1:9/ws"
    inverse = names["bybit_inverse"]  # its own stream and instrument category, venue bybit
    assert inverse.url == "wss://stream.bybit.com/v5/public/inverse"
    assert (inverse.venue, inverse.category, inverse.inverse) == ("bybit", "inverse", True)
    assert (names["bybit"].category, names["bybit"].inverse) == ("linear", False)
    keyed = build_sources(Config(), Secrets(coinglass_key="k" * 12), Clock())
    assert [s.name for s in keyed] == [
        "binance",
        "bybit",
        "bybit_inverse",
        "okx",
        "gate",
        "bitget",
        "bitmex",
        "htx",
        "deribit",
        "coinglass",
    ]
    replay = parse_config({"sources": {"replay": {"enabled": True}}})
    assert [s.name for s in build_sources(replay, Secrets(), Clock())] == ["replay"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_check_config_explains_and_names_bad_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("broadcasts:\n  - chat: '@liqs'\n    rule: all 1h 400m shorts\n")
    ok = _cli("check-config", str(good), env={"PATH": "", "TELEGRAM_BOT_TOKEN": "123:abcdefgh"})
    assert ok.returncode == 0, ok.stderr
    assert "telegram: on" in ok.stdout and "discord: off (no DISCORD_BOT_TOKEN)" in ok.stdout
    assert "broadcast: telegram:@liqs <- all 1h 400m shorts" in ok.stdout
    assert "123:abcdefgh" not in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("alerts:\n  rearm_ratio: 2\nsources:\n  bybit:\n    enabld: true\n")
    res = _cli("check-config", str(bad))
    assert res.returncode == 2
    assert "alerts.rearm_ratio" in res.stderr and "sources.bybit.enabld: unknown key" in res.stderr
    assert "Traceback" not in res.stderr
    rule = tmp_path / "rule.yaml"
    rule.write_text("broadcasts:\n  - chat: '@x'\n    rule: btc 1h zero\n")
    res = _cli("check-config", str(rule))
    assert res.returncode == 2 and "broadcasts.0.rule" in res.stderr


def test_unreachable_platform_stops_with_a_clear_message(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"storage:\n  path: {tmp_path / 'x.sqlite3'}\n"
        "telegram:\n  base_url: http://127.0.0.1:9/bot\n"  # nothing listens on port 9
        "sources:\n  binance: {enabled: false}\n  bybit: {enabled: false}\n"
        "  okx: {enabled: false}\n"
    )
    token = "123456:unreachable-token"
    res = _cli("run", "--config", str(cfg), env={"PATH": "", "TELEGRAM_BOT_TOKEN": token})
    assert res.returncode == 1
    assert "could not start" in res.stderr and "Traceback" not in res.stderr
    assert token not in res.stderr
