"""The Discord adapter: slash commands translated to the shared command service, and a Sender.

No command logic lives here. Each slash command becomes the text line a user would type
(`/subscribe btc 1h 100m short`) and goes through the same CommandService as Telegram and the
console (the commands and their options: discord_commands.py); its neutral Reply is rendered as
embeds. In a server, a channel's subscriptions need Manage Channels (declared on the command and
checked again at run time, since server admins can override the declared default); in a DM they
are the user's own.
"""

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import aiohttp
import discord
from discord import app_commands

from bot.chat.alert_buttons import Press, is_button_token
from bot.chat.context import ChatContext
from bot.chat.discord_commands import register_commands
from bot.chat.discord_render import NO_MENTIONS, render_batches
from bot.chat.discord_sender import DiscordSender, attach_image, keyboard_view
from bot.chat.guide_buttons import is_guide_token
from bot.domain.i18n import N_
from bot.domain.message import Message, Reply, Tone
from bot.domain.models import Subscription

log = logging.getLogger(__name__)

MANAGE_HINT = N_(
    "ask someone with the Manage Channels permission, or DM me to get alerts of your own"
)


class Service(Protocol):
    async def handle_text(self, ctx: ChatContext, text: str) -> Reply: ...
    async def press_button(self, ctx: ChatContext, token: str) -> Press: ...


class SubscriptionStore(Protocol):
    async def list_subscriptions(self, chat_key: str) -> list[Subscription]: ...
    async def get_setting(self, key: str) -> str | None: ...
    async def set_setting(self, key: str, value: str) -> None: ...


SYNCED_KEY = "discord.commands.sha256"  # + ":<application id>": the command set last synced
SYNC_RETRY_CAP_S = 3600.0


# ---- chat keys -----------------------------------------------------------------------------


def channel_key(channel_id: int) -> str:
    return f"discord:channel:{channel_id}"


def user_key(user_id: int) -> str:
    return f"discord:user:{user_id}"


def interaction_context(interaction: discord.Interaction) -> ChatContext:
    """Whose chat this is: the server channel (admins manage it) or the user's DM."""
    user = getattr(interaction.user, "display_name", "") or ""
    if interaction.guild_id is None:
        # a DM speaks the user's Discord language until /lang ("ru", "es-ES", "zh-CN")
        language = str(getattr(interaction, "locale", "") or "")
        return ChatContext(
            user_key(interaction.user.id), "discord", kind="private", user=user, language=language
        )
    perms = interaction.permissions

    async def can_manage() -> bool:
        return bool(perms.administrator or perms.manage_channels or perms.manage_guild)

    return ChatContext(
        channel_key(interaction.channel_id or 0),
        "discord",
        kind="channel",  # the store's kind for discord:channel keys; not "private": admins manage
        can_manage=can_manage,
        user=user,
        manage_hint=MANAGE_HINT,
    )


# ---- the bot -------------------------------------------------------------------------------


class _Client(discord.Client):
    """discord.Client with the pause before a re-IDENTIFY as a setting (Discord allows one
    identify per 5 s; tests of a lost session need not wait it out)."""

    def __init__(self, *, reidentify_delay: float, **options: Any) -> None:
        super().__init__(**options)
        self.reidentify_delay = reidentify_delay
        # presses of the buttons under alerts (DiscordBot.on_component)
        self.on_component: Callable[[discord.Interaction], Awaitable[None]] | None = None

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # slash commands go to the command tree; a button's press comes here
        if interaction.type is discord.InteractionType.component and self.on_component:
            try:
                await self.on_component(interaction)
            except Exception:
                log.exception("discord: a button press failed")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial:
            await asyncio.sleep(self.reidentify_delay)


