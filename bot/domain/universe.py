"""The coin universe: every coin a venue lists, so a coin can be subscribed before it liquidates.

Sources feed it from their instrument lists (Binance exchangeInfo, Bybit instruments-info, OKX
instruments), each refresh replacing that source's set; commands read it through
`LiveMarket.known_coins()`. The built-in KNOWN_COINS are always in it (and the aliases are
resolved before it is asked), so a fresh start without any REST answer still knows the majors.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.market import KNOWN_COINS


class CoinUniverse:
    def __init__(self) -> None:
        self._by_source: dict[str, frozenset[str]] = {}
        self._listed: frozenset[str] = frozenset()

    def update(self, source: str, coins: Iterable[str]) -> None:
        """The coins `source` lists now (an empty answer keeps the last list: no data is not
        a delisting)."""
        fresh = frozenset(c.upper() for c in coins if c)
        if not fresh:
            return
        self._by_source[source] = fresh
        self._listed = frozenset().union(*self._by_source.values())

    def listed(self, source: str | None = None) -> frozenset[str]:
        """What the venues list (one source's, or all of them), without the built-in coins."""
        if source is not None:
            return self._by_source.get(source, frozenset())
        return self._listed

    def coins(self) -> frozenset[str]:
        return KNOWN_COINS | self._listed

    def names(self, coin: str) -> bool:
        """Does an instrument list (or the built-in majors) name `coin`? Two set lookups."""
        return coin in KNOWN_COINS or coin in self._listed
