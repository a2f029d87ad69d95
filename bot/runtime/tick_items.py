"""One tick's alert messages as outbox items, each chat's alerts one message.

A crash tick alerts tens of thousands of chats about the same few thousand crossings, so a
message that names a crossing another alert of the tick also names is kept as parts
(`PartsMessage`: the crossing's words once per tick, the chat's rules' facts per row) and
composed into the same text when it is sent. A message no other alert shares a crossing with
(the everyday case: one chat, one alert) is rendered whole, as are webhooks' (their JSON data).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.domain.alert_parts import Part, PartsMessage, compose
from bot.domain.alert_payload import alerts_payload
from bot.domain.message import ChartRef
from bot.domain.models import Alert
from bot.domain.render_alerts import AlertContext
from bot.store import OutboxItem

_BUTTONED = ("telegram:", "discord:")  # the platforms that draw buttons under alerts


def dedupe_key(alerts: list[Alert]) -> str:
    """The alerts' (rule, episode, level): the same tick retried enqueues nothing new."""
    return "alert:" + ",".join(f"{a.sub.id}.{a.episode}.{a.level}" for a in alerts)


def expires_ms(alerts: list[Alert], now_ms: int) -> int:
    """News until its longest window has rolled past; after that it is dropped unsent."""
    return now_ms + max(a.sub.window for a in alerts) * 60_000


def whole_item(
    chat_key: str,
    alerts: list[Alert],
    now_ms: int,
    ctx: AlertContext,
    attach_chart: bool,
    zone: ZoneInfo | None,
    parts: list[Part] | None = None,
) -> OutboxItem:
    """The chat's message rendered whole (`parts`: its alerts' parts if already made)."""
    msg = compose(parts if parts is not None else ctx.parts(alerts), ctx.footer_in(zone))
    if chat_key.startswith("webhook:"):  # only webhooks read it: other rows stay small
        msg = replace(msg, data=alerts_payload(alerts))
    if chat_key.startswith(_BUTTONED):  # buttons under it: the first alert's rule
        msg = replace(msg, buttons=alerts[0].sub.id)
    if attach_chart:
        first = alerts[0]
        msg = replace(msg, chart=ChartRef(first.sub.coin, first.sub.window, now_ms))
    return OutboxItem(chat_key, msg, dedupe_key(alerts), now_ms, expires_ms(alerts, now_ms))


class TickItems:
    """Collects a tick's chats (`add`), then gives their items (`items`), in the order added."""

    def __init__(
        self,
        now_ms: int,
        ctx: AlertContext,
        attach_chart: bool = False,
        zones: Mapping[str, ZoneInfo] | None = None,
    ) -> None:
        self.now_ms, self.ctx, self.attach_chart = now_ms, ctx, attach_chart
        self.zones = zones or {}
        self._chats: list[tuple[str, list[Alert], list[Part]]] = []
        self._uses: dict[int, int] = {}  # id(SeriesText) -> how many alerts of the tick name it

    def add(self, chat_key: str, alerts: list[Alert]) -> None:
        parts = self.ctx.parts(alerts)
        uses = self._uses
        for s, _ in parts:
            uses[id(s)] = uses.get(id(s), 0) + 1
        self._chats.append((chat_key, alerts, parts))

    def items(self) -> Iterator[OutboxItem]:
        now, uses = self.now_ms, self._uses
        for chat_key, alerts, parts in self._chats:
            zone = self.zones.get(chat_key)
            shared = any(uses[id(s)] > 1 for s, _ in parts)
            if not shared or chat_key.startswith("webhook:"):
                yield whole_item(chat_key, alerts, now, self.ctx, self.attach_chart, zone, parts)
                continue
            first = alerts[0].sub
            message = PartsMessage(
                tuple(parts),
                tz=zone.key if zone is not None else None,
                buttons=first.id if chat_key.startswith(_BUTTONED) else None,
                chart=ChartRef(first.coin, first.window, now) if self.attach_chart else None,
            )
            yield OutboxItem(chat_key, message, dedupe_key(alerts), now, expires_ms(alerts, now))
