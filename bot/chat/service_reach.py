"""/digest and /test for the command service: the parts that schedule or enqueue for a chat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from bot.chat.context import ChatContext
from bot.domain.digest import (
    DigestCommand,
    DigestSpec,
    render_digest_off,
    render_digest_set,
    render_digest_show,
)
from bot.domain.i18n import EN, Lang
from bot.domain.message import Message, Tone
from bot.domain.render_common import hhmm
from bot.store import Database, OutboxItem

MINUTE_MS = 60_000


async def run_digest(
    db: Database,
    ctx: ChatContext,
    cmd: DigestCommand,
    now: int,
    declared: Sequence[DigestSpec] = (),
    lang: Lang = EN,
) -> Message:
    mine = [d for d in declared if d.chat_key == ctx.chat_key]
    if cmd.show:
        stored = await db.get_digest(ctx.chat_key)
        return render_digest_show([*mine, *([stored] if stored else [])], now, lang)
    if cmd.off:
        return render_digest_off(await db.remove_digest(ctx.chat_key), lang)
    assert cmd.at_min is not None
    tz = cmd.tz
    if not cmd.zone_given:  # `/digest 08:00`: the chat's zone (/tz), UTC by default
        tz = await db.chat_tz(ctx.chat_key) or "UTC"
    await db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
    await db.set_digest(ctx.chat_key, cmd.at_min, tz, now)
    return render_digest_set(DigestSpec(ctx.chat_key, cmd.at_min, tz), now, lang)


def test_message(now: int, tz: ZoneInfo | None = None, lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Test message"),
        lines=(
            lang._(
                "Sent at %(time)s through the outbox, like an alert: this chat receives alerts.",
                time=hhmm(now, tz=tz, lang=lang),
            ),
        ),
        tone=Tone.INFO,
        data={"type": "test"},
    )


async def enqueue_test(
    db: Database, chat_key: str, now: int, on_enqueued: Callable[[], None], lang: Lang = EN
) -> bool:
    """A test message to `chat_key`; at most one a minute per chat (the dedupe key)."""
    key = f"test:{chat_key}:{now // MINUTE_MS}"
    # a command's: any replica may queue it (webhook mode); the leader's drain sends it
    try:
        name = await db.chat_tz(chat_key)
        tz = ZoneInfo(name) if name else None
    except Exception:  # a lost zone name: the test message in UTC rather than none
        tz = None
    item = OutboxItem(chat_key, test_message(now, tz, lang), key, now)
    n = await db.enqueue([item], as_leader=False)
    if n:
        on_enqueued()
    return n > 0


async def run_test(
    db: Database, ctx: ChatContext, now: int, on_enqueued: Callable[[], None], lang: Lang = EN
) -> Message:
    if await enqueue_test(db, ctx.chat_key, now, on_enqueued, lang):
        return Message(
            title=lang._("Test queued"),
            lines=(lang._("A test message is on its way through the outbox, as alerts are sent."),),
        )
    return Message(
        title=lang._("Test already queued"),
        lines=(lang._("One test message a minute per chat: the last one is on its way."),),
    )
