"""What a parsed command is: one frozen dataclass per command, the Command union, and the errors
a parse raises (each carries the correct form and an example, fit for a user)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.chart import DEFAULT_CHART_WINDOW
from bot.domain.digest import DigestCommand
from bot.domain.models import ALL, Side
from bot.domain.quiet import QuietHours


class CommandError(ValueError):
    """A malformed command, with the correct form and an example, fit for a user."""

    def __init__(
        self,
        message: str,
        usage: str = "",
        example: str = "",
        values: dict[str, object] | None = None,
    ) -> None:
        # `message` is the catalogue's msgid (English, maybe with %(name)s from `values`):
        # render_error translates it in the chat's language; .message is the English text
        self.msgid = message
        self.values = values or {}
        text = message % self.values if self.values else message
        super().__init__(text)
        self.message = text
        self.usage = usage
        self.example = example


class NotACommandError(CommandError):
    """Text that starts with a slash but is no command (`/`, `//`, a path). Like another bot's
    command, it is left unanswered in a group; a private chat gets this hint."""


class UnknownCommandError(CommandError):
    """A command we do not have. In a group it may be another bot's: see `addressed`."""

    def __init__(
        self,
        message: str,
        usage: str,
        example: str,
        values: dict[str, object] | None = None,
        *,
        addressed: bool,
    ) -> None:
        super().__init__(message, usage, example, values)
        self.addressed = addressed  # written as /cmd@ourbot


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Subscribe:
    coin: str  # "BTC" ... or ALL
    window: int  # minutes
    threshold: float  # USD (for a relative rule: 0, the factor decides)
    side: Side = Side.TOTAL
    venue: str | None = None  # "binance": that venue only
    single: bool = False  # each single liquidation >= threshold (window is 0)
    factor: float | None = None  # relative: `3x` what is usual for the coin, window and hour


@dataclass(frozen=True, slots=True)
class SubscribeGuide:
    """`/subscribe` alone: the guided form (buttons; bot/domain/subscribe_guide.py)."""


@dataclass(frozen=True, slots=True)
class Backtest:
    """How often a rule would have fired over the stored history, without subscribing."""

    rule: Subscribe


@dataclass(frozen=True, slots=True)
class Top:
    window: int = 60  # minutes


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    ids: tuple[int, ...] = ()
    all: bool = False


@dataclass(frozen=True, slots=True)
class ListSubs:
    pass


@dataclass(frozen=True, slots=True)
class Mute:
    coin: str | None  # None: the whole chat
    seconds: int


@dataclass(frozen=True, slots=True)
class Unmute:
    coin: str | None  # None: every mute of the chat


@dataclass(frozen=True, slots=True)
class Liqs:
    coin: str = ALL
    window: int | None = None  # None: the 1h/4h/12h/24h table
    venue: str | None = None  # one venue's figures only
    compare: bool = False  # our streams' totals beside CoinGlass's (`/liqs compare`)


@dataclass(frozen=True, slots=True)
class Chart:
    coin: str  # "BTC" ... or ALL
    window: int = DEFAULT_CHART_WINDOW  # minutes: one of bot.domain.chart.CHART_BUCKETS


@dataclass(frozen=True, slots=True)
class Status:
    pass


@dataclass(frozen=True, slots=True)
class TestMessage:
    """/test: a test message to this chat, through the outbox like an alert."""


@dataclass(frozen=True, slots=True)
class ExportRules:
    """/export: the chat's rules as text that /import reads."""


@dataclass(frozen=True, slots=True)
class ImportRules:
    """/import: the rules read from pasted text, and the lines that did not read (with why)."""

    rules: tuple[Subscribe, ...] = ()
    unreadable: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SetTz:
    """/tz <zone>: the chat's time zone for every time the bot prints; zone None: show it."""

    zone: str | None = None  # an IANA name, case fixed ("Europe/Berlin"), or "UTC"


@dataclass(frozen=True, slots=True)
class SetQuiet:
    """/quiet 23:00-07:00 [except big]: alerts without sound in that local window; hours None
    with show False: /quiet off; show: /quiet alone, the setting."""

    hours: QuietHours | None = None
    show: bool = False


@dataclass(frozen=True, slots=True)
class SetLang:
    """/lang <code>: the chat's language; None: show it; "auto": back to the default."""

    lang: str | None = None  # a supported code (bot.domain.i18n.SUPPORTED) or "auto"


Command = (
    Start
    | Help
    | Subscribe
    | Unsubscribe
    | ListSubs
    | Mute
    | Unmute
    | Liqs
    | Chart
    | Status
    | DigestCommand
    | TestMessage
    | Top
    | Backtest
    | ExportRules
    | ImportRules
    | SetTz
    | SetLang
    | SubscribeGuide
    | SetQuiet
)
