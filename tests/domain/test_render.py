"""Message content: wording, money format, size limits, tones."""

from __future__ import annotations

import json

import pytest

from bot.domain.command_types import CommandError
from bot.domain.commands import parse_command
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
from bot.domain.render_alerts import AlertContext
from bot.domain.rules import Policy
from bot.domain.source_fault import Fault

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


def day_snapshot(window: int = 60, *coins: tuple[str, float, float], rest: float = 0.0) -> Snapshot:
    """A tick's snapshot: per-coin (longs, shorts) in `window`, and `rest` more over the day."""
    totals = {}
    all_l = sum(c[1] for c in coins)
    all_s = sum(c[2] for c in coins)
    for coin, lg, sh in coins:
        totals[(coin, window)] = WindowTotals(lg, sh)
        totals[(coin, 1440)] = WindowTotals(lg + rest / 2, sh + rest / 2)
    totals[(ALL, window)] = WindowTotals(all_l, all_s)
    totals[(ALL, 1440)] = WindowTotals(all_l + rest / 2 * len(coins), all_s + rest / 2 * len(coins))
    return Snapshot(T, totals, served_windows=frozenset({window, 1440}))


def test_side_alert_states_the_total_split_and_what_the_venues_sum() -> None:
    venues = (
        VenueSplit("okx", 5 * M, 40 * M),
        VenueSplit("binance", 20 * M, 250 * M),
        VenueSplit("gate", 1 * M, 9 * M),
        VenueSplit("bybit", 10 * M, 120 * M),
    )
    msg = render_alerts([alert(venues=venues, gaps=("bybit down 14:02–14:05 UTC",))])
    text = plain_text(msg)
    assert msg.lines[0] == "#3 BTC shorts liquidated in 1h: $419.03M (threshold $400M)"
    # the total a reporter quotes, then the split; no baseline: "mostly", not "squeeze"
    assert msg.lines[1] == (
        "Total $458.07M: longs $39.04M (9%) · shorts $419.03M (91%), mostly shorts"
    )
    # the top 3 venues by the subscription's side, labelled as such; the 4th is left out
    assert msg.lines[2] == "Shorts by venue: Binance $250.00M, Bybit $120.00M, OKX $40.00M"
    assert "Gate" not in text
    # an alert gets forwarded: its time carries the date
    assert msg.footer.startswith("as of 13 Jan 2026 14:05 UTC · sources: binance, bybit")
    assert FLOOR_NOTE in msg.footer
    assert "bybit down 14:02–14:05 UTC" in text
    assert msg.tone is Tone.SHORT and "squeeze" not in text.lower()
    assert msg.title == "Liquidation alert: BTC 1h"
    fits(msg)


def test_market_wide_alert_names_the_coins_that_carried_it() -> None:
    snap = day_snapshot(
        60, ("BTC", 10 * M, 380 * M), ("ETH", 5 * M, 250 * M), ("SOL", 1 * M, 41 * M),
        ("DOGE", 1 * M, 20 * M), ("XRP", 0.5 * M, 9 * M), rest=10 * M,
    )  # fmt: skip
    a = alert(coin=ALL, threshold=600 * M, value=700 * M, longs=17.5 * M, shorts=700 * M)
    msg = render_alerts([a], AlertContext(snap))
    text = plain_text(msg)
    assert "Shorts by coin: BTC $380.00M · ETH $250.00M · SOL $41.00M · others $29.00M" in text
    # shorts 98% of a wave ~20x the rest of the day's rate: the dramatic name is earned
    assert msg.title == "Short squeeze: All coins 1h"
    assert "Total $717.50M: longs $17.50M (2%) · shorts $700.00M (98%): a short squeeze" in text


