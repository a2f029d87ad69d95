"""The engine's outbox items for forum topics and quiet hours, without I/O: a chat's alerts
split per topic (each its own message and dedupe key, the chat's order kept), and silence
decided from the tick's time, escalations big, said only for chats with quiet hours."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.domain.models import Alert, AlertKind, Side, Subscription
from bot.domain.quiet import QuietHours
from bot.domain.render_alerts import AlertContext
from bot.runtime.engine import by_thread, outbox_items

NIGHT_UTC = 1_790_035_200_000 - 3_600_000  # 23:00 UTC on 2026-09-21
NOON_UTC = NIGHT_UTC - 11 * 3_600_000


def alert(chat: str, sub_id: int, thread: int | None = None, escalated: bool = False) -> Alert:
    sub = Subscription(sub_id, chat, "BTC", 60, Side.TOTAL, 1e8, 0, number=sub_id, thread=thread)
    kind = AlertKind.ESCALATED if escalated else AlertKind.FIRED
    return Alert(sub, kind, 1.5e8, 2 if escalated else 1, 1, 0, 1.5e8, 0.0, (), ("binance",))


def test_alerts_split_per_topic_in_order() -> None:
    alerts = [alert("telegram:-1", 1, 42), alert("telegram:-1", 2), alert("telegram:-1", 3, 42)]
    assert [(t, [a.sub.id for a in part]) for t, part in by_thread(alerts)] == [
        (42, [1, 3]),
        (None, [2]),
    ]
    plain = [alert("telegram:-1", 5), alert("telegram:-1", 6)]
    assert by_thread(plain) == [(None, plain)]  # the common case: one part, the same list
    items = list(outbox_items({"telegram:-1": alerts}, NOON_UTC, AlertContext()))
    assert [(i.message.thread, i.dedupe_key) for i in items] == [
        (42, "alert:1.1.1,3.1.1"),
        (None, "alert:2.1.1"),
    ]
    assert all(i.message.silent is None for i in items)  # no quiet hours: nothing said


def test_silence_is_decided_at_the_ticks_time() -> None:
    quiet = {
        "telegram:1": QuietHours(23 * 60, 7 * 60),
        "telegram:2": QuietHours(23 * 60, 7 * 60, except_big=True),
    }
    by_chat = {
        "telegram:1": [alert("telegram:1", 1, escalated=True)],
        "telegram:2": [alert("telegram:2", 2)],
        "telegram:3": [alert("telegram:3", 3)],
    }

    def silent(now: int, chats: dict[str, list[Alert]] = by_chat) -> dict[str, bool | None]:
        items = outbox_items(chats, now, AlertContext(), quiet=quiet)
        return {i.chat_key: i.message.silent for i in items}

    assert silent(NIGHT_UTC) == {"telegram:1": True, "telegram:2": True, "telegram:3": None}
    assert silent(NOON_UTC) == {"telegram:1": False, "telegram:2": False, "telegram:3": None}
    big = {"telegram:2": [alert("telegram:2", 2, escalated=True), alert("telegram:2", 4)]}
    assert silent(NIGHT_UTC, big) == {"telegram:2": False}  # one escalation: it rings
    # the chat's zone: 23:00 UTC is 08:00 the next morning in Tokyo, outside its night
    tokyo = {"telegram:1": ZoneInfo("Asia/Tokyo")}
    items = outbox_items(by_chat, NIGHT_UTC, AlertContext(), zones=tokyo, quiet=quiet)
    assert {i.chat_key: i.message.silent for i in items}["telegram:1"] is False


def test_an_alerts_chart_carries_the_chats_zone_through_the_outbox_row() -> None:
    """Delivery draws the picture in the zone the engine gave it (no store read per send)."""
    from bot.domain.message import Message

    by_chat = {"telegram:1": [alert("telegram:1", 1)], "telegram:2": [alert("telegram:2", 2)]}
    zones = {"telegram:1": ZoneInfo("Asia/Tokyo")}
    items = list(outbox_items(by_chat, NOON_UTC, AlertContext(), True, zones))
    charts = [i.message.chart for i in items]
    assert [c.zone for c in charts if c is not None] == ["Asia/Tokyo", "UTC"]
    back = [Message.from_dict(i.message.to_dict()).chart for i in items]
    assert back == charts
    assert "zone" not in items[1].message.to_dict()["chart"]  # UTC rows as before
