"""Discord slash commands for /top and /backtest: options in, the same command line as typed
text out, through the one command service (discord_commands.py registers the others)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import app_commands

Run = Callable[[discord.Interaction, str], Awaitable[None]]


def _word(value: str | None) -> str:
    return "".join((value or "").split())  # one option is one word of the command line


def register_insight(
    tree: app_commands.CommandTree,
    run: Run,
    desc: dict[str, str],
    windows: list[app_commands.Choice[str]],
    sides: list[app_commands.Choice[str]],
    venues: list[app_commands.Choice[str]],
    coins: Callable[
        [discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]
    ],
) -> None:
    @tree.command(name="top", description=desc["top"])
    @app_commands.describe(window="the window (default 1h)")
    @app_commands.choices(window=windows)
    async def top(interaction: discord.Interaction, window: str = "") -> None:
        await run(interaction, f"/top {_word(window)}".strip())

    @tree.command(name="backtest", description=desc["backtest"])
    @app_commands.describe(
        coin="a coin such as btc, or all for the whole market",
        window="the rolling window",
        threshold="an amount such as 100m, or 3x the usual",
        side="long or short only, or the total (default)",
        venue="one venue only (default: every venue)",
    )
    @app_commands.choices(window=windows, side=sides, venue=venues)
    @app_commands.autocomplete(coin=coins)
    async def backtest(
        interaction: discord.Interaction,
        coin: str,
        window: str,
        threshold: str,
        side: str = "total",
        venue: str = "",
    ) -> None:
        line = f"/backtest {_word(coin)} {_word(window)} {_word(threshold)} {_word(side)}"
        await run(interaction, line + (f" on {_word(venue)}" if venue else ""))
