"""Quiet hours (/quiet): the grammar, windows across midnight, both 2026 Berlin DST changes by
hand, and hypothesis against an offset-arithmetic reference."""

from __future__ import annotations

import datetime as dtm
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.domain.quiet import QuietError, QuietHours, load_quiet, local_minute, parse_quiet

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
M = 60_000
H = 60 * M
SPRING = 1774746000000  # 2026-03-29 01:00 UTC: Berlin jumps 02:00 CET -> 03:00 CEST
AUTUMN = 1792890000000  # 2026-10-25 01:00 UTC: Berlin goes back 03:00 CEST -> 02:00 CET
NIGHT = QuietHours(23 * 60, 7 * 60)


def utc_ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dtm.datetime(y, mo, d, h, mi, tzinfo=dtm.UTC).timestamp() * 1000)


def quiet_span(q: QuietHours, zone: ZoneInfo, start_ms: int, end_ms: int) -> list[int]:
    """The minutes of [start, end) that are quiet."""
    return [t for t in range(start_ms, end_ms, M) if q.is_quiet(t, zone)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23:00-07:00", QuietHours(1380, 420)),
        ("23:00 - 07:00", QuietHours(1380, 420)),
        ("23:00–07:00", QuietHours(1380, 420)),
        ("9:30-17:00", QuietHours(570, 1020)),
        ("23:00-07:00 except big", QuietHours(1380, 420, except_big=True)),
        ("23:00-07:00 EXCEPT BIG", QuietHours(1380, 420, except_big=True)),
        ("2300-0700", QuietHours(1380, 420)),
        ("off", None),
        ("OFF", None),
    ],
)
def test_parse(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("23:00", "not a quiet window"),
        ("25:00-07:00", "not a quiet window"),
        ("23:00-07:60", "not a quiet window"),
        ("tonight", "not a quiet window"),
        ("23:00-07:00 except small", "only 'except big'"),
        ("07:00-07:00", "same time"),
        ("", "not a quiet window"),
    ],
)
def test_parse_errors_are_friendly(text: str, words: str) -> None:
    with pytest.raises(QuietError, match=words):
        parse_quiet(text)


def test_text_round_trips_through_the_store() -> None:
    for q in (NIGHT, QuietHours(5, 1439, except_big=True)):
        assert load_quiet(q.text()) == q
    assert NIGHT.text() == "23:00-07:00"
    assert QuietHours(1380, 420, True).text() == "23:00-07:00 except big"
    assert load_quiet(None) is None and load_quiet("garbage") is None


def test_a_window_across_midnight_in_utc() -> None:
    day = utc_ms(2026, 6, 1, 0)
    assert NIGHT.is_quiet(day + 23 * H)  # 23:00 starts it
    assert NIGHT.is_quiet(day + 23 * H + 59 * M)
    assert NIGHT.is_quiet(day + 24 * H)  # midnight
    assert NIGHT.is_quiet(day + 7 * H - M)  # 06:59
    assert not NIGHT.is_quiet(day + 7 * H)  # 07:00 ends it
    assert not NIGHT.is_quiet(day + 23 * H - M)
    assert not NIGHT.is_quiet(day + 12 * H)


def test_a_window_inside_one_day() -> None:
    work = QuietHours(9 * 60, 17 * 60)
    day = utc_ms(2026, 6, 1, 0)
    assert work.is_quiet(day + 9 * H) and work.is_quiet(day + 17 * H - M)
    assert not work.is_quiet(day + 17 * H) and not work.is_quiet(day + 8 * H)


def test_berlin_summer_and_winter_hours() -> None:
    assert NIGHT.is_quiet(utc_ms(2026, 1, 10, 22), BERLIN)  # 23:00 CET
    assert not NIGHT.is_quiet(utc_ms(2026, 1, 10, 21, 59), BERLIN)
    assert not NIGHT.is_quiet(utc_ms(2026, 1, 11, 6), BERLIN)  # 07:00 CET
    assert NIGHT.is_quiet(utc_ms(2026, 7, 10, 21), BERLIN)  # 23:00 CEST
    assert not NIGHT.is_quiet(utc_ms(2026, 7, 11, 5), BERLIN)  # 07:00 CEST
    assert NIGHT.is_quiet(utc_ms(2026, 7, 11, 4, 59), BERLIN)