def test_quiet_hour_over_a_low_threshold_is_mostly_longs_not_a_flush() -> None:
    # 1h of $6M (90% longs) in a day of $150M: not unusual for BTC, so no "long flush"
    snap = day_snapshot(60, ("BTC", 5.4 * M, 0.6 * M), rest=288 * M)
    a = alert(side=Side.TOTAL, threshold=1 * M, value=6 * M, longs=5.4 * M, shorts=0.6 * M)
    msg = render_alerts([a], AlertContext(snap))
    text = plain_text(msg)
    assert "flush" not in text.lower()
    assert msg.lines[1] == "Total $6.00M: longs $5.40M (90%) · shorts $600.00K (10%), mostly longs"
    assert msg.title == "Liquidation alert: BTC 1h"
    # the same hour on a quiet day is unusual: now it is a long flush
    quiet_day = day_snapshot(60, ("BTC", 5.4 * M, 0.6 * M), rest=4 * M)
    assert render_alerts([a], AlertContext(quiet_day)).title == "Long flush: BTC 1h"


def test_aggregator_totals_are_not_called_a_floor() -> None:
    assert FLOOR_NOTE not in plain_text(render_alerts([alert(sampled=False)]))


def test_escalation_says_the_configured_multiple_and_rearm_policy() -> None:
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
    assert "Market-wide liquidations in 1h: $526.00M (threshold $250M), now 2× your threshold" in (
        text
    )
    assert "Total by venue" not in text  # no venues known: no empty breakdown
    level3 = plain_text(render_alerts([alert(kind=AlertKind.ESCALATED, level=3, value=1.7e9)]))
    assert "now 4× your threshold" in level3
    policy = Policy(rearm_ratio=0.5, min_quiet_ms=30 * 60_000, escalation_factor=3)
    at3 = plain_text(
        render_alerts(
            [alert(kind=AlertKind.ESCALATED, level=2, value=1.3e9)], AlertContext(policy=policy)
        )
    )
    assert "now 3× your threshold" in at3 and "2×" not in at3
    assert (
        "One alert per wave, one more at each 3× of the amount; it re-arms once the total is "
        "back below 50% of the amount, at least 30m after its first alert."
    ) in at3


def test_balanced_wave_is_neutral() -> None:
    msg = render_alerts([alert(side=Side.TOTAL, longs=50 * M, shorts=50 * M, value=100 * M)])
    assert msg.tone is Tone.NEUTRAL
    assert msg.lines[1] == "Total $100.00M: longs $50.00M (50%) · shorts $50.00M (50%)"


def test_operator_broadcast_alert_takes_no_chat_number() -> None:
    sub = Subscription(9, "telegram:-100", ALL, 60, Side.SHORT, 300 * M, origin="config")
    a = Alert(sub, AlertKind.FIRED, 301 * M, 1, 1, T, 1 * M, 301 * M)
    assert render_alerts([a]).lines[0].startswith("Broadcast: Market-wide shorts liquidated")
    mine = Subscription(57, "telegram:1", "BTC", 60, Side.TOTAL, 1 * M, number=1)
    b = Alert(mine, AlertKind.FIRED, 2 * M, 1, 1, T, 1 * M, 1 * M)
    assert render_alerts([b]).lines[0].startswith("#1 BTC liquidations")


def test_several_alerts_become_one_message_that_fits() -> None:
    many = [
        alert(sub_id=i, venues=(VenueSplit("binance", 1 * M, 300 * M),), gaps=("g",))
        for i in range(1, 51)
    ]
    msg = render_alerts(many)
    text = plain_text(msg)
    fits(msg)
    assert msg.title == "50 liquidation alerts"
    # all 50 alerts are still named even when details must be dropped to fit
    for i in (1, 25, 50):
        assert f"#{i} BTC shorts" in text
    # short as they are, the lines still carry the total
    assert msg.lines[0] == "#1 BTC shorts 1h $419.03M ≥ $400M, total $458.07M"
    assert text.count("Gap: g") == 1  # notes shared by alerts appear once


def test_two_alerts_keep_details() -> None:
    text = plain_text(render_alerts([alert(sub_id=1), alert(sub_id=2, coin="ETH")]))
    assert "#1 BTC" in text and "#2 ETH" in text and text.count("Total $") == 2


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
    statuses = [
        *UP,
        SourceStatus(
            "bybit", "down", T - 180_000, note="connection reset", fault=Fault.DISCONNECTED
        ),
    ]
    msg = render_liqs(_snapshot(), "BTC", 240, statuses)
    text = plain_text(msg)
    assert msg.title == "Liquidations: BTC, 4h"
    assert "Total $22.00M: longs $2.00M (9%), shorts $20.00M (91%)" in text
    assert msg.table is not None
    assert [r[0] for r in msg.table.rows] == ["Binance", "Bybit"]  # biggest first
    assert msg.table.rows[0] == ("Binance", "$1.50M", "$15.00M", "$16.50M")
    assert "Figures are partial: bybit lost its connection since 14:02 UTC." in msg.lines
    assert "connection reset" not in text  # the raw reason is for the log


