"""Discord's slash commands: each one's options, turned into the command line a user would type
(`/subscribe btc 1h 100m short`) and run through the shared command service. The service does
the parsing; these only declare options, choices, autocompletion and who may use them
(/top and /backtest: discord_insight.py).
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import discord
from discord import app_commands

from bot.chat.discord_insight import Run, register_insight
from bot.domain.chart import CHART_WINDOW_CHOICES
from bot.domain.command_args import VENUES
from bot.domain.command_specs import SPECS
from bot.domain.i18n import NAMES
from bot.domain.market import WINDOW_CHOICES, window_label
from bot.domain.models import ALL, Subscription
from bot.domain.money import format_threshold
from bot.domain.render_common import venue_name

SIDE_CHOICES = ("total", "long", "short")
AUTOCOMPLETE_MAX = 25  # Discord shows at most 25 choices

Subscriptions = Callable[[discord.Interaction], Awaitable[list[Subscription]]]


def _token(value: str | None) -> str:
    """One word of the command line: a typed option may not smuggle in further arguments."""
    return "".join((value or "").split())


def coin_choices(known: Iterable[str], current: str) -> list[app_commands.Choice[str]]:
    """`all` and the known coins matching what is typed so far, prefix matches first."""
    typed = current.strip().upper()
    coins = sorted({c.upper() for c in known if c and c != ALL})
    prefix = [c for c in coins if c.startswith(typed)]
    inner = [c for c in coins if typed and typed in c and not c.startswith(typed)]
    choices: list[app_commands.Choice[str]] = []
    if "ALL".startswith(typed):
        choices.append(app_commands.Choice(name="all (whole market)", value="all"))
    choices += [app_commands.Choice(name=c, value=c.lower()) for c in prefix + inner]
    return choices[:AUTOCOMPLETE_MAX]


def subscription_label(sub: Subscription) -> str:
    coin = "all coins" if sub.coin == ALL else sub.coin
    window = "single" if sub.kind == "single" else window_label(sub.window)
    amount = f"{sub.factor:g}x usual" if sub.factor is not None else format_threshold(sub.threshold)
    on = f" on {venue_name(sub.venue)}" if sub.venue else ""
    return f"#{sub.number or sub.id} {coin} {window} {sub.side.value} ≥ {amount}{on}"


def register_commands(
    tree: app_commands.CommandTree,
    run: Run,
    known_coins: Callable[[], Iterable[str]],
    subscriptions: Subscriptions,
) -> None:
    """Add every slash command to `tree`; each runs its command line through `run`."""
    desc = {name: spec.summary for name, spec in SPECS.items()}
    manage = app_commands.default_permissions(manage_channels=True)
    windows = [app_commands.Choice(name=w, value=w) for w in WINDOW_CHOICES]
    sides = [app_commands.Choice(name=s, value=s) for s in SIDE_CHOICES]

    async def coins(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return coin_choices(known_coins(), current)

    async def own_subscriptions(interaction: discord.Interaction, current: str) -> list[Any]:
        subs = await subscriptions(interaction)
        subs = [s for s in subs if s.origin != "config"]  # the operator's: not removable
        typed = current.strip().lower().lstrip("#")
        out = [
            app_commands.Choice(name=subscription_label(s)[:100], value=str(s.number or s.id))
            for s in subs
            if typed in subscription_label(s).lower()
        ]
        if len(subs) > 1 and "all".startswith(typed):
            out.insert(0, app_commands.Choice(name="all of this chat's alerts", value="all"))
        return out[:AUTOCOMPLETE_MAX]

    venues = [app_commands.Choice(name=venue_name(v), value=v) for v in VENUES]
    single = app_commands.Choice(name="single: each liquidation", value="single")

    @tree.command(name="subscribe", description=desc["subscribe"])
    @app_commands.describe(
        coin="a coin such as btc, or all (leave every option empty for the guided form)",
        window="the rolling window, or single for each big liquidation",
        threshold="an amount such as 100m, 1.5b or 250k (USD), or 3x the usual",
        side="long or short liquidations only, or the total (default)",
        venue="one venue only (default: every venue)",
    )
    @app_commands.choices(window=[*windows, single], side=sides, venue=venues)
    @app_commands.autocomplete(coin=coins)
    @manage
    async def subscribe(
        interaction: discord.Interaction,
        coin: str = "",
        window: str = "",
        threshold: str = "",
        side: str = "total",
        venue: str = "",
    ) -> None:
        if not (coin or window or threshold or venue) and side == "total":
            await run(interaction, "/subscribe")  # nothing given: the guided form
            return
        line = f"/subscribe {_token(coin)} {_token(window)} {_token(threshold)} {_token(side)}"
        await run(interaction, line + (f" on {_token(venue)}" if venue else ""))

    register_insight(tree, run, desc, windows, sides, venues, coins)

    @tree.command(name="unsubscribe", description=desc["unsubscribe"])
    @app_commands.describe(subscription="the alert to remove (its #id), or all")
    @app_commands.autocomplete(subscription=own_subscriptions)
    @manage
    async def unsubscribe(interaction: discord.Interaction, subscription: str) -> None:
        ids = " ".join(_token(w) for w in subscription.replace(",", " ").split())
        await run(interaction, f"/unsubscribe {ids}")

    @tree.command(name="list", description=desc["list"])
    async def list_(interaction: discord.Interaction) -> None:
        await run(interaction, "/list")

    @tree.command(name="mute", description=desc["mute"])
    @app_commands.describe(duration="how long: 30m, 2h, 1d", coin="only this coin's alerts")
    @app_commands.autocomplete(coin=coins)
    @manage
    async def mute(interaction: discord.Interaction, duration: str, coin: str = "") -> None:
        await run(interaction, _line("/mute", coin, duration))

    @tree.command(name="unmute", description=desc["unmute"])
    @app_commands.describe(coin="only this coin's mute (default: every mute)")
    @app_commands.autocomplete(coin=coins)
    @manage
    async def unmute(interaction: discord.Interaction, coin: str = "") -> None:
        await run(interaction, _line("/unmute", coin))

    @tree.command(name="liqs", description=desc["liqs"])
    @app_commands.describe(
        coin="a coin, or all (default)",
        window="one window, split by venue",
        venue="one venue's figures only",
        compare="our streams' totals beside CoinGlass's",
    )
    @app_commands.choices(window=windows, venue=venues)
    @app_commands.autocomplete(coin=coins)
    async def liqs(
        interaction: discord.Interaction,
        coin: str = "",
        window: str = "",
        venue: str = "",
        compare: bool = False,
    ) -> None:
        on = ("on", venue) if venue else ()
        line = _line("/liqs", coin, window, *on, "compare" if compare else "")
        await run(interaction, line)

    chart_windows = [app_commands.Choice(name=w, value=w) for w in CHART_WINDOW_CHOICES]

    @tree.command(name="chart", description=desc["chart"])
    @app_commands.describe(coin="a coin, or all for the whole market", window="default 24h")
    @app_commands.choices(window=chart_windows)
    @app_commands.autocomplete(coin=coins)
    async def chart(interaction: discord.Interaction, coin: str, window: str = "") -> None:
        await run(interaction, _line("/chart", coin, window))

    @tree.command(name="status", description=desc["status"])
    async def status(interaction: discord.Interaction) -> None:
        await run(interaction, "/status")

    @tree.command(name="help", description=desc["help"])
    async def help_(interaction: discord.Interaction) -> None:
        await run(interaction, "/help")

    @tree.command(name="start", description=desc["start"])
    @manage
    async def start(interaction: discord.Interaction) -> None:
        await run(interaction, "/start")

    @tree.command(name="digest", description=desc["digest"])
    @app_commands.describe(
        time="local time of day like 08:00, or off (empty: show this channel's digest)",
        zone="a time zone such as Europe/Berlin (default UTC)",
    )
    @manage
    async def digest(interaction: discord.Interaction, time: str = "", zone: str = "") -> None:
        await run(interaction, _line("/digest", time, zone))

    @tree.command(name="quiet", description=desc["quiet"])
    @app_commands.describe(
        hours="a local window like 23:00-07:00, or off (empty: show this channel's)",
        except_big="escalations and single liquidations still ring",
    )
    @manage
    async def quiet(
        interaction: discord.Interaction, hours: str = "", except_big: bool = False
    ) -> None:
        big = ("except", "big") if except_big and hours.strip().lower() != "off" else ()
        await run(interaction, _line("/quiet", hours, *big))

    languages = [app_commands.Choice(name=f"{NAMES[c]} ({c})", value=c) for c in NAMES] + [
        app_commands.Choice(name="auto (your Discord language in DMs)", value="auto")
    ]

    @tree.command(name="lang", description=desc["lang"])
    @app_commands.describe(language="the chat's language (none: show it)")
    @app_commands.choices(language=languages)
    async def lang(interaction: discord.Interaction, language: str = "") -> None:
        await run(interaction, _line("/lang", language))

    @tree.command(name="test", description=desc["test"])
    @manage
    async def test(interaction: discord.Interaction) -> None:
        await run(interaction, "/test")


def _line(name: str, *args: str) -> str:
    return " ".join([name, *(t for t in map(_token, args) if t)])
