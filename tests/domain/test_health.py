"""The two ways a restored gap broke the record (issue 8), pinned as plain examples."""

from __future__ import annotations

from bot.domain.health import PastGap, SourceHealth

T = 1_800_000_000_000
MIN = 60_000


def test_a_restored_gap_sharing_the_open_start_up_gaps_start_merges_into_it() -> None:
    h = SourceHealth(["binance", "okx"], T)
    h.add_gap("binance", T, T)  # the downtime of a quick restart, ending now
    h.up("okx", T)  # okx's gap is (T, T) while binance's is open from T: same start
    assert h.gaps(0, "binance") == [(T, None)]
    assert h.gaps(0) == [(T, None)]  # the union sorts an open and a closed gap with one start
    assert h.complete_windows(T + MIN, (1, 60)) == frozenset()


def test_an_older_restored_gap_keeps_the_open_one_last_so_up_closes_it() -> None:
    h = SourceHealth.restored(
        ["binance"], T, [PastGap("binance", T - 90 * MIN, T - 80 * MIN)], None
    )
    h.add_gap("binance", T - 30 * MIN, T - 20 * MIN)
    assert h.gaps(0, "binance")[-1] == (T, None)
    assert h.up("binance", T + MIN)
    assert h.gaps(0, "binance") == [
        (T - 90 * MIN, T - 80 * MIN),
        (T - 30 * MIN, T - 20 * MIN),
        (T, T + MIN),
    ]
    assert h.is_up("binance") and h.complete_windows(T + 3 * MIN, (1,)) == {1}
    assert [(g.start_ms, g.end_ms) for g in h.take_ended()] == [(T, T + MIN)]


def test_the_downtime_before_a_restart_joins_the_start_up_gap() -> None:
    h = SourceHealth.restored(["bybit"], T, [], last_seen_ms=T - 5 * MIN)
    assert h.gaps(0, "bybit") == [(T - 5 * MIN, None)]
    assert h.state("bybit") == "connecting"
    assert h.notes(0) == ("bybit down since 07:55 UTC (not connected yet)",)
    h.up("bybit", T + MIN)
    assert h.notes(0) == ("bybit down 07:55–08:01 UTC",)
