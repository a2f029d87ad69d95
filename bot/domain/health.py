"""Source health: when each data source was up or down, as gaps in time.

A window of data is complete only if no enabled source had a gap overlapping it; only complete
windows may re-arm alerts ("no data is not zero"). Pure: the caller passes every time in.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.market import utc_hhmm

MAX_GAPS_PER_SOURCE = 500  # a flapping source must not grow memory without bound


class SourceHealth:
    """Per-source up/down intervals from `up(now)` / `down(now, reason)` calls.

    A source that has never come up is down since `start_ms` (the time the process started
    listening): its data is missing, not zero.
    """

    def __init__(self, sources: Iterable[str], start_ms: int) -> None:
        self._start_ms = start_ms
        self._gaps: dict[str, list[list[int | None]]] = {}  # source -> [[start, end|None], ...]
        self._reason: dict[str, str] = {}
        for s in sources:
            self.enable(s, start_ms)

    # ---- state changes -------------------------------------------------------------------

    def enable(self, source: str, now_ms: int) -> None:
        if source not in self._gaps:
            self._gaps[source] = [[now_ms, None]]
            self._reason[source] = "not connected yet"

    def disable(self, source: str) -> None:
        """A disabled source no longer counts for completeness."""
        self._gaps.pop(source, None)
        self._reason.pop(source, None)

    def up(self, source: str, now_ms: int) -> None:
        gaps = self._gaps.get(source)
        if gaps is None:  # first word from an unknown source: it is enabled from now, and up
            self._gaps[source] = []
            self._reason[source] = ""
            return
        if gaps and gaps[-1][1] is None:
            start = gaps[-1][0]
            gaps[-1][1] = max(now_ms, start)  # type: ignore[type-var]
        self._reason[source] = ""

    def down(self, source: str, now_ms: int, reason: str) -> None:
        gaps = self._gaps.setdefault(source, [])
        self._reason[source] = reason
        if gaps and gaps[-1][1] is None:
            return  # already down: keep the original start
        gaps.append([now_ms, None])
        if len(gaps) > MAX_GAPS_PER_SOURCE:
            del gaps[: len(gaps) - MAX_GAPS_PER_SOURCE]

    def add_gap(self, source: str, start_ms: int, end_ms: int) -> None:
        """A past outage known from elsewhere (the store, or the downtime before a restart)."""
        gaps = self._gaps.setdefault(source, [])
        gaps.append([start_ms, end_ms])
        gaps.sort(key=lambda g: (g[1] is None, g[0]))  # type: ignore[arg-type, return-value]

    def prune(self, before_ms: int) -> None:
        for gaps in self._gaps.values():
            gaps[:] = [g for g in gaps if g[1] is None or g[1] >= before_ms]

    # ---- questions -----------------------------------------------------------------------

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(self._gaps))

    def is_up(self, source: str) -> bool:
        gaps = self._gaps.get(source)
        return gaps is not None and not (gaps and gaps[-1][1] is None)

    def any_up(self) -> bool:
        return any(self.is_up(s) for s in self._gaps)

    def reason(self, source: str) -> str:
        return self._reason.get(source, "")

    def gaps(self, since_ms: int, source: str | None = None) -> list[tuple[int, int | None]]:
        """Gaps ending at or after `since_ms` (None = still open), oldest first.

        With `source`, that source's gaps; without, the merged union over every enabled source.
        """
        names = [source] if source is not None else list(self._gaps)
        spans = sorted(
            (
                (g[0], g[1])
                for n in names
                for g in self._gaps.get(n, ())
                if g[1] is None or g[1] >= since_ms
            ),
            key=lambda span: (span[0], span[1] is None, span[1] or 0),  # an open gap sorts last
        )
        merged: list[tuple[int, int | None]] = []
        for start, end in spans:
            if merged:
                ps, pe = merged[-1]
                if pe is None or start <= pe:
                    merged[-1] = (ps, None if pe is None or end is None else max(pe, end))
                    continue
            merged.append((start, end))  # type: ignore[arg-type]
        return merged

    def complete_windows(self, now_ms: int, windows: Iterable[int]) -> frozenset[int]:
        """Windows (minutes) ending at now with no gap of any enabled source inside them.

        A window spans whole minute buckets: the current minute and the w - 1 before it.
        """
        windows = tuple(windows)
        first_minute = now_ms // 60_000 * 60_000
        gaps = self.gaps(first_minute - max(windows, default=0) * 60_000)
        out = []
        for w in windows:
            since = first_minute - (w - 1) * 60_000
            if not any(end is None or (end > since and start < now_ms) for start, end in gaps):
                out.append(w)
        return frozenset(out)

    def notes(self, since_ms: int) -> tuple[str, ...]:
        """Human notes like "bybit down 14:02–14:05 UTC", oldest first."""
        out = []
        for name in sorted(self._gaps):
            for start, end in self.gaps(since_ms, name):
                if start == self._start_ms:  # the time before the first connection
                    if end is None:
                        out.append((start, f"{name} not connected yet"))
                    else:
                        out.append((start, f"{name} no data before {utc_hhmm(end)} UTC"))
                elif end is None:
                    why = f" ({self._reason[name]})" if self._reason.get(name) else ""
                    out.append((start, f"{name} down since {utc_hhmm(start)} UTC{why}"))
                else:
                    out.append((start, f"{name} down {utc_hhmm(start)}–{utc_hhmm(end)} UTC"))
        return tuple(text for _, text in sorted(out))