class DiscordBot:
    """A discord.py client with the service's slash commands, in the caller's event loop."""

    def __init__(
        self,
        token: str,
        service: Service,
        db: SubscriptionStore,
        known_coins: Callable[[], Iterable[str]],
        *,
        guild_ready_timeout: float = 2.0,
        max_ratelimit_timeout: float = 10.0,
        ready_timeout: float = 60.0,
        defer_after: float = 2.0,
        reidentify_delay: float = 5.0,
        sync_retry_s: float = 60.0,
    ) -> None:
        self.token = token
        self.service = service
        self.db = db
        self.known_coins = known_coins
        self.ready_timeout = ready_timeout
        self.defer_after = defer_after
        # Slash commands need no privileged intent; `guilds` keeps channels and permissions known.
        self.client = _Client(
            reidentify_delay=reidentify_delay,
            intents=discord.Intents(guilds=True),
            guild_ready_timeout=guild_ready_timeout,
            # a longer 429 surfaces as RateLimited, so delivery can retry later instead of blocking
            max_ratelimit_timeout=max_ratelimit_timeout,
            allowed_mentions=NO_MENTIONS,
        )
        self.tree = app_commands.CommandTree(self.client)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self._task: asyncio.Task[None] | None = None
        self.sync_retry_s = sync_retry_s  # first wait after a failed sync; doubles to an hour
        self._sync_not_before_s = 0.0  # a 429's retry_after for the next sync attempt
        self._sleep = asyncio.sleep  # how the sync loop waits (a test records the waits)
        self._sync_task: asyncio.Task[None] | None = None
        self.sender = DiscordSender(self.client)  # the delivery port, usable once logged in
        register_commands(self.tree, self._run, known_coins, self._subscriptions)
        self.client.on_component = self.on_component

    # ---- lifecycle

    async def start(self) -> None:
        """Log in, connect in a background task, wait until ready, then publish the commands."""
        await self.client.login(self.token)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")
        self._task.add_done_callback(_connection_ended)
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._task, ready}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raise what stopped the connection (bad token, intents)
            raise TimeoutError("Discord gateway not ready in time")
        log.info("discord: connected as %s", self.client.user)
        # In the background: discord.py sleeps through a 429 of up to 30 s itself, and a
        # command menu is never a reason to hold up (or fail) start-up.
        self._sync_task = asyncio.create_task(self._keep_in_sync(), name="discord-sync")

    # ---- the command menu: synced when it changed, never fatal

    def commands_digest(self) -> str:
        """A hash of the command set as Discord would receive it (names, options, permissions)."""
        cmds = sorted((c.to_dict(self.tree) for c in self.tree.get_commands()), key=str)
        return hashlib.sha256(json.dumps(cmds, sort_keys=True).encode()).hexdigest()

    async def sync_commands(self) -> bool:
        """PUT the command set if it differs from the last one synced; True when in sync.

        Discord rate-limits command syncs (a 429 at start-up used to stop the whole service):
        an unchanged set is not sent again, and a failure is a warning, retried later."""
        key = f"{SYNCED_KEY}:{self.client.application_id}"
        digest = self.commands_digest()
        if await self.db.get_setting(key) == digest:
            log.info("discord: command set unchanged since the last sync; not syncing")
            return True
        try:
            synced = await self.tree.sync()
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("discord: command sync failed (%s); will retry", _describe(exc))
            if isinstance(exc, discord.RateLimited):  # Discord said when: not before that
                self._sync_not_before_s = exc.retry_after
            return False
        await self.db.set_setting(key, digest)
        log.info("discord: %d commands synced", len(synced))
        return True

    async def _keep_in_sync(self) -> None:
        delay = self.sync_retry_s
        while True:
            self._sync_not_before_s = 0.0
            try:
                if await self.sync_commands():
                    return
            except Exception:  # the store failing, say: keep the bot up, try again later
                log.exception("discord: command sync attempt failed")
            # our backoff, or Discord's own retry_after when it is longer
            await self._sleep(max(delay, self._sync_not_before_s))
            delay = min(delay * 2, SYNC_RETRY_CAP_S)

    async def wait_synced(self) -> None:
        """Until the command set is in sync (tests; start-up never waits for it)."""
        if self._sync_task is not None:
            await asyncio.shield(self._sync_task)

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)
            self._sync_task = None
        await self.client.close()
        if self._task is not None:
            try:
                await self._task
            except Exception:  # closing: whatever the connection died of no longer matters
                log.debug("discord: connection task ended with an error", exc_info=True)
            self._task = None

    # ---- commands (declared in discord_commands.py)

    async def _subscriptions(self, interaction: discord.Interaction) -> list[Subscription]:
        return await self.db.list_subscriptions(interaction_context(interaction).chat_key)

    async def _run(self, interaction: discord.Interaction, line: str) -> None:
        work = asyncio.ensure_future(
            self.service.handle_text(interaction_context(interaction), line)
        )
        # Discord drops an interaction not answered within 3 s: if the service is slow (a busy
        # database), acknowledge now and send the reply as a followup when it is ready.
        done, _ = await asyncio.wait({work}, timeout=self.defer_after)
        if not done:
            await interaction.response.defer(thinking=True)
        await respond(interaction, await work)

    async def on_component(self, interaction: discord.Interaction) -> None:
        """A press of a button under an alert: the same command service as /mute, /chart ...
        The command's reply goes to the channel; a refusal only to the presser (ephemeral)."""
        data: Any = interaction.data or {}
        token = str(data.get("custom_id", ""))
        guide = is_guide_token(token)  # the guided /subscribe: its message is edited
        if not (guide or is_button_token(token)):
            return  # not one of ours
        work = asyncio.ensure_future(
            self.service.press_button(interaction_context(interaction), token)
        )
        done, _ = await asyncio.wait({work}, timeout=self.defer_after)
        if not done:  # a guide's step edits its message: acknowledged as an update
            await (
                interaction.response.defer() if guide else interaction.response.defer(thinking=True)
            )
        result = await work
        if result.show_alert or not (result.reply.messages or result.edit):
            notice = Message(result.notice, tone=Tone.ERROR, ephemeral=True)
            await respond(interaction, Reply.of(notice))
            return
        if result.edit is not None:
            await edit_in_place(interaction, result.edit)
            if not result.reply.messages:
                return
        await respond(interaction, result.reply)

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("discord: command failed", exc_info=error)
        oops = Message("Something went wrong", ("Please try again in a moment.",), tone=Tone.ERROR)
        # an autocomplete cannot carry a message; a command answered already keeps its answer
        command = interaction.type is discord.InteractionType.application_command
        if command and not interaction.response.is_done():
            await respond(interaction, Reply.of(dataclasses.replace(oops, ephemeral=True)))