def test_spring_forward_night_is_an_hour_shorter() -> None:
    # 23:00 CET on the 28th = 22:00 UTC; 07:00 CEST on the 29th = 05:00 UTC: 7 hours
    start, end = utc_ms(2026, 3, 28, 22), utc_ms(2026, 3, 29, 5)
    span = quiet_span(NIGHT, BERLIN, start - 3 * H, end + 3 * H)
    assert span[0] == start and span[-1] == end - M and len(span) == 7 * 60
    # a window in the hour that never comes is simply not quiet that night
    lost = QuietHours(2 * 60 + 15, 2 * 60 + 45)
    assert quiet_span(lost, BERLIN, SPRING - 2 * H, SPRING + 2 * H) == []
    # one that straddles the jump: 01:30 CET to 03:30 CEST, an hour of real time
    straddle = QuietHours(90, 210)
    span = quiet_span(straddle, BERLIN, SPRING - 2 * H, SPRING + 2 * H)
    assert span[0] == SPRING - 30 * M and span[-1] == SPRING + 29 * M


def test_fall_back_night_is_an_hour_longer() -> None:
    # 23:00 CEST on the 24th = 21:00 UTC; 07:00 CET on the 25th = 06:00 UTC: 9 hours
    start, end = utc_ms(2026, 10, 24, 21), utc_ms(2026, 10, 25, 6)
    span = quiet_span(NIGHT, BERLIN, start - 3 * H, end + 3 * H)
    assert span[0] == start and span[-1] == end - M and len(span) == 9 * 60
    # 02:15-02:45 happens twice that night (CEST, then CET): quiet both times
    twice = QuietHours(2 * 60 + 15, 2 * 60 + 45)
    span = quiet_span(twice, BERLIN, AUTUMN - 2 * H, AUTUMN + 2 * H)
    assert len(span) == 60
    assert AUTUMN - 45 * M in span and AUTUMN + 15 * M in span


def test_except_big_lets_big_alerts_ring() -> None:
    t = utc_ms(2026, 6, 1, 23, 30)
    plain, big = NIGHT, QuietHours(1380, 420, except_big=True)
    assert plain.silences(t, None, big=True) and plain.silences(t, None, big=False)
    assert not big.silences(t, None, big=True) and big.silences(t, None, big=False)
    assert not big.silences(t - 12 * H, None, big=False)  # outside: loud anyway


minutes = st.integers(0, 1439)
instants = st.integers(utc_ms(2000, 1, 1, 0), utc_ms(2060, 1, 1, 0))
zones = st.sampled_from(
    [BERLIN, UTC, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"),
     ZoneInfo("Asia/Kathmandu"), ZoneInfo("America/Santiago")]
)  # fmt: skip


@given(minutes, minutes, instants, zones)
# Lord Howe's half-hour fall back, 2005-03-27 02:00 local: the reference once got it wrong
@example(0, 1, 1_111_849_200_000, ZoneInfo("Australia/Lord_Howe"))
def test_is_quiet_matches_the_offset_reference(
    start: int, end: int, t: int, zone: ZoneInfo
) -> None:
    """Against a reference written differently: the local minute from the zone's UTC offset at
    that instant, and plain interval arithmetic on it."""
    if start == end:
        return
    q = QuietHours(start, end)
    # the offset in force at that instant (tzinfo.utcoffset reads its argument as a wall time:
    # given the UTC time it answered for the wrong hour around a change, e.g. Lord Howe's)
    offset = dtm.datetime.fromtimestamp(t / 1000, dtm.UTC).astimezone(zone).utcoffset()
    assert offset is not None
    local = int((t // 1000 + offset.total_seconds()) // 60) % 1440
    assert local_minute(t, zone) == local
    inside = (start <= local < end) if start < end else not (end <= local < start)
    assert q.is_quiet(t, zone) == inside


@given(minutes, minutes, instants, zones)
def test_a_window_and_its_complement_split_every_instant(
    start: int, end: int, t: int, zone: ZoneInfo
) -> None:
    if start == end:
        return
    assert QuietHours(start, end).is_quiet(t, zone) != QuietHours(end, start).is_quiet(t, zone)


@given(minutes, minutes, st.booleans())
def test_text_round_trip(start: int, end: int, big: bool) -> None:
    if start == end:
        return
    q = QuietHours(start, end, big)
    assert parse_quiet(q.text()) == q