def test_liqs_offline_is_one_plain_line() -> None:
    # what `liqbot run` shows with no network: three sources that never connected
    reason = "cannot connect: gaierror: [Errno -2] Name or service not known"
    statuses = [
        SourceStatus(v, "down", T - 180_000, note=reason, fault=Fault.CANNOT_CONNECT)
        for v in ("binance", "bybit", "okx")
    ]
    snap = Snapshot(
        T,
        served_windows=frozenset({60, 240, 720, 1440}),
        sources=("binance", "bybit", "okx"),
        gaps=("binance not connected yet", "bybit not connected yet", "okx not connected yet"),
    )
    msg = render_liqs(snap, ALL, None, statuses)
    assert plain_text(msg) == (
        "Liquidations: All coins\n"
        "No data yet: binance, bybit, okx cannot connect since 14:02 UTC.\n"
        "as of 14:05 UTC"
    )
    # one source back: its figures are shown, the others named as missing, not as sources
    statuses[0] = SourceStatus("binance", "up", T - 60_000, T - 1000, 12)
    msg = render_liqs(snap, ALL, None, statuses)
    assert msg.lines[0] == "Figures are partial: bybit, okx cannot connect since 14:02 UTC."
    assert msg.table is not None and "sources: binance\n" in msg.footer + "\n"


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
    assert msg.table.rows[1] == ("#1001", "BTC", "1h", "shorts", "$1.5B", "fired 2×, muted")
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
    statuses = [
        *UP,
        SourceStatus(
            "bybit", "down", T - 180_000, T - 200_000, 5, note="timeout", fault=Fault.TIMEOUT
        ),
    ]
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
    assert "Down: bybit timed out since 14:02 UTC" in text and "Windows served: 1h, 4h" in text
    assert "3/50 subscriptions" in text and "PAUSED (bot was blocked)" in text and "/start" in text
    assert "All alerts muted until 15:05 UTC" in text


def test_error_is_ephemeral_with_usage_and_example() -> None:
    with pytest.raises(CommandError) as info:
        parse_command("/subscribe btc 1h 4h")
    msg = render_error(info.value)
    assert msg.tone is Tone.ERROR and msg.ephemeral
    assert msg.lines[0] == "'4h' is a window; the amount comes third, like 100m"
    assert (
        "Usage: /subscribe <coin|all> <window|single> <amount|3x> [long|short|total] [on venue]"
        in msg.lines
    )
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
                         gaps=("down 14:02–14:05 UTC",), fault=Fault.CANNOT_CONNECT),
            SourceStatus("okx", "up", now - 600_000, gaps=("no data before 13:58 UTC",)),
        ],
        now,
        chat_subscriptions=1,
    )  # fmt: skip
    assert msg.title == "Status: a source is down"
    assert "Down: bybit cannot connect since 07:59 UTC" in msg.lines  # plain words, no raw error
    assert not any("timeout" in line for line in msg.lines)
    assert "bybit down 14:02–14:05 UTC" in msg.lines
    assert "okx no data before 13:58 UTC" in msg.lines
    assert sum("bybit" in line for line in msg.lines) == 2  # the current outage once


def test_after_the_demo_replay_the_figures_are_explained() -> None:
    done = SourceStatus(
        "replay", "up", T - 3600_000, T - 600_000, 11524, note="replay finished", fault=Fault.ENDED
    )
    snap = Snapshot(T, served_windows=frozenset({60, 240, 720, 1440}), sources=("replay",))
    over = (
        "The replay is over (it ended at 13:55 UTC): no new data arrives, so each window counts "
        "only replayed events still inside it and falls to $0 as they age out. Run liqbot demo "
        "again to replay the cascade."
    )
    assert over in render_liqs(snap, ALL, None, [done]).lines
    assert over in render_status([done], T, chat_subscriptions=0).lines
    running = SourceStatus("replay", "up", T - 60_000, T, 10, note="replaying 11524 events")
    assert not any("over" in line for line in render_liqs(snap, ALL, None, [running]).lines)


