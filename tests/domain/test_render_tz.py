"""Times in a chat's zone (/tz): abbreviations and hours across both 2026 Berlin DST changes;
UTC (or no zone) byte-identical to before."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.domain.render_common import active_mute_lines, dated, hhmm, sources_footer

BERLIN = ZoneInfo("Europe/Berlin")
H = 3_600_000
SPRING = 1774746000000  # 2026-03-29 01:00 UTC, the instant clocks jump 02:00 -> 03:00 CEST
AUTUMN = 1792890000000  # 2026-10-25 01:00 UTC, the instant clocks go back 03:00 -> 02:00 CET


def test_spring_forward_in_berlin() -> None:
    assert hhmm(SPRING - 60_000, tz=BERLIN) == "01:59 CET"
    assert hhmm(SPRING, tz=BERLIN) == "03:00 CEST"
    assert dated(SPRING + H, BERLIN) == "29 Mar 2026 04:00 CEST"


def test_fall_back_in_berlin_shows_02_00_twice_with_its_abbreviation() -> None:
    assert hhmm(AUTUMN - H, tz=BERLIN) == "02:00 CEST"
    assert hhmm(AUTUMN, tz=BERLIN) == "02:00 CET"
    assert dated(AUTUMN + H, BERLIN) == "25 Oct 2026 03:00 CET"


def test_today_and_other_days_follow_the_local_date() -> None:
    now = SPRING + 21 * H  # 22:00 UTC = 00:00 CEST on the 30th
    assert hhmm(now, now, BERLIN) == "00:00 CEST"
    # 21:30 UTC on the 29th is 23:30 CEST on the 29th: another local day than now
    assert hhmm(now - 30 * 60_000, now, BERLIN) == "29 Mar 23:30 CEST"
    # in UTC both are on the 29th: no date
    assert hhmm(now - 30 * 60_000, now) == "21:30 UTC"


def test_utc_output_is_unchanged() -> None:
    utc = ZoneInfo("UTC")
    t = 1768313100000  # 2026-01-13 14:05 UTC
    for tz in (None, utc):
        assert hhmm(t, tz=tz) == "14:05 UTC"
        assert hhmm(t, t + 86_400_000, tz) == "13 Jan 14:05 UTC"
        assert dated(t, tz) == "13 Jan 2026 14:05 UTC"
        assert sources_footer(t, ("binance",), False, with_date=True, tz=tz) == (
            "as of 13 Jan 2026 14:05 UTC · sources: binance"
        )
    assert active_mute_lines({None: t + H}, t, BERLIN) == [
        "All alerts muted until 16:05 CET (1h left)"
    ]


def test_single_liquidation_alert_in_the_chats_zone() -> None:
    from bot.domain.message import plain_text
    from bot.domain.models import Liquidation, Side, Subscription
    from bot.domain.render_insight import render_singles
    from bot.domain.single_rules import SingleHit

    sub = Subscription(1, "telegram:1", "BTC", 0, Side.TOTAL, 1e6, number=1, kind="single")
    ev = Liquidation("binance", "BTC", Side.LONG, 2.4e6, AUTUMN + 3_000, "BTCUSDT", 94_210.0)
    berlin = plain_text(render_singles([SingleHit(sub, ev)], AUTUMN + 5_000, BERLIN))
    assert "(02:00:03 CET)" in berlin and "as of 25 Oct 2026 02:00 CET" in berlin
    assert "UTC" not in berlin
    utc = plain_text(render_singles([SingleHit(sub, ev)], AUTUMN + 5_000))
    assert "(01:00:03 UTC)" in utc and "as of 25 Oct 2026 01:00 UTC" in utc
