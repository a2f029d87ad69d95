"""Message content: wording, money format, size limits, tones."""

from __future__ import annotations

import json

import pytest

from bot.domain.commands import CommandError, parse_command
from bot.domain.message import Message, Tone, plain_text
from bot.domain.models import (
    ALL,
    Alert,
    AlertKind,
    AlertState,
    Side,
    Snapshot,
    SourceStatus,
    Status,
    Subscription,
    VenueSplit,
    WindowTotals,
)
from bot.domain.render import (
    FLOOR_NOTE,
    render_alerts,
    render_at_cap,
    render_error,
    render_help,
    render_liqs,
    render_list,
    render_muted,
    render_start,
    render_status,
    render_subscribed,
    render_unsubscribed,
)

T = 1768313100000  # 2026-01-13 14:05:00 UTC
M = 1e6
TELEGRAM_LIMIT = 4096
DISCORD_DESCRIPTION = 4096


def fits(msg: Message) -> None:
    text = plain_text(msg)
    assert len(text) <= TELEGRAM_LIMIT - 200, len(text)
    assert len(msg.title) <= 256 and len(msg.footer) <= 2048
    assert Message.from_dict(json.loads(json.dumps(msg.to_dict()))) == msg  # outbox round trip


def alert(
    sub_id: int = 3,
    coin: str = "BTC",
    side: Side = Side.SHORT,
    threshold: float = 400 * M,
    value: float = 419.03 * M,
    longs: float = 39.04 * M,
    shorts: float = 419.03 * M,
    kind: AlertKind = AlertKind.FIRED,
    level: int = 1,
    venues: tuple[VenueSplit, ...] = (),
    gaps: tuple[str, ...] = (),
    sampled: bool = True,
) -> Alert:
    sub = Subscription(sub_id, "telegram:1", coin, 60, side, threshold)
    return Alert(
        sub, kind, value, level, 1, T, longs, shorts, venues, ("binance", "bybit"), sampled, gaps
    )


def test_alert_says_what_crossed_split_venues_time_sources_and_floor() -> None:
    venues = (
        VenueSplit("okx", 5 * M, 40 * M),
        VenueSplit("binance", 20 * M, 250 * M),
        VenueSplit("gate", 1 * M, 9 * M),
        VenueSplit("bybit", 10 * M, 120 * M),
    )
    msg = render_alerts([alert(venues=venues, gaps=("bybit down 14:02–14:05 UTC",))])
    text = plain_text(msg)
    assert "BTC shorts liquidated in 1h: $419.03M (threshold $400M)" in text
    assert "Longs $39.04M (9%)" in text and "Shorts $419.03M (91%)" in text
    # the top 3 venues by the subscription's side, biggest first; the 4th is left out
    assert "Top venues: Binance $250.00M, Bybit $120.00M, OKX $40.00M" in text
    assert "Gate" not in text
    assert "as of 14:05 UTC" in msg.footer and "binance, bybit" in msg.footer
    assert FLOOR_NOTE in msg.footer
    assert "bybit down 14:02–14:05 UTC" in text
    assert msg.tone is Tone.SHORT and "short squeeze" in text.lower()
    fits(msg)


def test_aggregator_totals_are_not_called_a_floor() -> None:
    assert FLOOR_NOTE not in plain_text(render_alerts([alert(sampled=False)]))


def test_long_flush_and_escalation() -> None:
    a = alert(
        coin=ALL,
        side=Side.TOTAL,
        threshold=250 * M,
        value=526 * M,
        longs=480 * M,
        shorts=46 * M,
        kind=AlertKind.ESCALATED,
        level=2,
    )
    msg = render_alerts([a])
    text = plain_text(msg)
    assert "Market-wide liquidations in 1h: $526.00M (threshold $250M), now 2x your threshold" in (
        text
    )
    assert msg.tone is Tone.LONG and "long flush" in text.lower()
    level3 = plain_text(render_alerts([alert(kind=AlertKind.ESCALATED, level=3, value=1.7e9)]))
    assert "now 4x your threshold" in level3


def test_balanced_wave_is_neutral() -> None:
    msg = render_alerts([alert(side=Side.TOTAL, longs=50 * M, shorts=50 * M, value=100 * M)])
    assert msg.tone is Tone.NEUTRAL
    assert "squeeze" not in plain_text(msg) and "flush" not in plain_text(msg)


def test_several_alerts_become_one_message_that_fits() -> None:
    many = [
        alert(sub_id=i, venues=(VenueSplit("binance", 1 * M, 300 * M),), gaps=("g",))
        for i in range(1, 51)
    ]
    msg = render_alerts(many)
    text = plain_text(msg)
    fits(msg)
    assert "50 alerts" in msg.title
    # all 50 alerts are still named even when details must be dropped to fit
    for i in (1, 25, 50):
        assert f"#{i} BTC shorts" in text
    assert text.count("Gap: g") == 1  # notes shared by alerts appear once


