"""A tick's outbox items (bot/runtime/tick_items.py) for the other rule kinds' alerts (`add`):
a chat's alerts in two forum topics are two messages, one per topic, as for the book's."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.render_alerts import AlertContext
from bot.domain.rules import Policy
from bot.runtime.tick_items import TickItems
from tests.domain.test_alert_parts import alert
from tests.domain.test_render import M, T, day_snapshot


def test_another_kinds_alerts_in_two_topics_are_one_message_per_topic() -> None:
    a, b, c = alert(3), alert(4, coin="ETH"), alert(5, coin="SOL")
    topics = [replace(x, sub=replace(x.sub, thread=n)) for x, n in ((a, 5), (b, 9), (c, 5))]
    made = TickItems(T, AlertContext(day_snapshot(60, ("BTC", 300 * M, 100 * M)), Policy()))
    made.add("telegram:-100", topics)
    made.add("telegram:7", [alert(8)])  # a chat without topics: one message, no topic
    items = list(made.items())
    assert [(i.chat_key, i.message.thread) for i in items] == [
        ("telegram:-100", 5),
        ("telegram:-100", 9),
        ("telegram:7", None),
    ]
    assert [i.dedupe_key for i in items][:2] == ["alert:3.1.1,5.1.1", "alert:4.1.1"]


def test_chats_go_by_key_and_each_chats_alerts_by_rule() -> None:
    """The columns are grouped by one sort of (chat, rule) packed in one number; ids too big to
    pack take the two-key sort. Either way: chats by key (the outbox's index takes the rows in
    order), each chat's alerts by rule id, as the per-chat lists sorted them."""
    for base in (0, 2**62):  # 2**62: chat number x id no longer fits in an int64
        made = TickItems(T, AlertContext(day_snapshot(60, ("BTC", 300 * M, 100 * M)), Policy()))
        order = [("telegram:9", 7), ("discord:channel:2", 3), ("telegram:9", 2), ("console:1", 5),
                 ("discord:channel:2", 1), ("telegram:9", 4)]  # fmt: skip
        for chat, n in order:
            a = alert(n)
            made.add(chat, [replace(a, sub=replace(a.sub, id=base + n, chat_key=chat))])
        items = list(made.items())
        assert [i.chat_key for i in items] == ["console:1", "discord:channel:2", "telegram:9"]
        assert [i.dedupe_key for i in items] == [
            f"alert:{base + 5}.1.1",
            f"alert:{base + 1}.1.1,{base + 3}.1.1",
            f"alert:{base + 2}.1.1,{base + 4}.1.1,{base + 7}.1.1",
        ]
