"""`liqbot demo | run [--config PATH] | check-config [PATH] | init [PATH] | history COIN`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from bot.config import (
    SECRET_ENV,
    Config,
    ConfigError,
    Secrets,
    WebhookTargetConfig,
    parse_config,
    settings,
)
from bot.config.settings import Loaded
from bot.features import history
from bot.ops.logs import setup_logging
from bot.store import SchemaTooNewError
from bot.store.backend import unreadable
from bot.store.location import StoreUnavailableError, parse_location, redact, secrets_of

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
        for name in ("binance", "binance_coinm", "bybit", "bybit_inverse", "okx"):
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
    if a.debounce is not None:
        lines.append("note: alerts.debounce is no longer used (new data is evaluated at once)")
    lines.append(f"limits: {config.limits.subscriptions_per_chat} subscriptions per chat")
    port = os.environ.get("PORT", "").strip() or config.http.port
    lines.append(
        f"http: {config.http.host}:{port} (/healthz, /metrics)" if port is not None else "http: off"
    )
    if config.operators.chats:
        lines.append(f"operators: {', '.join(config.operators.chats)}")
    for b in config.broadcasts:
        lines.append(f"broadcast: {b.chat} <- {b.rule}")
    for w in config.webhooks:  # the URL may hold a token: named, not shown
        key = "set" if secrets.named(w.secret_env) else "NOT SET: the service will not start"
        lines.append(f"webhook {w.name} <- {w.rule} (secret ${w.secret_env}: {key})")
    for d in config.digests:
        lines.append(f"digest: {d.chat} daily at {d.at} {d.tz}")
    return "\n".join(lines)


def origins_table(loaded: Loaded) -> str:
    """Every effective key, its value and where it came from; secrets only say whether set."""
    rows = [
        (key, _show(settings.value_at(loaded.config, key)), str(origin))
        for key, origin in loaded.origins.items()
    ]
    rows += [
        (var, *(("set", "environment") if getattr(loaded.secrets, field) else ("not set", "")))
        for field, var in SECRET_ENV.items()
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = min(44, max(len(r[1]) for r in rows))
    return "\n".join(f"  {k:<{width}}  {v:<{vwidth}}  {o}".rstrip() for k, v, o in rows)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        shown = value.model_dump()
        if isinstance(value, WebhookTargetConfig):
            shown["url"] = value.shown_url  # the path or query may hold a token
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in shown.items()) + "}"
    return '""' if value == "" else redact(str(value))  # a password in storage.url: ***


def run_banner(loaded: Loaded, console: bool, log_target: str) -> str:
    """What runs and how to stop it, printed at start (the console chat's first lines)."""
    where = (
        f"config: {loaded.file}"
        if loaded.file
        else "no config.yaml: running on the defaults (liqbot init writes a documented one)"
    )
    envs = sorted({o.detail for o in loaded.origins.values() if o.kind == settings.ENV})
    if envs:
        where += "; from the environment: " + ", ".join(envs)
    stop = "type quit or press Ctrl+C to stop" if console else "stop with SIGINT or SIGTERM"
    return "\n".join(
        [
            f"liqbot run: {where}",
            explain(loaded.config, loaded.secrets),
            *(["console: this terminal is a chat (try /liqs, /status, /help)"] if console else []),
            f"logs: {log_target}",
            stop,
        ]
    )


def init_config(path: str) -> int:
    """Write the documented example config; never overwrite."""
    target = Path(path)
    if target.exists():
        print(f"liqbot: {target} already exists; not overwriting it", file=sys.stderr)
        return 1
    text = (resources.files("bot") / "data" / "config.example.yaml").read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: every key is optional; check it with: liqbot check-config {target}")
    return 0


def _log_target(config: Config, console: bool, interactive: bool) -> str:
    """Logs go to logging.file; with a console chat in a terminal, to a file beside the storage."""
    if config.logging.file:
        return config.logging.file
    if console and interactive:  # log lines would bury the prompt
        return str(Path(config.storage.path).expanduser().parent / "liqbot.log")
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="liqbot", description="Crypto liquidation alerts for Telegram, Discord and the console"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="offline demo: a replayed cascade and a console chat")
    d.add_argument("--speed", type=float, default=60, help="market seconds per real second")
    d.add_argument("--storage", help="SQLite file (default: a fresh temporary one)")
    d.add_argument("--verbose", action="store_true", help="show the service's log lines")
    config_help = "YAML config (default: $LIQBOT_CONFIG, else config.yaml if it exists)"
    r = sub.add_parser("run", help="run the service")
    r.add_argument("--config", help=config_help)
    c = sub.add_parser("check-config", help="validate the config and say where each value is from")
    c.add_argument("path", nargs="?", help=config_help)
    i = sub.add_parser("init", help="write the documented example config (never overwrites)")
    i.add_argument("path", nargs="?", default="config.yaml", help="default: config.yaml")
    history.add_parser(sub)
    args = parser.parse_args(argv)
    if args.cmd == "history":
        try:
            return asyncio.run(history.run_history(args))
        except KeyboardInterrupt:
            return 130
    if args.cmd == "init":
        return init_config(args.path)

    from bot.runtime import app

    store = "the store"  # the SQLite file, once the config names it
    try:
        if args.cmd == "check-config":
            loaded = settings.load(args.path)
            print(explain(loaded.config, loaded.secrets))
            print("\nwhere each value comes from:")
            print(origins_table(loaded))
            print(f"\nconfig OK ({loaded.file or 'no file: defaults and environment'})")
            return 0
        if args.cmd == "demo":
            if not 0 < args.speed <= 100_000:
                parser.error("--speed must be between 0 and 100000")
            config = demo_config(args.speed, args.storage)
            store = config.storage.path
            setup_logging("INFO" if args.verbose else "WARNING", Secrets.from_env().all())
            return asyncio.run(
                app.run(
                    config,
                    Secrets(),  # the demo never talks to a platform, whatever the environment holds
                    exit_when_replay_done=not sys.stdin.isatty(),
                    banner=DEMO_BANNER.format(speed=args.speed),
                )
            )
        if args.cmd == "run":
            loaded = settings.load(args.config)
            config, secrets = loaded.config, loaded.secrets
            store = parse_location(config.storage.location).shown
            console = app.console_enabled(config, secrets)
            target = _log_target(config, console, sys.stdin.isatty())
            log = config.logging
            masked = secrets.all() + secrets_of(config.storage.url)  # the store's password too
            setup_logging(log.level, masked, fmt=log.format, file=target)
            banner = run_banner(loaded, console, target or "stderr")
            return asyncio.run(app.run(config, secrets, banner=banner))
    except ConfigError as e:
        print(f"liqbot: {e}", file=sys.stderr)
        return 2
    except (StoreUnavailableError, SchemaTooNewError) as e:  # redacted: never a password
        print(f"liqbot: {e}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:  # damage that the opening checks could not see
        print(f"liqbot: {unreadable(store, e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