def test_two_alerts_keep_details() -> None:
    text = plain_text(render_alerts([alert(sub_id=1), alert(sub_id=2, coin="ETH")]))
    assert "#1 BTC" in text and "#2 ETH" in text and text.count("Longs ") == 2


def test_render_alerts_needs_alerts() -> None:
    with pytest.raises(ValueError):
        render_alerts([])


def _snapshot(served: frozenset[int] = frozenset({60, 240, 720, 1440})) -> Snapshot:
    # the published 24 h breakdown from market-events.md
    totals = {
        (ALL, 60): WindowTotals(819.85e3, 6.08 * M),
        (ALL, 240): WindowTotals(3.70 * M, 28.01 * M),
        (ALL, 720): WindowTotals(49.95 * M, 224.87 * M),
        (ALL, 1440): WindowTotals(66.34 * M, 330.70 * M),
        ("BTC", 240): WindowTotals(2 * M, 20 * M),
    }
    venues = {
        ("BTC", 240): (
            VenueSplit("bybit", 0.5 * M, 5 * M),
            VenueSplit("binance", 1.5 * M, 15 * M),
        )
    }
    return Snapshot(T, totals, venues, served, served, ("binance", "bybit", "okx"), True)


UP = [SourceStatus("binance", "up", T - 3_600_000, T - 2_000, 1234)]


def test_liqs_table_matches_the_published_breakdown() -> None:
    msg = render_liqs(_snapshot(), ALL, None, UP)
    assert msg.table is not None
    assert msg.table.headers == ("Window", "Longs", "Shorts", "Total")
    assert msg.table.rows == (
        ("1h", "$819.85K", "$6.08M", "$6.90M"),
        ("4h", "$3.70M", "$28.01M", "$31.71M"),
        ("12h", "$49.95M", "$224.87M", "$274.82M"),
        ("24h", "$66.34M", "$330.70M", "$397.04M"),
    )
    assert msg.tone is Tone.SHORT
    assert "as of 14:05 UTC" in msg.footer and FLOOR_NOTE in msg.footer
    fits(msg)


def test_liqs_unserved_windows_are_na_with_a_note_not_zero() -> None:
    msg = render_liqs(_snapshot(frozenset({60, 240})), ALL, None, UP)
    assert msg.table is not None
    assert msg.table.rows[2] == ("12h", "n/a", "n/a", "n/a")
    assert msg.table.rows[3] == ("24h", "n/a", "n/a", "n/a")
    assert any("cannot serve 12h, 24h" in line for line in msg.lines)
    one = render_liqs(_snapshot(frozenset({60})), "BTC", 5, UP)
    assert any("cannot serve 5m" in line for line in one.lines)
    assert "$0" not in plain_text(one)


def test_liqs_coin_without_events_in_a_served_window_is_zero() -> None:
    msg = render_liqs(_snapshot(), "ETH", None, UP)
    assert msg.table is not None and msg.table.rows[0] == ("1h", "$0", "$0", "$0")


def test_liqs_one_window_splits_by_venue_and_notes_a_down_source() -> None:
    statuses = [*UP, SourceStatus("bybit", "down", T - 180_000, note="connection reset")]
    msg = render_liqs(_snapshot(), "BTC", 240, statuses)
    text = plain_text(msg)
    assert msg.title == "Liquidations: BTC, 4h"
    assert "Total $22.00M: longs $2.00M (9%), shorts $20.00M (91%)" in text
    assert msg.table is not None
    assert [r[0] for r in msg.table.rows] == ["Binance", "Bybit"]  # biggest first
    assert msg.table.rows[0] == ("Binance", "$1.50M", "$15.00M", "$16.50M")
    assert "bybit down since 14:02 UTC (connection reset): figures are partial" in text


def test_liqs_without_any_data_says_so() -> None:
    msg = render_liqs(Snapshot(T), ALL, None, [])
    assert any("No data yet" in line for line in msg.lines)


def _subs(n: int) -> list[Subscription]:
    return [
        Subscription(1000 + i, "telegram:1", "BTC" if i % 2 else ALL, 60, Side.SHORT, 1.5e9)
        for i in range(n)
    ]


