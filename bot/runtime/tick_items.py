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

from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from bot.domain.alert_parts import Body, PartsMessage, SeriesText, row_json
from bot.domain.alert_payload import alerts_payload
from bot.domain.i18n import Lang
from bot.domain.message import ChartRef
from bot.domain.models import Alert, AlertKind, Snapshot, Subscription
from bot.domain.moves import SeriesMoves, Transitions
from bot.domain.quiet import QuietHours
from bot.domain.render_alerts import AlertContext, render_alerts
from bot.store import OutboxItem
from bot.store.tick_commit import Row

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
# names the store keeps a tick's body under (TickCommit.body_id): (body, created_ms) -> id
BodyNamer = Callable[[Body, int], int]


class _Order(NamedTuple):
    """A tick's alerts in message order: chats by key, each chat's alerts by rule.
    Each list but the first two has one entry per position in that order."""

    chats: list[str]
    bounds: list[int]  # chat c's alerts are positions bounds[c]:bounds[c + 1]
    at: list[int]  # the alert at each position (its index in the columns)
    ids: list[int]  # its rule's id
    bodies: list[int]  # its body (the body's number in `TickItems._body_list`)
    texts: list[str]  # its rule's id as text
    keys: list[str]  # its part of the dedupe key: `id.episode.level`


