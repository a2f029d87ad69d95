import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.money import MAX_THRESHOLD, MoneyError, format_threshold, format_usd, parse_money


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("100m", 100e6),
        ("1bn", 1e9),
        ("1mln", 1e6),
        ("2.5MN", 2.5e6),
        ("3 bln", 3e9),
        ("$1bn", 1e9),
        ("100M", 100e6),
        ("1.5b", 1.5e9),
        ("1.5B", 1.5e9),
        ("250k", 250e3),
        ("$400M", 400e6),
        ("$400m", 400e6),
        ("400000000", 400e6),
        ("1,000,000", 1e6),
        ("$1,000,000", 1e6),
        ("1,5m", 1.5e6),  # decimal comma
        (".5m", 0.5e6),
        ("100musd", 100e6),
        (" 2b ", 2e9),
        ("1t", 1e12),
        ("950", 950.0),
    ],
)
def test_parse_money(text: str, usd: float) -> None:
    assert parse_money(text) == pytest.approx(usd)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0", "above zero"),
        ("0m", "above zero"),
        ("-5m", "positive"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("1.5.5m", "not an amount"),
        ("5x", "not an amount"),
        ("2t", "more than"),
        ("1e9", "not an amount"),
        ("m", "not an amount"),
    ],
)
def test_parse_money_errors(text: str, needle: str) -> None:
    with pytest.raises(MoneyError, match=needle):
        parse_money(text)


@pytest.mark.parametrize(
    ("usd", "text"),
    [
        (819_850, "$819.85K"),
        (6_080_000, "$6.08M"),
        (397_040_000, "$397.04M"),
        (1_200_000_000, "$1.20B"),
        (19e9, "$19.00B"),
        (950, "$950"),
        (0, "$0"),
        (999_999, "$1.00M"),  # rounds up into the next unit, never "$1000.00K"
        (999_994, "$999.99K"),
        (-6_080_000, "-$6.08M"),
    ],
)
def test_format_usd(usd: float, text: str) -> None:
    assert format_usd(usd) == text


@pytest.mark.parametrize(
    ("usd", "text"), [(100e6, "$100M"), (1.5e9, "$1.5B"), (250e3, "$250K"), (400e6, "$400M")]
)
def test_format_threshold(usd: float, text: str) -> None:
    assert format_threshold(usd) == text


@given(st.floats(min_value=1, max_value=MAX_THRESHOLD))
def test_threshold_round_trips(usd: float) -> None:
    # what we show a user parses back to (nearly) the same amount
    assert parse_money(format_threshold(usd)) == pytest.approx(usd, rel=0.01)


@given(st.text(max_size=30))
def test_parse_money_raises_only_its_own_error(text: str) -> None:
    try:
        value = parse_money(text)
    except MoneyError:
        return
    assert 0 < value <= MAX_THRESHOLD
