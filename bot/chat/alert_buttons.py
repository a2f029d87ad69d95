"""Buttons under alerts (Telegram inline keyboards, Discord components): signed tokens and the
presses, which run as the typed commands through the one CommandService.

A button carries a token, never a bare rule id: `lq1.<action>.<subscription id>.<signature>`,
the signature an HMAC-SHA256 (truncated) with a key made once and kept in the store's kv table,
so the buttons of alerts sent before a restart keep working and a forged or edited token is
refused. Telegram's callback_data holds at most 64 bytes, Discord's custom_id 100: a token is
about 35.

The alert's text is untouched: the message carries only an `AlertButtons` reference (the rule
and its coin), and each adapter draws the buttons when it sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.chat.context import ChatContext
from bot.domain.i18n import EN, N_, Lang
from bot.domain.message import Message, Reply

if TYPE_CHECKING:
    from bot.domain.models import Subscription

log = logging.getLogger(__name__)

KEY_SETTING = "buttons.hmac_key"
PREFIX = "lq1"
SIG_BYTES = 12  # 96 bits of signature: 16 characters of base64url


@dataclass(frozen=True)
class Action:
    code: str  # one letter in the token
    label: str
    changes_rules: bool  # needs the admin check in groups and channels


ACTIONS: tuple[Action, ...] = (
    Action("m", N_("Mute 1h"), True),
    Action("d", N_("Mute 24h"), True),
    Action("u", N_("Unsubscribe"), True),
    Action("c", N_("Chart"), False),
    Action("l", N_("Details"), False),
)
_BY_CODE = {a.code: a for a in ACTIONS}

NOTICE_INVALID = N_(
    "This button is not valid (it may be from another bot). Type the command instead."
)
NOTICE_GONE = N_("This alert's rule was removed.")


class Store(Protocol):
    async def get_setting(self, key: str) -> str | None: ...
    async def set_setting(self, key: str, value: str) -> None: ...


class Service(Protocol):
    db: Any

    async def handle_text(self, ctx: ChatContext, text: str) -> Reply: ...
    async def lang_of(self, ctx: ChatContext) -> Lang: ...


class ButtonSigner:
    """Makes and checks button tokens with the store's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("button key too short")
        self._key = key

    @classmethod
    async def load(cls, db: Store) -> ButtonSigner:
        """The store's key, made on first use (kept across restarts)."""
        raw = await db.get_setting(KEY_SETTING)
        if raw is None:
            await db.set_setting(KEY_SETTING, secrets.token_hex(32))
            raw = await db.get_setting(KEY_SETTING)  # a replica may have written it first
            assert raw is not None
            log.info("buttons: made a new signing key")
        return cls(bytes.fromhex(raw))

    def _sig(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:SIG_BYTES]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def token(self, action: Action, sub_id: int) -> str:
        body = f"{PREFIX}.{action.code}.{sub_id:x}"
        return f"{body}.{self._sig(body)}"

    def seal(self, body: str) -> str:
        """`body.<signature>`: any other button's token (the guided /subscribe's), same key."""
        return f"{body}.{self._sig(body)}"

    def unseal(self, token: str) -> str | None:
        """The body of a token `seal` made; None when the signature does not match."""
        body, dot, sig = token.rpartition(".")
        if not dot or not hmac.compare_digest(sig.encode(), self._sig(body).encode()):
            return None
        return body

    def parse(self, token: str) -> tuple[Action, int] | None:
        """(action, subscription id) of a token we signed; None for anything else."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3].encode(), self._sig(body).encode()):
            return None
        action = _BY_CODE.get(parts[1])
        try:
            sub_id = int(parts[2], 16)
        except ValueError:
            return None
        return (action, sub_id) if action is not None else None

    def buttons(self, sub_id: int, lang: Lang = EN) -> list[tuple[str, str]]:
        """(label, token) of every button under an alert of this rule, in order; the labels
        in `lang` (the alert's)."""
        return [(lang._(a.label), self.token(a, sub_id)) for a in ACTIONS]


def is_button_token(data: str) -> bool:
    return data.startswith(PREFIX + ".")


@dataclass(frozen=True)
class Press:
    """A press's outcome: the short notice (answerCallbackQuery / an ephemeral reply), whether
    it is shown as an alert box, and the command's reply for the chat (empty when refused)."""

    notice: str
    show_alert: bool = False
    reply: Reply = field(default_factory=Reply)
    answered: bool = False  # the notice went already (`early`)
    # the pressed message's new content (the guided /subscribe's next step), edited in place
    edit: Message | None = None


def command_line(action: Action, sub: Subscription) -> str:
    """The typed command a button stands for."""
    coin = sub.coin.lower()
    match action.code:
        case "m":
            return f"/mute {coin} 1h"
        case "d":
            return f"/mute {coin} 24h"
        case "u":
            return f"/unsubscribe {sub.number or sub.id}"
        case "c":
            return f"/chart {coin}"
        case _:
            return f"/liqs {coin}"


async def press(
    service: Service,
    signer: ButtonSigner,
    ctx: ChatContext,
    token: str,
    early: Callable[[str], Awaitable[None]] | None = None,
) -> Press:
    """One button press in the chat of `ctx`: checked, then run as the typed command.

    `early` (Telegram's answerCallbackQuery): for a button that only looks (Chart, Details; a
    chart takes a moment to draw) the notice goes before the command runs; the Press returned
    then has `answered` set."""
    parsed = signer.parse(token)
    lang = await service.lang_of(ctx)
    if parsed is None:
        log.info("button press in %s with a token we did not sign", ctx.chat_key)
        return Press(lang._(NOTICE_INVALID), show_alert=True)
    action, sub_id = parsed
    subs = await service.db.list_subscriptions(ctx.chat_key)  # the chat's own only
    sub = next((s for s in subs if s.id == sub_id), None)
    if sub is None:
        return Press(lang._(NOTICE_GONE), show_alert=True)
    if action.code == "u" and sub.origin == "config":
        return Press(
            lang._("This alert is the operator's broadcast: it cannot be unsubscribed here."),
            True,
        )
    if action.changes_rules and ctx.kind != "private" and not await ctx.can_manage():
        return Press(lang._("Sorry: %(hint)s.", hint=lang._(ctx.manage_hint)), show_alert=True)
    if early is not None and not action.changes_rules:
        await early(f"{lang._(action.label)}: {sub.coin}")
        reply = await service.handle_text(ctx, command_line(action, sub))
        return Press(_notice(action, reply, lang), reply=reply, answered=True)
    reply = await service.handle_text(ctx, command_line(action, sub))
    return Press(_notice(action, reply, lang), reply=reply)


def _notice(action: Action, reply: Reply, lang: Lang = EN) -> str:
    first: Message | None = reply.messages[0] if reply.messages else None
    if first is not None and first.title:
        return first.title[:190]  # answerCallbackQuery takes 200 characters
    return lang._(action.label)
