"""A bounded budget for coins no instrument list names (issue 17 item 6).

Every (coin, venue) the aggregator sees gets a series (~8 KB for the retention). A venue that
lists new coins every week is fine: its instrument list names them. A stream that sends invented
or garbage symbols is not: 20,000 of them grew the process from 80 to 248 MB and would never be
freed. So a coin that neither the venues' instrument lists nor the built-in majors name takes a
place in this budget: at most `limit` of them at once; one that stayed quiet for `quiet_ms` gives
its place back (the caller drops its series); a new one beyond the limit is refused, and the
caller counts its events as rejected. Coins the lists name never enter the budget and are never
dropped.
"""

from __future__ import annotations

from collections.abc import Callable


class UnknownCoins:
    def __init__(self, limit: int, quiet_ms: int) -> None:
        if limit < 0 or quiet_ms <= 0:
            raise ValueError("limit must be >= 0 and quiet_ms > 0")
        self.limit = limit
        self.quiet_ms = quiet_ms
        self._last: dict[str, int] = {}  # coin -> its latest event's clock reading
        self.refused = 0  # events of new unknown coins refused while the budget was full
        self.evicted = 0  # coins dropped after their quiet time

    def __len__(self) -> int:
        return len(self._last)

    def __contains__(self, coin: object) -> bool:
        return coin in self._last

    def admit(
        self, coin: str, now_ms: int, listed: Callable[[str], bool]
    ) -> tuple[bool, list[str]]:
        """May an event of unknown `coin` be counted? Also returns the coins whose place was
        freed to make room (their series are to be dropped)."""
        if coin in self._last:
            self._last[coin] = max(self._last[coin], now_ms)
            return True, []
        freed: list[str] = []
        if len(self._last) >= self.limit:
            freed = self.expire(now_ms, listed)
        if len(self._last) >= self.limit:
            self.refused += 1
            return False, freed
        self._last[coin] = now_ms
        return True, freed

    def expire(self, now_ms: int, listed: Callable[[str], bool]) -> list[str]:
        """Give back the places of coins quiet for `quiet_ms` (returned: drop their series) and
        of coins an instrument list names by now (kept: they are simply no longer unknown)."""
        gone: list[str] = []
        for coin, last in list(self._last.items()):
            if listed(coin):
                del self._last[coin]
            elif now_ms - last >= self.quiet_ms:
                del self._last[coin]
                gone.append(coin)
        self.evicted += len(gone)
        return gone
