"""The guided /subscribe: `/subscribe` alone offers coin, window, amount and side as buttons,
then the typed line it will run, with Subscribe and Cancel.

Pure: the state of a guide lives in its buttons, never in memory. Each button carries a short
body (`gBTC_3c`), which the chat layer signs into a token (`lg1.<body>.<signature>`,
bot/chat/guide_buttons.py) so that a press after a restart still works and an edited one is
refused. A body is a verb and the choices so far:

    g                 show the coin step            y<coin>_<w><a><s>   subscribe
    gBTC              the window step               x                   cancel
    gBTC_3            the amount step (window 3 = 1h in GUIDE_WINDOWS' code)
    gBTC_3c           the side step (amount c = the 1-2-5 ladder's 12th rung, $10M)
    gBTC_3cl          the confirmation (side l = longs)

The final press runs `typed_line(state)` through the command service, so the confirmation, the
backtest, the duplicate check and the admin check are exactly the typed form's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import window_label
from bot.domain.models import ALL, Side, Snapshot
from bot.domain.money import MAX_THRESHOLD, format_threshold, format_usd
from bot.domain.rule_export import amount_text

PREFIX = "lg1"
# the coins offered when the market has no 24 h totals yet
FIXED_COINS: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "SUI", "HYPE")
TOP_COINS = len(FIXED_COINS)
# the common windows, as the grammar reads them; each a one-character code in a body
GUIDE_WINDOWS: tuple[int, ...] = (5, 15, 60, 240, 720, 1440)
_WINDOW_CODE = {w: str(i) for i, w in enumerate(GUIDE_WINDOWS)}
SIDES: tuple[tuple[str, Side, str], ...] = (
    ("l", Side.LONG, N_("Longs")),
    ("s", Side.SHORT, N_("Shorts")),
    ("t", Side.TOTAL, N_("Both")),
)
_SIDE_BY_CODE = {code: side for code, side, _ in SIDES}
_CODE_BY_SIDE = {side: code for code, side, _ in SIDES}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
AMOUNT_CHOICES = 6
# the 1-2-5 ladder from $1K (the grammar's smallest amount) to $1T (its largest)
LADDER: tuple[float, ...] = tuple(
    float((1, 2, 5)[n % 3] * 10 ** (n // 3 + 3))
    for n in range(len(_DIGITS))
    if (1, 2, 5)[n % 3] * 10 ** (n // 3 + 3) <= MAX_THRESHOLD
)
_FIXED_AMOUNTS = (9, 14)  # $1M .. $50M when nothing is known of the coin
_FIXED_AMOUNTS_ALL = (12, 17)  # $10M .. $500M for the whole market
_COIN = re.compile(r"^[A-Z0-9]{1,20}$")
_BODY = re.compile(r"^(?P<verb>[gyx])(?P<coin>[A-Z0-9]{1,20})?(?:_(?P<rest>[0-9a-z]{1,3}))?$")


@dataclass(frozen=True, slots=True)
class GuideState:
    """The choices made so far; each later one needs the earlier ones."""

    coin: str | None = None
    window: int | None = None
    amount: int | None = None  # an index into LADDER
    side: Side | None = None

    @property
    def step(self) -> str:
        if self.coin is None:
            return "coin"
        if self.window is None:
            return "window"
        if self.amount is None:
            return "amount"
        if self.side is None:
            return "side"
        return "confirm"

    def back(self) -> GuideState:
        """The state one step earlier."""
        match self.step:
            case "confirm":
                return replace(self, side=None)
            case "side":
                return replace(self, amount=None)
            case "amount":
                return replace(self, window=None)
            case _:
                return GuideState()


@dataclass(frozen=True, slots=True)
class Press:
    """What a body asks for: show a step, subscribe, or cancel."""

    verb: str  # "g" show, "y" subscribe, "x" cancel
    state: GuideState


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    body: str  # unsigned: the chat layer signs it into a token


@dataclass(frozen=True, slots=True)
class GuideView:
    """One step as text and rows of buttons (the adapters draw them)."""

    title: str
    lines: tuple[str, ...]
    rows: tuple[tuple[Button, ...], ...]


def encode(verb: str, state: GuideState) -> str:
    """The body of a button: the verb and the choices so far."""
    if state.coin is None:
        return verb
    rest = ""
    if state.window is not None:
        rest += _WINDOW_CODE[state.window]
        if state.amount is not None:
            rest += _DIGITS[state.amount]
            if state.side is not None:
                rest += _CODE_BY_SIDE[state.side]
    return f"{verb}{state.coin}" + (f"_{rest}" if rest else "")


def decode(body: str) -> Press | None:
    """A body back to its verb and state; None for anything `encode` never writes."""
    m = _BODY.match(body)
    if m is None:
        return None
    verb, coin, rest = m.group("verb"), m.group("coin"), m.group("rest") or ""
    if coin is None:
        return Press(verb, GuideState()) if verb in "gx" and not rest else None
    state = GuideState(coin)
    if rest:
        if not rest[0].isdigit() or int(rest[0]) >= len(GUIDE_WINDOWS):
            return None
        state = replace(state, window=GUIDE_WINDOWS[int(rest[0])])
    if len(rest) >= 2:
        amount = _DIGITS.index(rest[1])
        if amount >= len(LADDER):
            return None
        state = replace(state, amount=amount)
    if len(rest) == 3:
        side = _SIDE_BY_CODE.get(rest[2])
        if side is None:
            return None
        state = replace(state, side=side)
    if verb == "y" and state.step != "confirm":
        return None
    if verb == "x" or encode(verb, state) != body:  # only what encode writes
        return None
    return Press(verb, state)


def typed_line(state: GuideState) -> str:
    """The typed /subscribe a complete state stands for: `/subscribe btc 1h 10m longs`."""
    assert state.coin and state.window and state.amount is not None and state.side
    coin = "all" if state.coin == ALL else state.coin.lower()
    parts = ["/subscribe", coin, window_label(state.window), amount_text(LADDER[state.amount])]
    if state.side is not Side.TOTAL:
        parts.append(f"{state.side.value}s")
    return " ".join(parts)


def top_coins(snapshot: Snapshot | None, n: int = TOP_COINS) -> tuple[str, ...]:
    """The coins with the most liquidated in 24 h, topped up from FIXED_COINS to `n`."""
    ranked: list[str] = []
    if snapshot is not None and 1440 in snapshot.served_windows:
        totals = [
            (t.total, coin)
            for (coin, w), t in snapshot.totals.items()
            if w == 1440 and coin != ALL and t.total > 0 and _COIN.match(coin)
        ]
        ranked = [coin for _, coin in sorted(totals, key=lambda r: (-r[0], r[1]))]
    out = list(dict.fromkeys(ranked[:n]))
    out += [c for c in FIXED_COINS if c not in out]
    return tuple(out[:n])


def usual_total(snapshot: Snapshot | None, coin: str, window: int) -> float | None:
    """What a `window` usually holds of the coin: its last 24 h spread evenly; None unknown."""
    if snapshot is None:
        return None
    day = snapshot.value(coin, 1440, Side.TOTAL)
    if not day or day <= 0:
        return None
    return day * window / 1440


def amount_choices(usual: float | None, coin: str) -> tuple[int, ...]:
    """Six rungs of the ladder: from just below the usual total up, or fixed presets."""
    if usual is None:
        lo, hi = _FIXED_AMOUNTS_ALL if coin == ALL else _FIXED_AMOUNTS
        return tuple(range(lo, hi + 1))
    below = max((i for i, v in enumerate(LADDER) if v <= usual), default=0)
    first = max(0, min(below, len(LADDER) - AMOUNT_CHOICES))
    return tuple(range(first, first + AMOUNT_CHOICES))


def _rows(buttons: list[Button], width: int = 3) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))


def _nav(state: GuideState, lang: Lang) -> tuple[Button, ...]:
    cancel = Button(lang._("Cancel"), "x")
    if state.step == "coin":
        return (cancel,)
    return (Button(lang._("« Back"), encode("g", state.back())), cancel)


def _so_far(state: GuideState, lang: Lang) -> str:
    parts = []
    if state.coin:
        parts.append(lang._("all coins") if state.coin == ALL else state.coin)
    if state.window:
        parts.append(window_label(state.window))
    if state.amount is not None:
        parts.append(f"≥ {format_threshold(LADDER[state.amount])}")
    return lang._("So far: %(choices)s", choices=" · ".join(parts)) if parts else ""


TITLE = N_("New alert")


def view(
    state: GuideState,
    snapshot: Snapshot | None,
    served: frozenset[int] = frozenset(),
    lang: Lang = EN,
) -> GuideView:
    """The step `state` is at: its question, its choices and Back / Cancel."""
    title = lang._(TITLE)
    so_far = _so_far(state, lang)
    head = (so_far,) if so_far else ()
    match state.step:
        case "coin":
            coins = [Button(c, encode("g", replace(state, coin=c))) for c in top_coins(snapshot)]
            coins.append(Button(lang._("All coins"), encode("g", replace(state, coin=ALL))))
            lines = (
                lang._("Which coin? The most liquidated of the last 24 h, or the whole market."),
                lang._("Any other coin: type it, like /subscribe pepe 1h 5m."),
            )
            return GuideView(title, lines, (*_rows(coins), _nav(state, lang)))
        case "window":
            offered = [w for w in GUIDE_WINDOWS if w in served] or list(GUIDE_WINDOWS)
            windows = [
                Button(window_label(w), encode("g", replace(state, window=w))) for w in offered
            ]
            lines = (*head, lang._("Over which rolling window are liquidations added up?"))
            return GuideView(title, lines, (*_rows(windows), _nav(state, lang)))
        case "amount":
            assert state.coin is not None and state.window is not None
            usual = usual_total(snapshot, state.coin, state.window)
            amounts = [
                Button(format_threshold(LADDER[i]), encode("g", replace(state, amount=i)))
                for i in amount_choices(usual, state.coin)
            ]
            w = window_label(state.window)
            if usual is None:
                hint = lang._("Alert when liquidations in the window reach at least:")
            else:
                hint = lang._(
                    "Usually about %(usd)s in %(window)s (from the last 24 h). Alert at:",
                    usd=format_usd(usual),
                    window=w,
                )
            return GuideView(title, (*head, hint), (*_rows(amounts), _nav(state, lang)))
        case "side":
            sides = [
                Button(lang._(label), encode("g", replace(state, side=side)))
                for _, side, label in SIDES
            ]
            lines = (
                *head,
                lang._(
                    "Which side? Longs liquidated (price falling), shorts (price rising), or both."
                ),
            )
            return GuideView(title, lines, (tuple(sides), _nav(state, lang)))
        case _:
            line = typed_line(state)
            lines = (
                lang._("This will run: %(line)s", line=line),
                lang._("The same as typing it; Subscribe to confirm."),
            )
            go = (Button(lang._("Subscribe"), encode("y", state)),)
            return GuideView(title, lines, (go, _nav(state, lang)))


def closed(line: str | None, lang: Lang = EN) -> GuideView:
    """The guide's message once it is done: the line it ran, or cancelled; no buttons."""
    if line is None:
        return GuideView(lang._(TITLE), (lang._("Cancelled. Type /subscribe to start again."),), ())
    return GuideView(lang._(TITLE), (lang._("Ran: %(line)s", line=line),), ())
