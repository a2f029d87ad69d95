"""Discord's sending side: the delivery Sender and what each Discord answer means for it."""

import io
import logging
from typing import Any

import aiohttp
import discord

from bot.chat.alert_buttons import ButtonSigner
from bot.chat.discord_render import NO_MENTIONS, render_batches
from bot.domain.i18n import EN, Lang
from bot.domain.message import Message
from bot.locale import get_lang
from bot.runtime.delivery import SendOutcome

log = logging.getLogger(__name__)


def parse_chat_key(chat_key: str) -> tuple[str, int]:
    """("channel"|"user", id) from `discord:channel:<id>`, `discord:user:<id>` or the config's
    broadcast form `discord:<channel id>`. Raises ValueError for anything else."""
    parts = chat_key.split(":")
    if parts[0] != "discord" or len(parts) not in (2, 3):
        raise ValueError(f"not a Discord chat key: {chat_key!r}")
    kind = parts[1] if len(parts) == 3 else "channel"
    if kind not in ("channel", "user") or not parts[-1].isdigit():
        raise ValueError(f"not a Discord chat key: {chat_key!r}")
    return kind, int(parts[-1])


def attach_image(msg: Message, embed: discord.Embed) -> discord.File:
    """The message's picture as an upload, shown inside `embed` (attachment://name)."""
    assert msg.image is not None
    name = msg.image_name or "chart.png"
    embed.set_image(url=f"attachment://{name}")
    return discord.File(io.BytesIO(msg.image), filename=name)


# Discord's JSON error codes that mean "this target will not work until someone acts"
PERMANENT_CODES = {
    10003: "Unknown Channel",
    10013: "Unknown User",
    50001: "Missing Access",
    50007: "Cannot send messages to this user (DMs closed)",
    50013: "Missing Permissions",
}


TOKEN_RETRY_S = 300.0  # a rejected token is not fixed in seconds


def alert_view(signer: ButtonSigner, sub_id: int, lang: Lang = EN) -> discord.ui.View:
    """The buttons under an alert, as message components: each custom_id is a signed token
    (alert_buttons). Presses arrive as component interactions (DiscordBot.on_component)."""
    view = discord.ui.View(timeout=None)
    for i, (label, token) in enumerate(signer.buttons(sub_id, lang)):
        style = discord.ButtonStyle.danger if i == 2 else discord.ButtonStyle.secondary  # Unsub.
        view.add_item(discord.ui.Button(label=label, custom_id=token, style=style, row=i // 3))
    return view


class _Static(discord.ui.View):
    """Buttons drawn, not dispatched by discord.py: their presses come to the command service
    (DiscordBot.on_component), so the view is never kept in discord.py's view store."""

    def is_dispatchable(self) -> bool:
        return False


def keyboard_view(rows: tuple[tuple[tuple[str, str], ...], ...]) -> discord.ui.View:
    """A message's own buttons (Message.keyboard: rows of label, token) as components."""
    view = _Static(timeout=None)
    for i, row in enumerate(rows[:5]):  # Discord: 5 rows of 5 buttons
        for label, token in row[:5]:
            style = discord.ButtonStyle.primary if label == "Subscribe" else None
            view.add_item(
                discord.ui.Button(
                    label=label,
                    custom_id=token,
                    style=style or discord.ButtonStyle.secondary,
                    row=i,
                )
            )
    return view


class DiscordSender:
    """bot.runtime.delivery.Sender for `discord:channel:<id>`, `discord:user:<id>` and `discord:<id>`."""

    platform = "discord"

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._dms: dict[int, discord.abc.Messageable] = {}
        self.token_rejected = False  # the last send got a 401: the operator must act
        # signs the buttons under alerts (the app sets it from the store's key); None: no buttons
        self.buttons: ButtonSigner | None = None

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        try:
            kind, target = parse_chat_key(chat_key)
        except ValueError as exc:
            return SendOutcome.permanent(str(exc))
        if self.client.http.token is None:  # before login (or after a failed one)
            return SendOutcome.retry(5.0, "discord: not logged in yet")
        try:
            channel = await self._channel(kind, target)
            batches = render_batches(message)
            for i, batch in enumerate(batches):
                extra: dict[str, Any] = {}
                if i == 0 and message.image is not None:
                    extra["file"] = attach_image(message, batch[0])
                view = None
                if i == len(batches) - 1 and message.buttons is not None and self.buttons:
                    view = alert_view(self.buttons, message.buttons, get_lang(message.lang))
                    extra["view"] = view
                try:
                    await channel.send(
                        embeds=batch,
                        allowed_mentions=NO_MENTIONS,
                        silent=message.silent is True,  # quiet hours: SUPPRESS_NOTIFICATIONS
                        **extra,
                    )
                finally:
                    if view is not None:  # presses go to on_component, not to a stored view
                        view.stop()
        except discord.RateLimited as exc:  # longer than the client is willing to wait
            return SendOutcome.retry(exc.retry_after, "rate limited")
        except discord.HTTPException as exc:
            if exc.status == 401:
                return self._token_refused()
            return _http_outcome(exc)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return SendOutcome.retry(0.0, f"network: {exc.__class__.__name__}")
        except Exception as exc:  # never raise into the delivery loop
            log.exception("discord: unexpected send failure to %s", chat_key)
            return SendOutcome.retry(0.0, f"unexpected: {exc.__class__.__name__}")
        if self.token_rejected:
            self.token_rejected = False
            log.warning("discord: the bot token is accepted again; alerts flow")
        return SendOutcome.sent()

    def _token_refused(self) -> SendOutcome:
        """401: the bot's token (revoked, reset), not this chat. No chat is paused; the row
        is retried later, and the operator hears of it once until a send works again."""
        if not self.token_rejected:
            self.token_rejected = True
            log.error(
                "discord: the bot token was REJECTED (401): alerts are held and retried; "
                "set a valid DISCORD_BOT_TOKEN and restart"
            )
        return SendOutcome.retry(TOKEN_RETRY_S, "discord token rejected (401)")

    async def _channel(self, kind: str, target: int) -> discord.abc.Messageable:
        if kind == "channel":
            return self.client.get_partial_messageable(target)
        dm = self._dms.get(target)
        if dm is None:
            dm = await self.client.create_dm(discord.Object(target))
            self._dms[target] = dm
        return dm


def _http_outcome(exc: discord.HTTPException) -> SendOutcome:
    reason = f"{exc.status} {PERMANENT_CODES.get(exc.code, exc.text or 'error')} ({exc.code})"
    if exc.code in PERMANENT_CODES or exc.status in (403, 404):
        return SendOutcome.permanent(reason)
    if exc.status == 429:  # a 429 the client would not retry (no Via header: Cloudflare)
        return SendOutcome.retry(_retry_after(exc), reason)
    # 5xx, and 4xx we cannot explain: retry, and let delivery give up without pausing the chat
    return SendOutcome.retry(0.0, reason)


def _retry_after(exc: discord.HTTPException) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", 0) or 0)
    except ValueError:
        return 0.0
