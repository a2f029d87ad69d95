"""`liqbot demo | run --config PATH | check-config PATH | history COIN`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bot import history
from bot.config import Config, ConfigError, Secrets, load_config, parse_config
from bot.logs import setup_logging
from bot.store.location import parse_location, secrets_of

DEMO_BANNER = """\
liqbot demo: a SYNTHETIC replay shaped after the 2026-01-13 short squeeze ($458M in an hour),
played {speed:g}x faster than real time. A quiet market for ~10 minutes of market time, then the wave.
This console is a chat like Telegram or Discord. Try:
  /subscribe btc 1h 100m        /liqs        /liqs btc 1h        /list        /status        /help
The console already receives a demo broadcast: all coins, shorts above $300M within 1h.
Type quit to leave."""


def demo_config(speed: float, storage: str | None) -> Config:
    path = storage or str(Path(tempfile.mkdtemp(prefix="liqbot-demo-")) / "demo.sqlite3")
    return parse_config(
        {
            "storage": {"path": path},
            "sources": {"replay": {"enabled": True, "url": "demo", "speed": speed}},
            "console": {"enabled": "on"},
            "telegram": {"enabled": False},
            "discord": {"enabled": False},
            "broadcasts": [{"chat": "console:local", "rule": "all 1h 300m shorts"}],
            "logging": {"level": "WARNING"},
        },
        origin="demo config",
    )


def explain(config: Config, secrets: Secrets) -> str:
    """What the service would do with this config, in plain words (no secret shown)."""
    from bot.app import check_broadcasts

    s = config.sources
    shown = parse_location(config.storage.location).shown
    lines = [f"storage: {shown} (buckets kept {config.storage.retention_days} days)"]
    for name, on, why in (
        ("telegram", config.telegram.enabled, "TELEGRAM_BOT_TOKEN"),
        ("discord", config.discord.enabled, "DISCORD_BOT_TOKEN"),
    ):
        token = getattr(secrets, f"{name}_token")
        state = "on" if on and token else ("off (no " + why + ")" if on else "off (disabled)")
        lines.append(f"{name}: {state}")
    if s.replay.enabled:
        lines.append(f"sources: replay of {s.replay.url} at {s.replay.speed:g}x (live feeds off)")
    else:
        for name in ("binance", "binance_coinm", "bybit", "okx"):
            src = getattr(s, name)
            lines.append(f"source {name}: {'on, ' + src.url if src.enabled else 'off'}")
        cg = s.coinglass
        cg_state = (
            f"on, {cg.endpoint}, every {cg.poll}s"
            if cg.enabled and secrets.coinglass_key
            else ("off (no COINGLASS_API_KEY)" if cg.enabled else "off")
        )
        lines.append(f"source coinglass: {cg_state}")
    a = config.alerts
    lines.append(
        f"alerts: re-arm below {a.rearm_ratio:.0%} of the threshold after at least "
        f"{a.min_quiet}s; escalate at x{a.escalation_factor:g}; evaluate every {a.tick}s"
    )
    lines.append(f"limits: {config.limits.subscriptions_per_chat} subscriptions per chat")
    port = os.environ.get("PORT", "").strip() or config.http.port
    lines.append(
        f"http: {config.http.host}:{port} (/healthz, /metrics)" if port is not None else "http: off"
    )
    if config.operators.chats:
        lines.append(f"operators: {', '.join(config.operators.chats)}")
    for b in config.broadcasts:
        lines.append(f"broadcast: {b.chat} <- {b.rule}")
    problems = check_broadcasts(config)
    if problems:
        raise ConfigError("the config is not valid:\n" + "\n".join("  " + p for p in problems))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="liqbot", description="Crypto liquidation alerts for Telegram, Discord and the console"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="offline demo: a replayed cascade and a console chat")
    d.add_argument("--speed", type=float, default=60, help="market seconds per real second")
    d.add_argument("--storage", help="SQLite file (default: a fresh temporary one)")
    d.add_argument("--verbose", action="store_true", help="show the service's log lines")
    r = sub.add_parser("run", help="run the service")
    r.add_argument("--config", default="config.yaml", help="YAML config (default config.yaml)")
    c = sub.add_parser("check-config", help="validate a config file and explain it")
    c.add_argument("path")
    history.add_parser(sub)
    args = parser.parse_args(argv)
    if args.cmd == "history":
        try:
            return asyncio.run(history.run_history(args))
        except KeyboardInterrupt:
            return 130
    secrets = Secrets.from_env()

    from bot import app

    try:
        if args.cmd == "check-config":
            config = load_config(args.path)
            print(explain(config, secrets))
            print("\nconfig OK")
            return 0
        if args.cmd == "demo":
            if not 0 < args.speed <= 100_000:
                parser.error("--speed must be between 0 and 100000")
            config = demo_config(args.speed, args.storage)
            setup_logging("INFO" if args.verbose else "WARNING", secrets.all())
            return asyncio.run(
                app.run(
                    config,
                    Secrets(),  # the demo never talks to a platform, whatever the environment holds
                    exit_when_replay_done=not sys.stdin.isatty(),
                    banner=DEMO_BANNER.format(speed=args.speed),
                )
            )
        if args.cmd == "run":
            if os.path.exists(args.config) or args.config != "config.yaml":
                config = load_config(args.config)
            else:
                config = Config()  # no file: the documented defaults
            explain(config, secrets)  # validates the broadcast rules too
            setup_logging(config.logging.level, secrets.all() + secrets_of(config.storage.url))
            return asyncio.run(app.run(config, secrets))
    except ConfigError as e:
        print(f"liqbot: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