def _connection_ended(task: asyncio.Task[None]) -> None:
    # discord.py reconnects by itself; it gives up only on what needs a human (a revoked token)
    if not task.cancelled() and task.exception() is not None:
        log.error("discord: gateway connection ended for good: %r", task.exception())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, discord.RateLimited):
        return f"rate limited for {exc.retry_after:.0f}s"
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}"
    return type(exc).__name__


async def edit_in_place(interaction: discord.Interaction, msg: Message) -> None:
    """The pressed message becomes `msg` (its first embeds; no keyboard removes the buttons)."""
    embeds = render_batches(msg)[0]
    view = keyboard_view(msg.keyboard) if msg.keyboard else None
    if not interaction.response.is_done():
        await interaction.response.edit_message(embeds=embeds, view=view)
    else:  # deferred: the original response is the pressed message
        await interaction.edit_original_response(embeds=embeds, view=view)


async def respond(interaction: discord.Interaction, reply: Reply) -> None:
    """Send a Reply: the first message answers the interaction, the rest are followups."""
    messages = list(reply.messages) or [Message("Done")]
    first = not interaction.response.is_done()  # deferred: everything goes as followups
    for msg in messages:
        batches = render_batches(msg)
        for i, batch in enumerate(batches):
            extra: dict[str, Any] = {}
            if i == 0 and msg.image is not None:
                extra["file"] = attach_image(msg, batch[0])
            if msg.keyboard and i == len(batches) - 1:  # buttons under the message's end
                extra["view"] = keyboard_view(msg.keyboard)
            if first:
                await interaction.response.send_message(
                    embeds=batch, ephemeral=msg.ephemeral, allowed_mentions=NO_MENTIONS, **extra
                )
                first = False
            else:
                await interaction.followup.send(
                    embeds=batch, ephemeral=msg.ephemeral, allowed_mentions=NO_MENTIONS, **extra
                )
