"""Money as the market writes it: `100m`, `1.5b`, `$400M` in; `$819.85K`, `$6.08M` out."""

from __future__ import annotations

import math
import re

from bot.domain.i18n import N_, TextError

MAX_THRESHOLD = 1e12  # $1T: more than the whole market has ever liquidated in a day (~$19B)

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
# the long forms of the press and of other languages: 1bn, 1mln, 5mn, 2mio, 3bln, 1tn
_LONG_SUFFIX = {"bn": "b", "bln": "b", "mln": "m", "mn": "m", "mio": "m", "mm": "m", "tn": "t"}
_MONEY = re.compile(
    r"^\$?\s*(\d+(?:[.,]\d+)?|\.\d+)\s*(bn|bln|mln|mn|mio|mm|tn|[kmbt]?)\s*(?:usd)?$",
    re.IGNORECASE,
)


class MoneyError(TextError):
    """Raised with a message fit for a user."""


def parse_money(text: str) -> float:
    """Parse a USD amount: `100m`, `1.5b`, `250k`, `$400M`, `400000000`, `1,000,000`.

    Raises MoneyError for anything unparsable, zero, negative or absurd.
    """
    raw = text.strip()
    if raw.startswith("-"):
        raise MoneyError(N_("the amount must be positive, not %(raw)s"), raw=raw)
    cleaned = raw.replace("_", "")
    # thousands separators: 1,000,000 (but keep 1,5m as a decimal comma)
    if re.fullmatch(r"\$?\d{1,3}(,\d{3})+([kmbt])?", cleaned, re.IGNORECASE):
        cleaned = cleaned.replace(",", "")
    m = _MONEY.match(cleaned)
    if not m:
        raise MoneyError(
            N_("'%(raw)s' is not an amount; write it like 100m, 1.5b, 250k or $400M"), raw=raw
        )
    number = float(m.group(1).replace(",", "."))
    suffix = m.group(2).lower()
    value = number * _SUFFIX[_LONG_SUFFIX.get(suffix, suffix)]
    if not math.isfinite(value) or value <= 0:
        raise MoneyError(N_("the amount must be above zero, not %(raw)s"), raw=raw)
    if value > MAX_THRESHOLD:
        raise MoneyError(
            N_("%(raw)s is more than %(max)s; pick a smaller amount"),
            raw=raw,
            max=format_usd(MAX_THRESHOLD),
        )
    return value


def format_usd(value: float) -> str:
    """Format like the market does: `$819.85K`, `$6.08M`, `$397.04M`, `$1.20B`, `$950`."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    units = (("K", 1e3), ("M", 1e6), ("B", 1e9), ("T", 1e12))
    for i in range(len(units) - 1, -1, -1):
        unit, size = units[i]
        if v >= size:
            # 999,999.99 shows as $1.00M rather than $1000.00K
            if round(v / size, 2) >= 1000 and i + 1 < len(units):
                unit, size = units[i + 1]
            return f"{sign}${v / size:,.2f}{unit}"
    if round(v) >= 1000:
        return f"{sign}$1.00K"
    return f"{sign}${v:,.0f}"


def format_threshold(value: float) -> str:
    """A threshold the way a user types it back: `$100M`, `$1.5B`, `$250K` (no trailing zeros)."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size:
            return f"${value / size:.2f}".rstrip("0").rstrip(".") + unit
    return f"${value:.2f}".rstrip("0").rstrip(".")
