from pathlib import Path

import pytest
import yaml

from bot.config import Config, ConfigError, Secrets, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


def test_example_documents_the_defaults() -> None:
    # the example file is the documentation: it must load and say exactly what the defaults are
    assert load_config(EXAMPLE) == Config()


def test_required_keys_exist_with_real_endpoints() -> None:
    c = Config()
    assert c.storage.path
    assert c.telegram.base_url == "https://api.telegram.org/bot"
    assert c.sources.binance.url.startswith("wss://fstream.binance.com/market/")
    assert c.sources.bybit.rest_url == "https://api.bybit.com"
    assert c.sources.okx.rest_url == "https://www.okx.com"
    assert c.sources.coinglass.endpoint == "https://open-api-v4.coinglass.com"
    assert c.alerts.rearm_ratio == 0.8
    assert c.alerts.min_quiet == 15 * 60
    assert c.limits.subscriptions_per_chat == 50


def test_durations_and_aliases() -> None:
    c = parse_config(
        {
            "alerts": {"min_quiet": "2h", "tick": 5},
            "sources": {"coinglass": {"base_url": "http://x"}},
        }
    )
    assert c.alerts.min_quiet == 7200 and c.alerts.tick == 5
    assert c.sources.coinglass.endpoint == "http://x"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"alerts": {"rearm_ratio": 1.5}}, "alerts.rearm_ratio"),
        ({"alerts": {"min_quiet": "soon"}}, "alerts.min_quiet"),
        ({"limits": {"subscriptions_per_chat": 0}}, "limits.subscriptions_per_chat"),
        ({"sources": {"bybit": {"enabld": True}}}, "sources.bybit.enabld: unknown key"),
        ({"telegram": {"mode": "push"}}, "telegram.mode"),
        ({"storag": {}}, "storag: unknown key"),
        ({"broadcasts": [{"chat": "nowhere", "rule": "btc 1h 100m"}]}, "broadcasts.0.chat"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_config_names_the_key(data: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        parse_config(data)


@pytest.mark.parametrize(
    ("chat", "key"),
    [("-100123", "telegram:-100123"), ("@chan", "telegram:@chan"),
     ("discord:42", "discord:channel:42"), ("console:local", "console:local")],
)  # fmt: skip
def test_broadcast_chats(chat: str, key: str) -> None:
    c = parse_config({"broadcasts": [{"chat": chat, "rule": "btc 1h 100m"}]})
    assert c.broadcasts[0].chat == key


def test_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("storage: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"storage": {"path": "x.db"}}))
    assert load_config(ok).storage.path == "x.db"


def test_secrets_come_from_env_and_never_print() -> None:
    s = Secrets.from_env({"TELEGRAM_BOT_TOKEN": " 123:abc ", "COINGLASS_API_KEY": "k3y"})
    assert s.telegram_token == "123:abc" and s.discord_token == ""
    assert "123:abc" not in repr(s) and "k3y" not in repr(s) and "k3y" not in str(s)
    assert s.all() == ("123:abc", "k3y")


def test_webhook_mode_needs_a_public_url() -> None:
    with pytest.raises(ConfigError, match=r"telegram: .*webhook\.url"):
        parse_config({"telegram": {"mode": "webhook"}})
    c = parse_config(
        {"telegram": {"mode": "webhook", "webhook": {"url": "https://bot.example/tg"}}}
    )
    assert c.telegram.webhook.url == "https://bot.example/tg"


def test_binance_watchdog_allows_a_quiet_market() -> None:
    # Binance sends no keep-alive frames: ten quiet minutes are a calm market, not an outage
    assert Config().sources.binance.watchdog == 600
    assert Config().sources.bybit.watchdog == 90


def test_partial_source_keeps_its_defaults() -> None:
    c = parse_config({"sources": {"bybit": {"enabled": False}, "okx": {"watchdog": "2m"}}})
    assert not c.sources.bybit.enabled
    assert c.sources.bybit.url == "wss://stream.bybit.com/v5/public/linear"
    assert c.sources.okx.watchdog == 120 and c.sources.okx.rest_url == "https://www.okx.com"


def test_debounce_is_accepted_but_ignored_and_check_config_says_so() -> None:
    from bot.cli import explain

    old = parse_config({"alerts": {"debounce": 0.5}})  # a config written before issue 9 loads
    assert "alerts.debounce is no longer used" in explain(old, Secrets())
    assert "debounce" not in explain(Config(), Secrets())
