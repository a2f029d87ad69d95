"""The guided /subscribe in chats: the pure guide's steps (bot/domain/subscribe_guide.py) as
messages with signed buttons, and a press of one.

A token is `lg1.<body>.<signature>`, signed with the key of the buttons under alerts
(alert_buttons.ButtonSigner), so a guide started before a restart goes on after it and an
edited token is refused. Each press edits the guide's message in place (Press.edit); the last
one runs the typed line through the command service, whose reply is the typed form's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bot.chat.alert_buttons import ButtonSigner, Press
from bot.chat.context import ChatContext
from bot.domain import render
from bot.domain import subscribe_guide as guide
from bot.domain.command_specs import usage_error
from bot.domain.i18n import EN, N_, Lang
from bot.domain.message import Message, Reply
from bot.domain.models import Snapshot

log = logging.getLogger(__name__)

TOKEN_PREFIX = guide.PREFIX + "."
# the platforms that draw buttons under a reply; elsewhere (the console) /subscribe alone
# answers with the usage
PLATFORMS = frozenset({"telegram", "discord"})
NOTICE_INVALID = N_("This button is not valid (it may be from another bot). Type /subscribe again.")
HINT = N_("On Telegram and Discord, /subscribe alone opens a guided form with buttons.")


class Market(Protocol):
    def snapshot(self, now_ms: int) -> Snapshot: ...
    def windows_served(self) -> frozenset[int]: ...


class Service(Protocol):
    @property
    def market(self) -> Market: ...
    @property
    def clock(self) -> Callable[[], int]: ...

    async def handle_text(self, ctx: ChatContext, text: str) -> Reply: ...
    async def lang_of(self, ctx: ChatContext) -> Lang: ...


def is_guide_token(data: str) -> bool:
    return data.startswith(TOKEN_PREFIX)


def as_message(signer: ButtonSigner, view: guide.GuideView) -> Message:
    """A step as a neutral message; each button's body signed into its token."""
    keyboard = tuple(
        tuple((b.label, signer.seal(TOKEN_PREFIX + b.body)) for b in row) for row in view.rows
    )
    return Message(view.title, view.lines, keyboard=keyboard)


def typed_only(lang: Lang = EN) -> Message:
    """`/subscribe` alone where there are no buttons: the usage, and where the form is."""
    err = render.render_error(
        usage_error("subscribe", N_("say which coin, over which window, above which amount")),
        lang,
    )
    return Message(err.title, (*err.lines, lang._(HINT)), tone=err.tone, ephemeral=err.ephemeral)


def _market(service: Service) -> tuple[Snapshot | None, frozenset[int]]:
    """The market's figures for the choices; none (fixed presets) when the view fails."""
    try:
        return service.market.snapshot(service.clock()), service.market.windows_served()
    except Exception:
        log.warning("guided /subscribe: market view failed; fixed choices", exc_info=True)
        return None, frozenset()


def start(service: Service, signer: ButtonSigner, lang: Lang = EN) -> Message:
    """The guide's first step: which coin."""
    snapshot, served = _market(service)
    return as_message(signer, guide.view(guide.GuideState(), snapshot, served, lang))


async def press(service: Service, signer: ButtonSigner, ctx: ChatContext, token: str) -> Press:
    """One press in the guide: checked, then the next step (or the typed line run)."""
    body = signer.unseal(token)
    parsed = None
    lang = await service.lang_of(ctx)
    if body is not None and body.startswith(TOKEN_PREFIX):
        parsed = guide.decode(body[len(TOKEN_PREFIX) :])
    if parsed is None:
        log.info("guided /subscribe press in %s with a token we did not sign", ctx.chat_key)
        return Press(lang._(NOTICE_INVALID), show_alert=True)
    # a shared chat's guide is its admins' (as the typed /subscribe): others may not steer it
    if ctx.kind != "private" and not await ctx.can_manage():
        return Press(lang._("Sorry: %(hint)s.", hint=lang._(ctx.manage_hint)), show_alert=True)
    if parsed.verb == "x":
        return Press(lang._("Cancelled"), edit=as_message(signer, guide.closed(None, lang)))
    if parsed.verb == "g":
        snapshot, served = _market(service)
        step = as_message(signer, guide.view(parsed.state, snapshot, served, lang))
        return Press(lang._(_choice(parsed.state)), edit=step)
    line = guide.typed_line(parsed.state)
    reply = await service.handle_text(ctx, line)
    first = reply.messages[0].title if reply.messages else ""
    return Press(
        first[:190] or lang._("Subscribe"),
        reply=reply,
        edit=as_message(signer, guide.closed(line, lang)),
    )


def _choice(state: guide.GuideState) -> str:
    """The notice of a step's press: the step it led to."""
    return {
        "coin": N_("Coin"),
        "window": N_("Window"),
        "amount": N_("Amount"),
        "side": N_("Side"),
        "confirm": N_("Check and confirm"),
    }[state.step]