def test_list_of_fifty_fits_and_shows_states_and_mutes() -> None:
    subs = _subs(50)
    states = {1001: AlertState(1001, Status.FIRED, level=2, episode=1)}
    mutes = {"BTC": T + 20 * 60_000, "ETH": T - 1}  # ETH's mute has expired
    msg = render_list(subs, states, mutes, T, cap=50)
    fits(msg)
    assert msg.table is not None and len(msg.table.rows) == 50
    assert msg.table.rows[0] == ("#1000", "all", "1h", "shorts", "$1.5B", "armed")
    assert msg.table.rows[1] == ("#1001", "BTC", "1h", "shorts", "$1.5B", "fired x2, muted")
    assert "BTC alerts muted until 14:25 UTC (20m left)" in msg.lines
    assert not any("ETH" in line for line in msg.lines)
    assert "50/50 used" in msg.footer


def test_list_whole_chat_mute_and_empty_list() -> None:
    msg = render_list(_subs(1), {}, {None: T + 80 * 60_000}, T)
    assert msg.table is not None and msg.table.rows[0][-1] == "armed, muted"
    assert "All alerts muted until 15:25 UTC (1h 20m left)" in msg.lines
    empty = plain_text(render_list([], {}, {}, T))
    assert "/subscribe btc 1h 100m" in empty


def test_status_shows_sources_and_chat_state() -> None:
    statuses = [*UP, SourceStatus("bybit", "down", T - 180_000, T - 200_000, 5, note="timeout")]
    msg = render_status(
        statuses,
        T,
        chat_subscriptions=3,
        total_subscriptions=10,
        cap=50,
        paused_reason="bot was blocked",
        mutes={None: T + 3_600_000},
        served=frozenset({60, 240}),
    )
    text = plain_text(msg)
    assert msg.tone is Tone.ERROR and "down" in msg.title
    assert msg.table is not None
    assert msg.table.rows[0] == ("binance", "up", "13:05 UTC", "2s ago", "1234")
    assert msg.table.rows[1] == ("bybit", "down", "14:02 UTC", "3m ago", "5")
    assert "bybit: timeout" in text and "Windows served: 1h, 4h" in text
    assert "3/50 subscriptions" in text and "PAUSED (bot was blocked)" in text and "/start" in text
    assert "All alerts muted until 15:05 UTC" in text


def test_error_is_ephemeral_with_usage_and_example() -> None:
    with pytest.raises(CommandError) as info:
        parse_command("/subscribe btc 100m 1h")
    msg = render_error(info.value)
    assert msg.tone is Tone.ERROR and msg.ephemeral
    assert msg.lines[0] == "The window comes before the amount"
    assert "Usage: /subscribe <coin|all> <window> <amount> [long|short|total]" in msg.lines
    assert "Example: /subscribe btc 1h 100m" in msg.lines


def test_subscribed_restates_the_rule_with_current_value_and_unserved_warning() -> None:
    sub = Subscription(3, "telegram:1", "BTC", 60, Side.TOTAL, 100 * M)
    text = plain_text(render_subscribed(sub, 42.5 * M, True, 3, 50))
    assert "#3 BTC total over 1h above $100M" in text
    assert "Now: $42.50M (42% of the threshold)" in text and "Warning" not in text
    text = plain_text(render_subscribed(sub, None, False))
    assert "Now:" not in text and "cannot serve the 1h window" in text


def test_small_messages() -> None:
    assert "50" in plain_text(render_at_cap(50)) and "/unsubscribe" in plain_text(render_at_cap(50))
    assert "back on" in plain_text(render_start(resumed=True))
    assert "back on" not in plain_text(render_start())
    help_text = plain_text(render_help())
    for cmd in ("/liqs", "/subscribe", "/unsubscribe", "/list", "/mute", "/unmute", "/status"):
        assert cmd in help_text
    fits(render_help())
    text = plain_text(render_unsubscribed([], [7], [1, 2]))
    assert "#7" in text and "Yours: #1, #2" in text
    assert "(2h)" in plain_text(render_muted("BTC", T + 7_200_000, T))


def test_status_lists_past_outages_once_and_the_current_one_as_the_reason() -> None:
    from bot.domain.models import SourceStatus
    from bot.domain.render import render_status

    now = 1_800_000_000_000
    msg = render_status(
        [
            SourceStatus("bybit", "down", now - 60_000, note="cannot connect: timeout",
                         gaps=("down 14:02–14:05 UTC", "down since 14:20 UTC (cannot connect)")),
            SourceStatus("okx", "up", now - 600_000, gaps=("no data before 13:58 UTC",)),
        ],
        now,
        chat_subscriptions=1,
    )  # fmt: skip
    assert msg.title == "Status: a source is down"
    assert "bybit: cannot connect: timeout" in msg.lines
    assert "bybit down 14:02–14:05 UTC" in msg.lines
    assert "okx no data before 13:58 UTC" in msg.lines
    assert not any("since 14:20" in line for line in msg.lines)  # already said by the reason
