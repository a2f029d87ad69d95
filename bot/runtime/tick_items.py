"""One tick's alert messages as outbox items, each chat's alerts one message.

A crash tick alerts tens of thousands of chats about the same few thousand crossings, so a
message that names a crossing another alert of the tick also names is kept as parts
(`PartsMessage`: each crossing's words and its rules' facts in one body per tick, the chat's
row only names them) and composed into the same text when it is sent. A message that shares no
crossing (the everyday case: one chat, one alert) is rendered whole, as are webhooks' (their
JSON data); so are the messages of `outbox_items`, which tests and tools call.

As `outbox_items`: one message per (chat, forum topic), topics in the order of their first
alert; each in the chat's language (one AlertContext per language, so a crossing's words are
made and stored once per language); quiet hours' silence decided at the tick's time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.domain.alert_parts import Body, PartsMessage, SeriesText
from bot.domain.alert_payload import alerts_payload
from bot.domain.i18n import Lang
from bot.domain.message import ChartRef
from bot.domain.models import Alert, AlertKind, Snapshot, Subscription
from bot.domain.moves import SeriesMoves, Transitions
from bot.domain.quiet import QuietHours
from bot.domain.render_alerts import AlertContext, render_alerts
from bot.store import OutboxItem

_BUTTONED = ("telegram:", "discord:")  # the platforms that draw buttons under alerts


def dedupe_key(alerts: list[Alert]) -> str:
    """The alerts' (rule, episode, level): the same tick retried enqueues nothing new."""
    return "alert:" + ",".join(f"{a.sub.id}.{a.episode}.{a.level}" for a in alerts)


def expires_ms(alerts: list[Alert], now_ms: int) -> int:
    """News until its longest window has rolled past; after that it is dropped unsent."""
    return now_ms + max(a.sub.window for a in alerts) * 60_000


def by_thread(alerts: list[Alert]) -> list[tuple[int | None, list[Alert]]]:
    """One chat's alerts split by the forum topic their rule was made in (Telegram topics),
    in the order of each topic's first alert; almost every chat has one part, the chat."""
    if all(a.sub.thread is None for a in alerts):
        return [(None, alerts)]
    parts: dict[int | None, list[Alert]] = {}
    for a in alerts:
        parts.setdefault(a.sub.thread, []).append(a)
    return list(parts.items())


def whole_item(
    chat_key: str,
    alerts: list[Alert],
    now_ms: int,
    ctx: AlertContext,
    attach_chart: bool,
    zone: ZoneInfo | None,
    thread: int | None = None,
    hours: QuietHours | None = None,
) -> OutboxItem:
    """The message of one chat's topic rendered whole (in `ctx`'s language)."""
    msg = render_alerts(alerts, ctx, zone)
    if chat_key.startswith("webhook:"):  # only webhooks read it: other rows stay small
        msg = replace(msg, data=alerts_payload(alerts))
    if chat_key.startswith(_BUTTONED):  # buttons under it: the first alert's rule
        msg = replace(msg, buttons=alerts[0].sub.id)
    if attach_chart:
        first = alerts[0]
        chart = ChartRef(first.sub.coin, first.sub.window, now_ms, _zone_name(zone))
        msg = replace(msg, chart=chart)
    if thread is not None:
        msg = replace(msg, thread=thread)
    if hours is not None:  # said either way: disable_notification true or false
        big = any(a.kind is AlertKind.ESCALATED for a in alerts)
        msg = replace(msg, silent=hours.silences(now_ms, zone, big=big))
    return OutboxItem(chat_key, msg, dedupe_key(alerts), now_ms, expires_ms(alerts, now_ms))