def test_status_title_counts_the_sources_down() -> None:
    down = [
        SourceStatus(v, "down", T, fault=Fault.CANNOT_CONNECT) for v in ("binance", "bybit", "okx")
    ]
    assert render_status(down, T, chat_subscriptions=0).title == "Status: every source is down"
    up = SourceStatus("binance", "up", T)
    assert render_status([up, *down[1:]], T, chat_subscriptions=0).title == (
        "Status: 2 sources are down"
    )
    assert render_status([up, up, down[2]], T, chat_subscriptions=0).title == (
        "Status: a source is down"
    )


def test_times_not_today_carry_their_date() -> None:
    at_1854 = T + (4 * 60 + 49) * 60_000  # 18:54 UTC: /mute btc 1d
    msg = render_muted("BTC", at_1854 + 86_400_000, at_1854)
    assert msg.lines[0] == "BTC alerts are muted until 14 Jan 18:54 UTC (1d)."
    assert (
        render_muted(None, T + 3600_000, T)
        .lines[0]
        .startswith("All alerts of this chat are muted until 15:05 UTC (1h)")
    )
    listing = render_list(_subs(1), {}, {None: T + 2 * 86_400_000}, T)
    assert "All alerts muted until 15 Jan 14:05 UTC (2d left)" in listing.lines


def test_subscribing_below_the_current_level_warns_it_fires_now() -> None:
    sub = Subscription(57, "telegram:1", "BTC", 60, Side.TOTAL, 5 * M, number=1)
    msg = render_subscribed(sub, 6.9 * M, served=True, used=1, cap=50)
    assert msg.lines[:3] == (
        "#1 BTC total over 1h above $5M",
        "Now: $6.90M (138% of the threshold)",
        "Warning: this fires now: the current total is already above your amount. Pick a "
        "higher amount for alerts on the next wave only.",
    )
    quiet = render_subscribed(sub, 1 * M, served=True, used=1, cap=50)
    assert not any("fires now" in line for line in quiet.lines)


def test_list_states_the_configured_policy() -> None:
    policy = Policy(rearm_ratio=0.5, min_quiet_ms=3600_000, escalation_factor=3)
    states = {1001: AlertState(1001, Status.FIRED, level=2, episode=1)}
    msg = render_list(_subs(2), states, {}, T, cap=50, policy=policy)
    assert msg.table is not None and msg.table.rows[1][-1] == "fired 3×"
    assert (
        "One alert per wave, one more at each 3× of the amount; it re-arms once the total is "
        "back below 50% of the amount, at least 1h after its first alert."
    ) in msg.lines


def test_liqs_all_coins_names_the_coins_that_carried_it() -> None:
    snap = day_snapshot(
        60, ("BTC", 10 * M, 380 * M), ("ETH", 5 * M, 250 * M), ("SOL", 1 * M, 41 * M),
        ("DOGE", 1 * M, 20 * M), ("XRP", 0.5 * M, 9 * M), rest=10 * M,
    )  # fmt: skip
    snap = Snapshot(T, snap.totals, served_windows=frozenset({60, 240, 720, 1440}))
    msg = render_liqs(snap, ALL, None, UP)
    assert "By coin, 1h: BTC $390.00M · ETH $255.00M · SOL $42.00M · others $30.50M" in msg.lines
    assert "By coin, 24h: BTC $400.00M · ETH $265.00M · SOL $52.00M · others $50.50M" in msg.lines
    one = render_liqs(snap, ALL, 60, UP)
    assert "By coin, 1h: BTC $390.00M · ETH $255.00M · SOL $42.00M · others $30.50M" in one.lines
    assert not any(line.startswith("By coin") for line in render_liqs(snap, "BTC", 60, UP).lines)


def test_rearm_note_without_quiet_time() -> None:
    note = AlertContext(policy=Policy(min_quiet_ms=0)).rearm_note()
    assert note == (
        "One alert per wave, one more at each 2× of the amount; it re-arms once the total is "
        "back below 80% of the amount."
    )
