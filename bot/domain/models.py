"""The shared vocabulary of the service: plain, immutable data with no behaviour beyond itself.

Every layer speaks these types; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.source_fault import Fault

ALL = "ALL"  # the whole market, used where a coin is expected


class Side(StrEnum):
    """`long`: a long position was liquidated (forced sell); `short`: a short (forced buy)."""

    LONG = "long"
    SHORT = "short"
    TOTAL = "total"  # only for subscriptions and views, never on an event


class Status(StrEnum):
    ARMED = "armed"
    FIRED = "fired"


class AlertKind(StrEnum):
    FIRED = "fired"
    ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One normalized liquidation: what every venue parser produces."""

    venue: str  # "binance", "bybit", "okx", "coinglass", "replay" ...
    coin: str  # base asset, upper case: "BTC", "PEPE"
    side: Side  # LONG or SHORT, never TOTAL
    usd: float
    ts_ms: int  # event time, milliseconds since the epoch (UTC)
    symbol: str = ""  # the venue's contract, for logs ("BTCUSDT", "BTC-USDT-SWAP")
    price: float = 0.0  # the fill (or bankruptcy) price, for single-liquidation alerts; 0: unknown


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    chat_key: str  # "console:local", "telegram:123", "discord:channel:456", "discord:user:789"
    coin: str  # "BTC" ... or ALL
    window: int  # minutes: 5, 15, 30, 60, 120, 240, 720, 1440
    side: Side  # LONG, SHORT or TOTAL
    threshold: float  # USD
    created_ms: int = 0
    origin: str = "user"  # "user" or "config" (declared broadcast)
    number: int = 0  # the chat's own number for it (#1, #2 ...), what people see; 0: none yet
    venue: str | None = None  # one venue only ("binance"); None: every venue
    kind: str = "window"  # "window": a window sum; "single": each liquidation >= threshold
    factor: float | None = None  # relative: fires at factor x the usual sum (threshold derived)
    thread: int | None = None  # the Telegram forum topic it alerts into; None: the chat itself


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where one subscription stands in its alert lifecycle (persisted).

    armed --(value >= threshold)--> fired(level 1) --(value >= threshold * 2**level)--> level+1 ...
    fired --(value < rearm_ratio * threshold, complete data, quiet time passed)--> armed
    """

    sub_id: int
    status: Status = Status.ARMED
    level: int = 0  # 0 while armed; n after firing at threshold * 2**(n-1)
    episode: int = 0  # how many times it has fired from armed; names the episode for dedupe
    fired_ms: int | None = None  # when the current episode fired (start of the quiet time)
    last_alert_ms: int | None = None  # when the latest alert of this episode went out


@dataclass(frozen=True, slots=True)
class VenueSplit:
    venue: str
    longs: float
    shorts: float

    @property
    def total(self) -> float:
        return self.longs + self.shorts


@dataclass(frozen=True, slots=True)
class Alert:
    """What the rules engine emits; rendered into a message at delivery time."""

    sub: Subscription
    kind: AlertKind
    value: float  # the window sum on the subscription's side
    level: int
    episode: int
    as_of_ms: int  # the time the window ends
    longs: float
    shorts: float
    venues: tuple[VenueSplit, ...] = ()  # biggest first
    sources: tuple[str, ...] = ()
    sampled: bool = True  # exchange streams: the sum is a floor
    gaps: tuple[str, ...] = ()  # human notes: "bybit down 14:02–14:05 UTC"


@dataclass(frozen=True, slots=True)
class Transition:
    """One subscription's state change, with the alert it produces (if any)."""

    sub_id: int
    old: AlertState
    new: AlertState
    alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class WindowTotals:
    longs: float
    shorts: float

    @property
    def total(self) -> float:
        return self.longs + self.shorts

    def side(self, side: Side) -> float:
        if side is Side.LONG:
            return self.longs
        if side is Side.SHORT:
            return self.shorts
        return self.longs + self.shorts


@dataclass(frozen=True)
class Snapshot:
    """The rolling sums every subscription needs, at one moment.

    `totals[(coin, window)]` holds the sums for coins that had any liquidation; ALL is always
    present for every served window when data exists. A window that no source can serve (or whose
    sources are all down) is absent from `served_windows`: its value is unknown, not zero.
    `complete_windows` are those with no gap in any enabled source over the whole window: only
    those may re-arm an alert.
    """

    as_of_ms: int
    totals: dict[tuple[str, int], WindowTotals] = field(default_factory=dict)
    venues: dict[tuple[str, int], tuple[VenueSplit, ...]] = field(default_factory=dict)
    served_windows: frozenset[int] = frozenset()
    complete_windows: frozenset[int] = frozenset()
    sources: tuple[str, ...] = ()
    sampled: bool = True
    gaps: tuple[str, ...] = ()
    past_gaps: tuple[str, ...] = ()  # the ended ones among `gaps` (a current one is said apart)

    def value(self, coin: str, window: int, side: Side) -> float | None:
        """The window sum, 0.0 for a served window with no liquidation, None when unknown."""
        if window not in self.served_windows:
            return None
        t = self.totals.get((coin, window))
        return 0.0 if t is None else t.side(side)

    def window_totals(self, coin: str, window: int) -> WindowTotals | None:
        if window not in self.served_windows:
            return None
        return self.totals.get((coin, window), WindowTotals(0.0, 0.0))


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one data source stands, for /status, /liqs footers and alert notes."""

    name: str  # "binance", "bybit", "okx", "coinglass", "replay"
    state: str  # "up", "down", "connecting", "disabled"
    since_ms: int | None = None  # when it entered this state
    last_data_ms: int | None = None  # the newest event or poll it delivered
    events: int = 0  # events (or successful polls) since start
    skipped: int = 0  # malformed or unknown frames skipped
    note: str = ""  # the detail of why it is down, for the log (never a secret)
    gaps: tuple[str, ...] = ()  # recent ended outages: "down 14:02–14:05 UTC"
    fault: Fault | None = None  # why it is not delivering: what every answer renders
    rejected: int = 0  # well-formed events with an absurd amount (bot.domain.event_checks)
    rejected_by: tuple[tuple[str, int], ...] = ()  # (reason, count)