class Contexts:
    """One AlertContext per language, the tick's own (`ctx`) for its language: each memoizes
    its words, shared by that language's chats."""

    def __init__(self, ctx: AlertContext, langs: Mapping[str, Lang] | None = None) -> None:
        self.ctx = ctx
        self.langs = langs or {}
        self._by_code = {ctx.lang.code: ctx}

    def of(self, chat_key: str) -> AlertContext:
        lang = self.langs.get(chat_key) if self.langs else None
        if lang is None or lang.code == self.ctx.lang.code:
            return self.ctx
        hit = self._by_code.get(lang.code)
        if hit is None:
            c = self.ctx
            hit = self._by_code[lang.code] = AlertContext(c.snapshot, c.policy, lang=lang)
        return hit


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
        quiet: Mapping[str, QuietHours] | None = None,
        langs: Mapping[str, Lang] | None = None,
    ) -> None:
        self.now_ms, self.ctx, self.attach_chart = now_ms, ctx, attach_chart
        self.zones = zones or {}
        self.quiet = quiet or {}
        self.contexts = Contexts(ctx, langs)
        self._bodies: dict[int, Body] = {}  # id(SeriesText) -> its body
        self._chats: dict[str, list[Entry]] = {}
        # chats with a rule in a forum topic (rare): only theirs are split by topic in `items`
        self._topics: set[str] = set()
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
                self.kinds[kind.value] = self.kinds.get(kind.value, 0) + len(subs)
                self._topics.update([s.chat_key for s in subs if s.thread is not None])
                # as alerts_by_chat: a firing starts the next episode, an escalation keeps its
                # (an escalated rule always has a state)
                fired = kind is AlertKind.FIRED
                episodes = [(o[2] + 1 if fired else o[2]) if o is not None else 1 for o in olds]
                groups = self._by_context(subs)
                made: list[Body] = []
                for ctx, at in groups:
                    if at is not None:  # the rules of chats in this context's language
                        group = [subs[i] for i in at]
                        group_levels = [levels[i] for i in at]
                    else:
                        group, group_levels = subs, levels
                    # made as Transitions.alerts_by_chat makes them: the words of every alert
                    one = Alert(
                        group[0], kind, m.value, group_levels[0], 0, snap.as_of_ms, m.longs,
                        m.shorts, m.venues, snap.sources, snap.sampled, snap.gaps,
                    )  # fmt: skip
                    body = self._body(ctx.series_text(one))
                    body.extend(group, group_levels, kind is AlertKind.ESCALATED)
                    made.append(body)
                if len(made) == 1:
                    bodies: list[Body] | None = None
                else:  # each rule's body, the rules in their order (chats as main meets them)
                    bodies = [made[0]] * len(subs)
                    for body, (_, at) in zip(made, groups, strict=True):
                        for i in at or ():
                            bodies[i] = body
                one_body = made[0]
                for i, (sub, level, episode) in enumerate(zip(subs, levels, episodes, strict=True)):
                    entry = (
                        sub.id,
                        sub,
                        kind,
                        level,
                        episode,
                        bodies[i] if bodies else one_body,
                        m,
                    )
                    chat = chats.get(sub.chat_key)
                    if chat is None:
                        chats[sub.chat_key] = [entry]
                    else:
                        chat.append(entry)

    def _by_context(self, subs: list[Subscription]) -> list[tuple[AlertContext, list[int] | None]]:
        """The rules by their chat's language's context (their indexes; None: all of them, in
        the tick's own language, the everyday case: no lookup per rule)."""
        contexts = self.contexts
        if not contexts.langs:
            return [(self.ctx, None)]
        groups: dict[int, tuple[AlertContext, list[int]]] = {}
        for i, s in enumerate(subs):
            ctx = contexts.of(s.chat_key)
            hit = groups.get(id(ctx))
            if hit is None:
                groups[id(ctx)] = (ctx, [i])
            else:
                hit[1].append(i)
        if len(groups) == 1:
            return [(next(iter(groups.values()))[0], None)]
        return [(ctx, at) for ctx, at in groups.values()]

    def add(self, chat_key: str, alerts: list[Alert]) -> None:
        """Alerts made elsewhere (the other rule kinds'): into the chat's one message."""
        chat = self._chats.setdefault(chat_key, [])
        ctx = self.contexts.of(chat_key)
        if any(a.sub.thread is not None for a in alerts):
            self._topics.add(chat_key)
        for a in alerts:
            body = self._body(ctx.series_text(a))
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
        for chat_key, entries in self._chats.items():
            if len(entries) > 1:
                # a chat's alerts by rule, as alerts_by_chat sorts them; the entry's first item
                # is the sub id, unique in a tick (no key function: ~0.1 s in a crash tick)
                entries.sort()
            if chat_key not in self._topics:
                yield self._item(chat_key, None, entries)
                continue
            # one message per forum topic, in the order of each topic's first alert (by_thread)
            topics: dict[int | None, list[Entry]] = {}
            for e in entries:
                topics.setdefault(e[1].thread, []).append(e)
            for thread, part in topics.items():
                yield self._item(chat_key, thread, part)

    def _item(self, chat_key: str, thread: int | None, entries: list[Entry]) -> OutboxItem:
        now = self.now_ms
        zone = self.zones.get(chat_key)
        hours = self.quiet.get(chat_key)
        bodies = tuple(dict.fromkeys([e[5] for e in entries]))
        if chat_key.startswith("webhook:") or all(len(b) == 1 for b in bodies):
            alerts = [self._alert(e) for e in entries]
            ctx = self.contexts.of(chat_key)
            return whole_item(chat_key, alerts, now, ctx, self.attach_chart, zone, thread, hours)
        first = entries[0][1]
        silent = None
        if hours is not None:  # as whole_item: said either way
            big = any(e[2] is AlertKind.ESCALATED for e in entries)
            silent = hours.silences(now, zone, big=big)
        message = PartsMessage(
            bodies,
            tuple([e[0] for e in entries]),
            tz=zone.key if zone is not None else None,
            buttons=first.id if chat_key.startswith(_BUTTONED) else None,
            chart=(
                ChartRef(first.coin, first.window, now, _zone_name(zone))
                if self.attach_chart
                else None
            ),
            thread=thread,
            silent=silent,
        )
        key = "alert:" + ",".join([f"{e[0]}.{e[4]}.{e[3]}" for e in entries])
        expires = now + max([e[1].window for e in entries]) * 60_000  # as expires_ms
        return OutboxItem(chat_key, message, key, now, expires)


def _zone_name(zone: ZoneInfo | None) -> str:
    """The chart's zone as ChartRef keeps it (delivery draws the picture in it)."""
    return zone.key if zone is not None else "UTC"
