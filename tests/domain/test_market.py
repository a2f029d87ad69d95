import pytest

from bot.domain.market import (
    MarketError,
    coin_from_base,
    coin_from_symbol,
    format_duration,
    parse_duration,
    parse_side,
    parse_window,
    resolve_coin,
    window_label,
)
from bot.domain.models import ALL, Side


@pytest.mark.parametrize(
    ("symbol", "coin"),
    [
        # Binance USDⓈ-M: perpetuals, multipliers, USDC, quarterlies
        ("BTCUSDT", "BTC"),
        ("ETHUSDC", "ETH"),
        ("BTCUSDC", "BTC"),
        ("1000PEPEUSDT", "PEPE"),
        ("1000000MOGUSDT", "MOG"),
        ("1MBABYDOGEUSDT", "BABYDOGE"),
        ("10000SATSUSDT", "SATS"),
        ("1000SATSUSDT", "SATS"),
        ("1000BONKUSDT", "BONK"),
        ("1000SHIBUSDT", "SHIB"),
        ("1INCHUSDT", "1INCH"),  # a digit that is part of the name, not a multiplier
        ("BTCUSDT_210924", "BTC"),  # a USDⓈ-M quarterly
        ("ROSEUSDT", "ROSE"),
        ("SUSDT", "S"),
        # Binance COIN-M
        ("BTCUSD_PERP", "BTC"),
        ("BTCUSD_200925", "BTC"),
        ("ETHUSD_211231", "ETH"),
        # Bybit: multiplier after the coin, USDC perpetuals, inverse perpetuals and futures
        ("SHIB1000USDT", "SHIB"),
        ("SHIB1000PERP", "SHIB"),
        ("BTCPERP", "BTC"),
        ("ETHPERP", "ETH"),
        ("BTCUSD", "BTC"),
        ("ETHUSDH25", "ETH"),
        ("BTCUSDZ24", "BTC"),
        ("BTC-27DEC24", "BTC"),
        ("10000000AIDOGEUSDT", "AIDOGE"),
        # OKX
        ("BTC-USDT-SWAP", "BTC"),
        ("BTC-USDC-SWAP", "BTC"),
        ("BTC-USD-SWAP", "BTC"),
        ("BTC-USD-250328", "BTC"),
        ("BTC-USD-250926", "BTC"),
        ("IOST-USDT-SWAP", "IOST"),
        # Gate
        ("BTC_USDT", "BTC"),
    ],
)
def test_coin_from_symbol(symbol: str, coin: str) -> None:
    assert coin_from_symbol(symbol) == coin


@pytest.mark.parametrize(
    ("base", "coin"),
    [
        ("1000PEPE", "PEPE"),  # Binance baseAsset
        ("SHIB1000", "SHIB"),  # Bybit baseCoin
        ("1000000MOG", "MOG"),
        ("1MBABYDOGE", "BABYDOGE"),
        ("1INCH", "1INCH"),
        ("BTC", "BTC"),
        ("btc", "BTC"),
        ("A8", "A8"),  # a digit at the end that is no multiplier
        ("C98", "C98"),
    ],
)
def test_coin_from_base(base: str, coin: str) -> None:
    assert coin_from_base(base) == coin


@pytest.mark.parametrize(
    ("typed", "coin"),
    [
        ("btc", "BTC"),
        ("BTC", "BTC"),
        ("bitcoin", "BTC"),
        ("xbt", "BTC"),
        ("$eth", "ETH"),
        ("ether", "ETH"),
        ("all", ALL),
        ("ALL", ALL),
        ("btcusdt", "BTC"),
        ("1000pepeusdt", "PEPE"),
        ("shib1000usdt", "SHIB"),
    ],
)
def test_resolve_coin(typed: str, coin: str) -> None:
    assert resolve_coin(typed) == coin


def test_resolve_coin_knows_coins_seen_in_data() -> None:
    assert resolve_coin("newcoin", known=frozenset({"NEWCOIN"})) == "NEWCOIN"


@pytest.mark.parametrize(
    ("typed", "suggestion"), [("btcc", "btc"), ("etj", "eth"), ("sol1", "sol")]
)
def test_unknown_coin_suggests_nearest(typed: str, suggestion: str) -> None:
    with pytest.raises(MarketError, match=f"did you mean .*{suggestion}"):
        resolve_coin(typed)


def test_unknown_coin_without_neighbour_gets_examples() -> None:
    with pytest.raises(MarketError, match="try btc, eth, sol or all"):
        resolve_coin("qqqqqqqq")


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [("5m", 5), ("15m", 15), ("30m", 30), ("1h", 60), ("2h", 120), ("4h", 240), ("12h", 720),
     ("24h", 1440), ("1d", 1440), ("1H", 60), ("60m", 60)],
)  # fmt: skip
def test_parse_window(typed: str, minutes: int) -> None:
    assert parse_window(typed) == minutes


@pytest.mark.parametrize("typed", ["3h", "7m", "1w", "abc", "0h", ""])
def test_unknown_window_lists_valid_ones(typed: str) -> None:
    with pytest.raises(MarketError, match="5m, 15m, 30m, 1h, 2h, 4h, 12h, 24h"):
        parse_window(typed)


@pytest.mark.parametrize(("minutes", "label"), [(5, "5m"), (60, "1h"), (1440, "24h"), (720, "12h")])
def test_window_label(minutes: int, label: str) -> None:
    assert window_label(minutes) == label


@pytest.mark.parametrize(
    ("typed", "side"),
    [("long", Side.LONG), ("longs", Side.LONG), ("L", Side.LONG), ("short", Side.SHORT),
     ("Shorts", Side.SHORT), ("s", Side.SHORT), ("total", Side.TOTAL), ("both", Side.TOTAL)],
)  # fmt: skip
def test_parse_side(typed: str, side: Side) -> None:
    assert parse_side(typed) is side


def test_unknown_side() -> None:
    with pytest.raises(MarketError, match="long, short or total"):
        parse_side("sideways")


@pytest.mark.parametrize(
    ("typed", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("90s", 90), ("1w", 604800)]
)
def test_parse_duration(typed: str, seconds: int) -> None:
    assert parse_duration(typed) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("typed", "needle"), [("0m", "above zero"), ("31d", "longest"), ("x", "not a duration")]
)
def test_bad_duration(typed: str, needle: str) -> None:
    with pytest.raises(MarketError, match=needle):
        parse_duration(typed)
