"""Digest timing (pure): local time of day in an IANA zone, across daylight-saving changes,
checked against hand-written UTC instants and against APScheduler's CronTrigger as an oracle."""

from __future__ import annotations

import datetime as dtm
import zoneinfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.domain.command_types import CommandError
from bot.domain.commands import parse_command
from bot.domain.digest import (
    DigestCommand,
    DigestSpec,
    biggest_hour,
    dedupe_key,
    due,
    fire_ms,
    latest_fire,
    next_fire,
)

BERLIN = "Europe/Berlin"
UTC = dtm.UTC


def ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dtm.datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        (dtm.date(2026, 1, 15), ms(2026, 1, 15, 7)),  # CET, UTC+1
        (dtm.date(2026, 3, 28), ms(2026, 3, 28, 7)),  # the day before the change
        (dtm.date(2026, 3, 29), ms(2026, 3, 29, 6)),  # clocks went forward at 02:00: CEST
        (dtm.date(2026, 7, 1), ms(2026, 7, 1, 6)),
        (dtm.date(2026, 10, 24), ms(2026, 10, 24, 6)),
        (dtm.date(2026, 10, 25), ms(2026, 10, 25, 7)),  # back to CET at 03:00
    ],
)
def test_eight_in_berlin_is_seven_utc_in_winter_six_in_summer(day: dtm.date, utc: int) -> None:
    assert fire_ms(8 * 60, BERLIN, day) == utc


def test_a_time_skipped_or_repeated_by_the_change_fires_once() -> None:
    # 02:30 does not exist on 29 Mar 2026 in Berlin: it fires at 01:30 UTC (03:30 CEST)
    assert fire_ms(150, BERLIN, dtm.date(2026, 3, 29)) == ms(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 25 Oct 2026: the first one (CEST), 00:30 UTC
    assert fire_ms(150, BERLIN, dtm.date(2026, 10, 25)) == ms(2026, 10, 25, 0, 30)


def test_next_and_latest_fire_walk_across_the_spring_change() -> None:
    at = 8 * 60
    now = ms(2026, 3, 28, 7)  # exactly at Saturday's digest
    assert latest_fire(at, BERLIN, now) == (dtm.date(2026, 3, 28), now)
    assert next_fire(at, BERLIN, now) == (dtm.date(2026, 3, 29), ms(2026, 3, 29, 6))
    assert next_fire(at, BERLIN, now - 1) == (dtm.date(2026, 3, 28), now)
    # New York: 08:00 EST is 13:00 UTC; a zone behind UTC whose local date lags
    assert next_fire(at, "America/New_York", ms(2026, 1, 15, 2)) == (
        dtm.date(2026, 1, 15),
        ms(2026, 1, 15, 13),
    )


@pytest.mark.parametrize("tz", [BERLIN, "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
def test_next_fire_agrees_with_apscheduler_cron_for_a_year(tz: str) -> None:
    trigger = CronTrigger(hour=8, minute=0, timezone=zoneinfo.ZoneInfo(tz))
    now = ms(2026, 1, 1, 0)
    for _ in range(400):
        cron = trigger.get_next_fire_time(None, dtm.datetime.fromtimestamp(now / 1000 + 1, UTC))
        ours = next_fire(8 * 60, tz, now)[1]
        assert cron is not None and ours == int(cron.timestamp() * 1000)
        now = ours


def test_due_within_the_catch_up_window_only() -> None:
    spec = DigestSpec("console:local", 8 * 60, BERLIN)
    fire = ms(2026, 3, 29, 6)
    assert due(spec, fire - 1) is None  # Saturday's is long past: 23 h ago
    assert due(spec, fire) == dtm.date(2026, 3, 29)
    assert due(spec, fire + 3 * 3_600_000) == dtm.date(2026, 3, 29)
    assert due(spec, fire + 3 * 3_600_000 + 1) is None
    assert dedupe_key(spec.chat_key, dtm.date(2026, 3, 29)) == "digest:console:local:2026-03-29"


def test_biggest_hour_sums_minutes_into_clock_hours() -> None:
    h = 3_600_000
    rows = [(10 * h, 1.0, 2.0), (10 * h + 60_000, 3.0, 0.0), (11 * h, 5.0, 0.0), (12 * h, 0, 0)]
    assert biggest_hour(rows) == (10 * h, 4.0, 2.0)
    assert biggest_hour([]) is None and biggest_hour([(0, 0.0, 0.0)]) is None


@pytest.mark.parametrize(
    ("text", "cmd"),
    [
        ("/digest 08:00 Europe/Berlin", DigestCommand(at_min=480, tz=BERLIN)),
        ("/digest 8:30 europe/berlin", DigestCommand(at_min=510, tz=BERLIN)),
        ("/digest 21:05", DigestCommand(at_min=1265, tz="UTC")),
        ("/digest off", DigestCommand(off=True)),
        ("/digest", DigestCommand(show=True)),
    ],
)
def test_digest_grammar(text: str, cmd: DigestCommand) -> None:
    assert parse_command(text) == cmd


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/digest 25:00 UTC", "not a time of day; write it like 08:00"),
        ("/digest 08:00 Europe/Berln", "did you mean Europe/Berlin"),
        ("/digest 08:00 Mars/Olympus", "unknown time zone"),
        ("/digest 08:00 UTC extra", "give a time and a time zone"),
    ],
)
def test_bad_digest_input_is_explained(text: str, words: str) -> None:
    with pytest.raises(CommandError) as e:
        parse_command(text)
    assert words in e.value.message and e.value.example == "/digest 08:00 Europe/Berlin"
