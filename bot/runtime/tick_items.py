"""One tick's alert messages as outbox items, each chat's alerts one message.

A crash tick alerts tens of thousands of chats about the same few thousand crossings, so a
message that names a crossing another alert of the tick also names is kept as parts
(`PartsMessage`: each crossing's words and its rules' facts in one body per tick, the chat's
row only names them) and composed into the same text when it is sent. A message that shares no
crossing (the everyday case: one chat, one alert) is rendered whole, as are webhooks' (their
JSON data); so are the messages of `outbox_items`, which tests and tools call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.domain.alert_parts import Body, PartsMessage, SeriesText
from bot.domain.alert_payload import alerts_payload
from bot.domain.message import ChartRef
from bot.domain.models import Alert, AlertKind, Snapshot, Subscription
from bot.domain.moves import SeriesMoves, Transitions
from bot.domain.render_alerts import AlertContext, render_alerts
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
) -> OutboxItem:
    """The chat's message rendered whole, as main's engine did."""
    msg = render_alerts(alerts, ctx, zone)
    if chat_key.startswith("webhook:"):  # only webhooks read it: other rows stay small
        msg = replace(msg, data=alerts_payload(alerts))
    if chat_key.startswith(_BUTTONED):  # buttons under it: the first alert's rule
        msg = replace(msg, buttons=alerts[0].sub.id)
    if attach_chart:
        first = alerts[0]
        msg = replace(msg, chart=ChartRef(first.sub.coin, first.sub.window, now_ms))
    return OutboxItem(chat_key, msg, dedupe_key(alerts), now_ms, expires_ms(alerts, now_ms))


# one alert of a chat, without an Alert object: (sub id, sub, kind, level, episode, its body,
# where it came from: the book's series moves (an Alert made only if needed) or the Alert)
Entry = tuple[int, Subscription, AlertKind, int, int, Body, "SeriesMoves | Alert"]


class TickItems:
    """Collects a tick's alerts (`add_series`: the book's, a series at a time; `add`: the other
    rule kinds'), then gives each chat's item (`items`), chats in the order they came."""

    def __init__(
        self,
        now_ms: int,
        ctx: AlertContext,
        attach_chart: bool = False,
        zones: Mapping[str, ZoneInfo] | None = None,
    ) -> None:
        self.now_ms, self.ctx, self.attach_chart = now_ms, ctx, attach_chart
        self.zones = zones or {}
        self._bodies: dict[int, Body] = {}  # id(SeriesText) -> its body
        self._chats: dict[str, list[Entry]] = {}
        self._snapshot: Snapshot | None = None
        self.kinds: dict[str, int] = {}  # alerts by kind ("fired", "escalated"): the metrics

    def _body(self, series: SeriesText) -> Body:
        body = self._bodies.get(id(series))
        if body is None:  # the context keeps `series` alive for the tick: the id stays its own
            body = self._bodies[id(series)] = Body(series)
        return body

    def add_series(self, transitions: Transitions) -> None:
        """The book's alerts, each series' rules in one go; what Transitions.alerts_by_chat
        gives, without an Alert per rule (a crash tick's 200,000 took a second)."""
        snap, silent, chats = transitions.snapshot, transitions.silent, self._chats
        self._snapshot = snap
        for m in transitions.series:
            for kind, subs, levels, olds in (
                (AlertKind.FIRED, m.fired, m.fired_levels, m.fired_old),
                (AlertKind.ESCALATED, m.escalated, m.escalated_levels, m.escalated_old),
            ):
                if silent and subs:  # muted or paused: no alert
                    kept = [i for i, s in enumerate(subs) if s.id not in silent]
                    subs = [subs[i] for i in kept]
                    levels, olds = [levels[i] for i in kept], [olds[i] for i in kept]
                if not subs:
                    continue
                # made as Transitions.alerts_by_chat makes them: the words of every alert here
                one = Alert(
                    subs[0], kind, m.value, levels[0], 0, snap.as_of_ms, m.longs, m.shorts,
                    m.venues, snap.sources, snap.sampled, snap.gaps,
                )  # fmt: skip
                body = self._body(self.ctx.series_text(one))
                body.extend(subs, levels, kind is AlertKind.ESCALATED)
                # as alerts_by_chat: a firing starts the next episode, an escalation keeps its
                # (an escalated rule always has a state)
                fired = kind is AlertKind.FIRED
                episodes = [(o[2] + 1 if fired else o[2]) if o is not None else 1 for o in olds]
                for sub, level, episode in zip(subs, levels, episodes, strict=True):
                    entry = (sub.id, sub, kind, level, episode, body, m)
                    chat = chats.get(sub.chat_key)
                    if chat is None:
                        chats[sub.chat_key] = [entry]
                    else:
                        chat.append(entry)
                self.kinds[kind.value] = self.kinds.get(kind.value, 0) + len(subs)

    def add(self, chat_key: str, alerts: list[Alert]) -> None:
        """Alerts made elsewhere (the other rule kinds'): into the chat's one message."""
        chat = self._chats.setdefault(chat_key, [])
        for a in alerts:
            body = self._body(self.ctx.series_text(a))
            body.add(a)
            chat.append((a.sub.id, a.sub, a.kind, a.level, a.episode, body, a))
            self.kinds[a.kind.value] = self.kinds.get(a.kind.value, 0) + 1

    def _alert(self, e: Entry) -> Alert:
        src = e[6]
        if isinstance(src, Alert):
            return src
        s = self._snapshot
        assert s is not None
        return Alert(
            e[1], e[2], src.value, e[3], e[4], s.as_of_ms, src.longs, src.shorts, src.venues,
            s.sources, s.sampled, s.gaps,
        )  # fmt: skip

    def items(self) -> Iterator[OutboxItem]:
        now = self.now_ms
        for chat_key, entries in self._chats.items():
            if len(entries) > 1:
                # a chat's alerts by rule, as alerts_by_chat sorts them; the entry's first item
                # is the sub id, unique in a tick (no key function: ~0.1 s in a crash tick)
                entries.sort()
            bodies = tuple(dict.fromkeys([e[5] for e in entries]))
            if chat_key.startswith("webhook:") or all(len(b) == 1 for b in bodies):
                alerts = [self._alert(e) for e in entries]
                zone = self.zones.get(chat_key)
                yield whole_item(chat_key, alerts, now, self.ctx, self.attach_chart, zone)
                continue
            zone = self.zones.get(chat_key)
            first = entries[0][1]
            message = PartsMessage(
                bodies,
                tuple([e[0] for e in entries]),
                tz=zone.key if zone is not None else None,
                buttons=first.id if chat_key.startswith(_BUTTONED) else None,
                chart=ChartRef(first.coin, first.window, now) if self.attach_chart else None,
            )
            key = "alert:" + ",".join([f"{e[0]}.{e[4]}.{e[3]}" for e in entries])
            expires = now + max([e[1].window for e in entries]) * 60_000  # as expires_ms
            yield OutboxItem(chat_key, message, key, now, expires)
