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


# every bad config a user really wrote, with the exact lines the program answers
BAD_CONFIGS = [
    ({"alerts": {"rearm_ratio": 1.5}}, ["alerts.rearm_ratio: Input should be less than 1"]),
    ({"alerts": {"min_quiet": "soon"}}, ["alerts.min_quiet: 'soon' is not a duration; write it like 30m, 2h or 1d"]),
    ({"limits": {"subscriptions_per_chat": 0}}, ["limits.subscriptions_per_chat: Input should be greater than or equal to 1"]),
    ({"sources": {"bybit": {"enabld": True}}}, ["sources.bybit.enabld: unknown key (see config.example.yaml for the valid ones)"]),
    ({"telegram": {"mode": "push"}}, ["telegram.mode: Input should be 'polling' or 'webhook'"]),
    ({"storag": {}}, ["storag: unknown key (see config.example.yaml for the valid ones)"]),
    ({"broadcasts": [{"chat": "nowhere", "rule": "btc 1h 100m"}]},
     ["broadcasts.0.chat: expected a Telegram chat id (-100123), a @channelname, discord:<channel id> or console:local"]),
    ([1, 2], []),
    # a key written but left empty: say so, rather than "Input should be a valid number"
    ({"alerts": {"rearm_ratio": None}}, ["alerts.rearm_ratio: no value (write one, or remove the key to use its default)"]),
    # a replay file that does not exist is found now, not once the service runs
    ({"sources": {"replay": {"enabled": True, "url": "no/such/file.jsonl"}}},
     ["sources.replay.url: replay file not found: no/such/file.jsonl"]),
    # every mistake in one pass: a bad chat and two bad rules together
    ({"broadcasts": [{"chat": "nowhere", "rule": "btc 1h"}, {"chat": "@a", "rule": "btc 3h 100m"}]},
     ["broadcasts.0.chat: expected a Telegram chat id (-100123), a @channelname, discord:<channel id> or console:local",
      "broadcasts.0.rule: the amount is missing",
      "broadcasts.1.rule: unknown window '3h'; use one of 5m, 15m, 30m, 1h, 2h, 4h, 12h, 24h (1d = 24h)"]),
    ({"broadcasts": [{"chat": True, "rule": "btc 1h 100m"}]},
     ["broadcasts.0.chat: expected a chat id (-100123) or a name like @channel"]),
]  # fmt: skip


@pytest.mark.parametrize(("data", "lines"), BAD_CONFIGS)
def test_bad_config_names_the_key(data: object, lines: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = str(err.value)
    if not lines:
        assert text == "config: the file must be a mapping of keys (storage:, sources: ...)"
    else:
        assert text.splitlines() == ["config is not valid:", *("  " + line for line in lines)]


def test_a_commented_out_section_means_its_defaults() -> None:
    # `alerts:` with every key commented out is YAML null: it means the defaults, not an error
    data = yaml.safe_load("alerts:\n  # rearm_ratio: 0.8\nbroadcasts:\nsources:\n  okx:\n")
    assert parse_config(data) == Config()


def test_numeric_chat_ids_are_accepted() -> None:
    # the README writes the channel id as a number; YAML reads it as an int
    data = yaml.safe_load("broadcasts:\n  - chat: -1001234567890\n    rule: all 1h 400m shorts\n")
    assert parse_config(data).broadcasts[0].chat == "telegram:-1001234567890"


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
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    # the position and the reason
    assert str(err.value) == (
        f"{bad} is not valid YAML at line 2, column 1: "
        "expected the node content, but found '<stream end>' (while parsing a flow node)"
    )
    tab = tmp_path / "tab.yaml"
    tab.write_text("alerts:\n\trearm_ratio: 0.7\n")
    with pytest.raises(
        ConfigError, match=r"at line 2, column 1: found character '\\t' that cannot"
    ):
        load_config(tab)
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"storage": {"path": "x.db"}}))
    assert load_config(ok).storage.path == "x.db"


def test_secrets_come_from_env_and_never_print() -> None:
    s = Secrets.from_env({"TELEGRAM_BOT_TOKEN": " 123:abc ", "COINGLASS_API_KEY": "k3y"})
    assert s.telegram_token.get_secret_value() == "123:abc" and not s.discord_token
    for shown in (repr(s), str(s), s.model_dump_json(), str(s.model_dump()), f"{s.coinglass_key}"):
        assert "123:abc" not in shown and "k3y" not in shown
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