class TickItems:
    """Collects a tick's alerts (`add_series`: the book's, a series at a time; `add`: the other
    rule kinds'), then gives each chat's item (`items`) or its encoded row (`rows`), chats in
    key order.

    The alerts are kept as columns, one entry per alert in each (a crash tick's 213,583), and
    grouped by chat at the end by one sort (numpy) instead of a list per chat built an alert at
    a time; a chat whose message is kept as parts becomes its row straight from the sorted
    columns, without an object per alert or per chat (issue 18: ~0.5 s of a crash tick)."""

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
        self._bodies: dict[int, int] = {}  # id(SeriesText) -> its body's number
        self._body_list: list[Body] = []
        # the alerts' columns, in the order they came
        self._keys: list[str] = []  # the chat
        self._subs: list[Subscription] = []
        self._ids = array("q")  # machine numbers: the sort reads them without a pass
        self._levels: list[int] = []
        self._episodes: list[int] = []
        self._at: list[int] = []  # the body's number
        self._src: list[int] = []  # where it came from: its number in `_sources`
        self._sources: list[tuple[AlertKind, SeriesMoves | Alert]] = []
        # chats with a rule in a forum topic (rare): only theirs are split by topic
        self._topics: set[str] = set()
        self._snapshot: Snapshot | None = None
        self.kinds: dict[str, int] = {}  # alerts by kind ("fired", "escalated"): the metrics

    def __len__(self) -> int:
        """How many alerts it holds."""
        return len(self._ids)

    def _body(self, series: SeriesText) -> int:
        n = self._bodies.get(id(series))
        if n is None:  # the context keeps `series` alive for the tick: the id stays its own
            n = self._bodies[id(series)] = len(self._body_list)
            self._body_list.append(Body(series))
        return n

    def _column(
        self,
        subs: list[Subscription],
        levels: list[int],
        episodes: list[int],
        src: int,
        chat_key: str | None = None,  # None: each rule's own chat
        ids: array[int] | None = None,  # the rules' ids, if read already
    ) -> None:
        self._keys += [s.chat_key for s in subs] if chat_key is None else [chat_key] * len(subs)
        self._subs += subs
        self._ids.extend([s.id for s in subs] if ids is None else ids)
        self._levels += levels
        self._episodes += episodes
        self._src += [src] * len(subs)

    def add_series(self, transitions: Transitions) -> None:
        """The book's alerts, each series' rules in one go; what Transitions.alerts_by_chat
        gives, without an Alert per rule (a crash tick's 200,000 took a second)."""
        snap, silent = transitions.snapshot, transitions.silent
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
                made: list[int] = []
                ids: array[int] | None = None  # read once for the body and the columns
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
                    n = self._body(ctx.series_text(one))
                    body = self._body_list[n]
                    body.extend(group, group_levels, kind is AlertKind.ESCALATED)
                    if at is None:  # all of them: the body's last len(subs) ids
                        ids = body.subs[len(body.subs) - len(subs) :]
                    made.append(n)
                if len(made) == 1:
                    self._at += [made[0]] * len(subs)
                else:  # each rule's body, the rules in their order
                    bodies = [made[0]] * len(subs)
                    for n, (_, at) in zip(made, groups, strict=True):
                        for i in at or ():
                            bodies[i] = n
                    self._at += bodies
                self._sources.append((kind, m))
                self._column(subs, levels, episodes, len(self._sources) - 1, ids=ids)

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
        ctx = self.contexts.of(chat_key)
        if any(a.sub.thread is not None for a in alerts):
            self._topics.add(chat_key)
        for a in alerts:
            n = self._body(ctx.series_text(a))
            self._body_list[n].add(a)
            self._at.append(n)
            self._sources.append((a.kind, a))
            self._column([a.sub], [a.level], [a.episode], len(self._sources) - 1, chat_key)
            self.kinds[a.kind.value] = self.kinds.get(a.kind.value, 0) + 1

    def _order(self) -> _Order:
        keys = self._keys
        # chats in key order: the outbox's index (status, chat_key, id) then takes the tick's
        # rows in order, not at random (the crash's 49,573 rows alone: 457-492 -> 311-370 ms,
        # and half the WAL written, 330 -> 173 MB). A tick's messages to different chats have
        # no order of their own; each chat's alerts keep theirs (by rule).
        chats, chat = _chat_numbers(keys)
        ids = np.frombuffer(self._ids, np.int64)
        # by chat, then by rule (a rule alerts once a tick): one sort of one number per alert
        # where the pair fits in one, else a sort by two keys (twice the time)
        span = int(ids.max()) + 1
        if int(ids.min()) >= 0 and len(chats) * span < 2**62:
            order = np.argsort(chat * span + ids, kind="stable")
        else:
            order = np.lexsort((ids, chat))
        starts = np.flatnonzero(np.diff(chat[order])) + 1
        sorted_ids = ids[order]
        texts = list(map(str, sorted_ids.tolist()))
        # each alert's `.episode.level`, made once per distinct pair (a crash tick has a few
        # dozen) rather than formatted per alert
        episodes = np.array(self._episodes, np.int64)[order]
        levels = np.array(self._levels, np.int64)[order]
        span = int(levels.max()) + 1
        pairs = (episodes * span + levels).tolist()
        tail = {p: f".{p // span}.{p % span}" for p in set(pairs)}
        return _Order(
            chats,
            [0, *starts.tolist(), len(keys)],
            order.tolist(),
            sorted_ids.tolist(),
            np.array(self._at, np.int64)[order].tolist(),
            texts,
            list(map(str.__add__, texts, map(tail.__getitem__, pairs))),
        )

    def _plan(self, o: _Order) -> Iterator[OutboxItem | tuple[str, int, int, list[int]]]:
        """Each chat's item where it is made whole (or split by topic), else (its chat key, its
        positions' start and end, its bodies' numbers) for a message kept as parts."""
        shared = [len(b) > 1 for b in self._body_list]
        bounds, at, topics = o.bounds, o.bodies, self._topics
        for c, chat_key in enumerate(o.chats):
            a, b = bounds[c], bounds[c + 1]
            ns = at[a:b] if b - a == 1 else list(dict.fromkeys(at[a:b]))
            if (
                chat_key in topics
                or chat_key.startswith("webhook:")
                or not any(map(shared.__getitem__, ns))
            ):
                yield from self._whole(chat_key, o.at[a:b])
            else:
                yield chat_key, a, b, ns

    def _whole(self, chat_key: str, alerts: list[int]) -> Iterator[OutboxItem]:
        """A chat's item(s) made through Entry lists: one message per forum topic, in the order
        of each topic's first alert (by_thread), each whole or kept as parts (`_item`)."""
        entries: list[Entry] = []
        for i in alerts:
            kind, src = self._sources[self._src[i]]
            body = self._body_list[self._at[i]]
            entries.append(
                (self._ids[i], self._subs[i], kind, self._levels[i], self._episodes[i], body, src)
            )
        if chat_key not in self._topics:
            yield self._item(chat_key, None, entries)
            return
        parts: dict[int | None, list[Entry]] = {}
        for e in entries:
            parts.setdefault(e[1].thread, []).append(e)
        for thread, part in parts.items():
            yield self._item(chat_key, thread, part)

    def _besides(
        self, chat_key: str, o: _Order, a: int, b: int
    ) -> tuple[str | None, int | None, ChartRef | None, bool | None]:
        """What a chat's message kept as parts says besides its rules and bodies, as `_item`
        gives it: (its zone, buttons, chart, silence)."""
        now = self.now_ms
        zone = self.zones.get(chat_key)
        hours = self.quiet.get(chat_key)
        silent = None
        if hours is not None:  # as whole_item: said either way
            sources, src = self._sources, self._src
            big = any(sources[src[i]][0] is AlertKind.ESCALATED for i in o.at[a:b])
            silent = hours.silences(now, zone, big=big)
        chart = None
        if self.attach_chart:
            sub = self._subs[o.at[a]]
            chart = ChartRef(sub.coin, sub.window, now, _zone_name(zone))
        buttons = o.ids[a] if chat_key.startswith(_BUTTONED) else None
        return (zone.key if zone is not None else None), buttons, chart, silent

    def _expires(self, ns: list[int], windows: list[int]) -> int:
        """As expires_ms: a body's rules all share its series' window."""
        return self.now_ms + max(map(windows.__getitem__, ns)) * 60_000

    def items(self) -> Iterator[OutboxItem]:
        """Each chat's outbox item, chats by key."""
        if not self._ids:
            return
        o = self._order()
        bodies, now = self._body_list, self.now_ms
        windows = [b.series.window for b in bodies]
        for x in self._plan(o):
            if isinstance(x, OutboxItem):
                yield x
                continue
            chat_key, a, b, ns = x
            tz, buttons, chart, silent = self._besides(chat_key, o, a, b)
            message = PartsMessage(
                tuple([bodies[n] for n in ns]), tuple(o.ids[a:b]), tz=tz, buttons=buttons,
                chart=chart, silent=silent,
            )  # fmt: skip
            key = "alert:" + ",".join(o.keys[a:b])
            yield OutboxItem(chat_key, message, key, now, self._expires(ns, windows))

    def shared_bodies(self) -> list[Body]:
        """The bodies more than one alert names: every one of them is stored (a parts row names
        it), so the store can be given them before the rows are grouped."""
        return [b for b in self._body_list if len(b) > 1]

    def rows(self, name: BodyNamer) -> Iterator[OutboxItem | Row]:
        """As `items`, but a message kept as parts comes encoded, as the store writes it (its
        bodies named through `name`): what the engine's tick commits."""
        if not self._ids:
            return
        o = self._order()
        bodies, now = self._body_list, self.now_ms
        windows = [b.series.window for b in bodies]
        stored = [""] * len(bodies)  # each body's stored id, once named
        # the everyday chat (no zone, no quiet hours, no chart) skips `_besides`' look-ups
        plain = not self.attach_chart
        zones, quiet = self.zones, self.quiet
        for x in self._plan(o):
            if isinstance(x, OutboxItem):
                yield x
                continue
            chat_key, a, b, ns = x
            for n in ns:
                if not stored[n]:
                    stored[n] = str(name(bodies[n], now))
            if plain and chat_key not in zones and chat_key not in quiet:
                buttons = o.ids[a] if chat_key.startswith(_BUTTONED) else None
                text = row_json([stored[n] for n in ns], o.texts[a:b], buttons=buttons)
            else:
                tz, buttons, chart, silent = self._besides(chat_key, o, a, b)
                text = row_json(
                    [stored[n] for n in ns], o.texts[a:b], tz, buttons, chart, None, silent
                )
            key = "alert:" + ",".join(o.keys[a:b])
            yield chat_key, text, key, now, self._expires(ns, windows)

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


def _chat_numbers(keys: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct chat keys, sorted, and each key's number in that list.

    Found by the key objects' addresses first: a chat's rules share one key object (the store
    interns it), so the 213,583 alerts of a crash tick are grouped without reading a key, and
    only the few tens of thousands of distinct objects are compared by value (equal keys held
    as two objects still get one number)."""
    addresses = np.fromiter(map(id, keys), np.int64, len(keys))
    _, first, inverse = np.unique(addresses, return_index=True, return_inverse=True)
    names = [keys[i] for i in first.tolist()]
    chats = sorted(set(names))
    number = {k: i for i, k in enumerate(chats)}
    return chats, np.array([number[k] for k in names], np.int64)[inverse.reshape(-1)]


def _zone_name(zone: ZoneInfo | None) -> str:
    """The chart's zone as ChartRef keeps it (delivery draws the picture in it)."""
    return zone.key if zone is not None else "UTC"
