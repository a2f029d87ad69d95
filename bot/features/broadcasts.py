"""The operator's declared rules (config `broadcasts:` and `webhooks:`) made to exist in the
store, once each, at every start."""

from __future__ import annotations

from bot.config import Config
from bot.domain.command_types import Subscribe
from bot.domain.commands import parse_command
from bot.domain.models import Side
from bot.features.webhooks import chat_key as webhook_key
from bot.store import Database

# what makes a declared rule the same as a stored one: coin, window, side, threshold, topic
RuleKey = tuple[str, int, str, float, int | None]


async def sync_broadcasts(config: Config, db: Database, now_ms: int) -> None:
    """Make the config's declared broadcasts exist, once each, and drop ones no longer declared.
    A broadcast's topic (a Telegram forum topic) is part of it: moved to another topic in the
    config, the rule is dropped from the old one and made in the new one."""
    wanted: dict[str, set[RuleKey]] = {}
    for chat, rule, topic in declared_rules(config):
        cmd = parse_command("/subscribe " + rule)
        assert isinstance(cmd, Subscribe)  # the config validated the rule
        key = (cmd.coin, cmd.window, cmd.side.value, cmd.threshold, topic)
        wanted.setdefault(chat, set()).add(key)
    chats = set(wanted) | await db.chats_with_origin("config")
    for chat in chats:
        await db.ensure_chat(chat)
        have = {
            (s.coin, s.window, s.side.value, s.threshold, s.thread): s
            for s in await db.list_subscriptions(chat)
            if s.origin == "config"
        }
        rules = wanted.get(chat, set())
        for key, sub in have.items():
            if key not in rules:
                await db.remove_subscription(chat, sub.id)
        for coin, window, side, threshold, topic in rules - set(have):
            await db.add_subscription(
                chat, coin, window, Side(side), threshold, now_ms, "config", thread=topic
            )


def declared_rules(config: Config) -> list[tuple[str, str, int | None]]:
    """(chat key, rule, forum topic or None) of the config's broadcasts and webhooks."""
    return [(b.chat, b.rule, b.topic) for b in config.broadcasts] + [
        (webhook_key(w.name), w.rule, None) for w in config.webhooks
    ]
