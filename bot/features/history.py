"""`liqbot history <coin>`: CoinGlass liquidation history as a table or a CSV for backtests.

Needs COINGLASS_API_KEY. Every failure is one line on stderr and an exit code (2: bad input or
set-up, 1: CoinGlass or the network failed); never a traceback, never the key.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime

from bot.config import ConfigError, Secrets, settings
from bot.domain.coinglass_payloads import HistoryPoint
from bot.domain.market import MarketError, resolve_coin
from bot.domain.message import Table, table_text
from bot.domain.models import ALL
from bot.domain.money import format_usd
from bot.sources.coinglass import (
    HISTORY_INTERVALS,
    HISTORY_MAX_LIMIT,
    CoinGlassAPIError,
    CoinGlassSource,
)

CSV_HEADER = ("time_utc", "longs_usd", "shorts_usd", "total_usd")


def add_parser(sub: argparse._SubParsersAction) -> None:
    h = sub.add_parser(
        "history",
        help="CoinGlass liquidation history of one coin (table, or CSV for backtests)",
        description="Liquidation history of one coin, aggregated over the exchanges CoinGlass "
        "tracks for the bot (Binance, OKX, Bybit). Needs COINGLASS_API_KEY.",
    )
    h.add_argument("coin", help="a coin: btc, eth, sol ...")
    h.add_argument(
        "--interval",
        default="1h",
        help="bucket size: " + " ".join(HISTORY_INTERVALS) + " (default 1h)",
    )
    h.add_argument(
        "--limit",
        type=int,
        default=168,
        help=f"number of buckets, the latest ones (1-{HISTORY_MAX_LIMIT}, default 168)",
    )
    h.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    h.add_argument("--config", metavar="PATH", help="YAML config (sources.coinglass.base_url)")


def _fail(code: int, text: str, key: str = "") -> int:
    if key:
        text = text.replace(key, "***")
    print(f"liqbot history: {text}", file=sys.stderr)
    return code


def utc_label(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def history_table(points: list[HistoryPoint]) -> list[str]:
    rows = tuple(
        (utc_label(p.time_ms), format_usd(p.longs), format_usd(p.shorts), format_usd(p.total))
        for p in points
    )
    return table_text(Table(("time (UTC)", "longs", "shorts", "total"), rows))


def write_csv(path: str, points: list[HistoryPoint]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for p in points:
            iso = datetime.fromtimestamp(p.time_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.writerow((iso, f"{p.longs:.2f}", f"{p.shorts:.2f}", f"{p.total:.2f}"))


async def run_history(args: argparse.Namespace) -> int:
    secrets = Secrets.from_env()
    key = secrets.coinglass_key.get_secret_value()
    if not key:
        return _fail(
            2, "COINGLASS_API_KEY is not set; history comes from CoinGlass and needs its API key"
        )
    if args.interval not in HISTORY_INTERVALS:
        return _fail(
            2,
            f"unknown interval {args.interval!r}; use one of " + " ".join(HISTORY_INTERVALS),
        )
    if not 1 <= args.limit <= HISTORY_MAX_LIMIT:
        return _fail(2, f"--limit must be between 1 and {HISTORY_MAX_LIMIT}")
    try:
        coin = resolve_coin(args.coin)
    except MarketError as e:
        return _fail(2, str(e))
    if coin == ALL:
        return _fail(2, "history is per coin: name one, like btc")
    try:
        config = settings.load(args.config).config  # the same file and LIQBOT_ overrides as run
    except ConfigError as e:
        return _fail(2, "; ".join(line.strip() for line in str(e).splitlines()), key)

    source = CoinGlassSource(key, base_url=config.sources.coinglass.endpoint)
    try:
        points = await source.history(coin, interval=args.interval, limit=args.limit)
    except ValueError as e:
        return _fail(2, str(e), key)
    except CoinGlassAPIError as e:
        return _fail(1, str(e), key)
    except Exception as e:  # a last guard: one line, no traceback, no key
        return _fail(1, f"unexpected error: {type(e).__name__}", key)
    finally:
        await source.aclose()

    exchanges = ", ".join(source.exchanges)
    print(f"{coin} liquidations per {args.interval} ({exchanges}; CoinGlass), oldest first")
    if points:
        print("\n".join(history_table(points)))
    else:
        print("no data for this coin and interval")
    if args.csv:
        try:
            write_csv(args.csv, points)
        except OSError as e:
            return _fail(1, f"cannot write {args.csv}: {e.strerror or type(e).__name__}")
        print(f"wrote {len(points)} rows to {args.csv}")
    return 0
