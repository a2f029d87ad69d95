"""The http: and operators: config sections, $PORT, and one metrics registry per service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import Config, ConfigError, Secrets, parse_config
from bot.ops.http_server import PortError, resolve_port
from bot.ops.metrics import Metrics
from bot.runtime import app
from tests.offline import sources_off


def test_defaults_keep_the_server_off_and_on_this_machine_only() -> None:
    c = Config()
    assert c.http.port is None and c.http.host == "127.0.0.1"  # the image sets 0.0.0.0
    assert (c.http.stale_after, c.http.no_source_for, c.http.outbox_stuck_after) == (120, 300, 600)
    assert c.operators.chats == () and c.operators.heartbeat == ""


def test_operators_as_a_list_or_a_mapping() -> None:
    short = parse_config({"operators": [123, "-100777", "discord:456", "console:local"]})
    assert short.operators.chats == (
        "telegram:123",
        "telegram:-100777",
        "discord:channel:456",
        "console:local",
    )
    full = parse_config(
        {"operators": {"chats": ["@ops"], "source_down_after": "2m", "heartbeat": "9:05"}}
    )
    assert full.operators.chats == ("telegram:@ops",)
    assert full.operators.source_down_after == 120 and full.operators.heartbeat == "09:05"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"operators": ["nowhere"]}, "operators.chats"),
        ({"operators": {"heartbeat": "25:00"}}, "operators.heartbeat"),
        ({"operators": {"check_every": 0}}, "operators.check_every"),
        ({"http": {"port": 70000}}, "http.port"),
        ({"http": {"prot": 8080}}, "http.prot: unknown key"),
        ({"telegram": {"webhook": {"port": 8443}}}, "the one HTTP port"),
    ],
)
def test_bad_values_name_the_key(data: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        parse_config(data)


def test_port_from_the_environment_wins() -> None:
    assert resolve_port(None, {}) is None
    assert resolve_port(8080, {}) == 8080
    assert resolve_port(8080, {"PORT": "9090"}) == 9090
    assert resolve_port(None, {"PORT": " 0 "}) == 0
    assert resolve_port(8080, {"PORT": ""}) == 8080
    for bad in ("http", "-1", "99999"):
        with pytest.raises(PortError):
            resolve_port(None, {"PORT": bad})


def test_a_bad_port_stops_the_cli_with_a_readable_message(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "storage": {"path": str(tmp_path / "c.sqlite3")},
                "sources": sources_off(),
                "console": {"enabled": "off"},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(cfg)],
        env=env | {"PORT": "web"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "PORT must be a port number" in proc.stderr and "Traceback" not in proc.stderr


async def test_each_service_has_its_own_registry(tmp_path: Path) -> None:
    def config(name: str):
        return parse_config(
            {
                "storage": {"path": str(tmp_path / f"{name}.sqlite3")},
                "sources": {"replay": {"enabled": True, "url": "demo"}},
                "console": {"enabled": "off"},
            }
        )

    a = await app.build(config("a"), Secrets())
    b = await app.build(config("b"), Secrets())
    try:
        assert a.ops is not None and b.ops is not None
        assert a.ops.metrics.registry is not b.ops.metrics.registry
        a.ops.metrics.delivery("console", "sent")
        assert 'outcome="sent",platform="console"} 1.0' in a.ops.metrics.exposition().decode()
        assert 'platform="console"} 1.0' not in b.ops.metrics.exposition().decode()
    finally:
        await app.stop(a)
        await app.stop(b)


def test_events_are_counted_per_venue_even_in_a_mixed_batch() -> None:
    from bot.domain.models import Liquidation, Side

    m = Metrics()
    m.events([Liquidation("binance", "BTC", Side.LONG, 1.0, 0)] * 3)
    m.events(
        [
            Liquidation("bybit", "BTC", Side.LONG, 1.0, 0),
            Liquidation("okx", "ETH", Side.SHORT, 1, 0),
        ]
    )
    text = m.exposition().decode()
    assert 'liqbot_events_total{venue="binance"} 3.0' in text
    assert 'liqbot_events_total{venue="bybit"} 1.0' in text
    assert 'liqbot_events_total{venue="okx"} 1.0' in text


def test_check_config_says_where_the_port_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import explain

    monkeypatch.delenv("PORT", raising=False)
    assert "http: off" in explain(Config(), Secrets())
    c = parse_config({"http": {"port": 8080}, "operators": [42]})
    assert "http: 127.0.0.1:8080 (/healthz, /metrics)" in explain(c, Secrets())
    assert "operators: telegram:42" in explain(c, Secrets())
    monkeypatch.setenv("PORT", "9000")
    assert "http: 127.0.0.1:9000" in explain(c, Secrets())
