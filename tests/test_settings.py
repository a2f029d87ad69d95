"""Settings from the environment: LIQBOT_* over the file over the defaults, and their origins."""

from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.config.settings import DEFAULT, ENV, FILE, Origin, load, store_override


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray LIQBOT_ variable, DATABASE_URL or config.yaml of the machine running the tests."""
    import os

    for var in list(os.environ):
        if var.upper().startswith("LIQBOT_") or var == "DATABASE_URL":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


def test_environment_overrides_the_file_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "alerts:\n  rearm_ratio: 0.6\n  min_quiet: 5m\nlimits:\n  subscriptions_per_chat: 9\n"
    )
    monkeypatch.setenv("LIQBOT_ALERTS__REARM_RATIO", "0.7")
    monkeypatch.setenv("liqbot_sources__okx__enabled", "false")  # names are case-insensitive
    monkeypatch.setenv("LIQBOT_SOURCES__COINGLASS__COINS", '["BTC", "ETH"]')  # lists are JSON
    loaded = load(str(cfg))
    c = loaded.config
    assert c.alerts.rearm_ratio == 0.7 and c.alerts.min_quiet == 300
    assert c.sources.okx.enabled is False and c.sources.coinglass.coins == ("BTC", "ETH")
    o = loaded.origins
    assert o["alerts.rearm_ratio"] == Origin(ENV, "LIQBOT_ALERTS__REARM_RATIO")
    assert o["alerts.min_quiet"] == Origin(FILE, str(cfg))
    assert o["limits.subscriptions_per_chat"] == Origin(FILE, str(cfg))
    assert o["sources.okx.enabled"] == Origin(ENV, "liqbot_sources__okx__enabled")
    assert o["alerts.tick"] == Origin(DEFAULT)
    assert str(o["alerts.min_quiet"]) == f"file ({cfg})"


def test_a_whole_section_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQBOT_LOGGING", '{"format": "json", "level": "DEBUG"}')
    monkeypatch.setenv("LIQBOT_BROADCASTS", '[{"chat": -100123, "rule": "all 1h 400m shorts"}]')
    loaded = load()
    assert loaded.config.logging.format == "json" and loaded.config.logging.level == "DEBUG"
    assert loaded.config.broadcasts[0].chat == "telegram:-100123"
    assert loaded.origins["logging.format"] == Origin(ENV, "LIQBOT_LOGGING")
    assert loaded.origins["logging.file"] == Origin(DEFAULT)
    assert loaded.origins["broadcasts"] == Origin(ENV, "LIQBOT_BROADCASTS")
    assert loaded.file is None


def test_config_file_from_liqbot_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "elsewhere.yaml"
    cfg.write_text("limits:\n  subscriptions_per_chat: 7\n")
    monkeypatch.setenv("LIQBOT_CONFIG", str(cfg))
    loaded = load()
    assert loaded.file == cfg and loaded.config.limits.subscriptions_per_chat == 7
    other = tmp_path / "cli.yaml"
    other.write_text("limits:\n  subscriptions_per_chat: 3\n")
    assert load(str(other)).config.limits.subscriptions_per_chat == 3  # --config wins
    monkeypatch.setenv("LIQBOT_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"config file not found: .*missing\.yaml"):
        load()


def test_config_yaml_in_the_working_directory_is_the_default(tmp_path: Path) -> None:
    assert load().file is None  # no file: the defaults
    (tmp_path / "config.yaml").write_text("limits:\n  subscriptions_per_chat: 4\n")
    assert load().file == Path("config.yaml")
    assert load().config.limits.subscriptions_per_chat == 4


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("LIQBOT_ALERTS__REARM_RATO", "0.7",
         "LIQBOT_ALERTS__REARM_RATO: unknown key alerts.rearm_rato (see config.example.yaml for the valid keys)"),
        ("LIQBOT_STORAG__PATH", "x",
         "LIQBOT_STORAG__PATH: unknown key storag.path (see config.example.yaml for the valid keys)"),
        ("LIQBOT_TELEGRAM__TOKEN", "123:abc",
         "LIQBOT_TELEGRAM__TOKEN: unknown key telegram.token (secrets are read only from TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN, COINGLASS_API_KEY, TELEGRAM_WEBHOOK_SECRET)"),
        ("LIQBOT_BROADCASTS__0__CHAT", "-100",
         "LIQBOT_BROADCASTS__0__CHAT: unknown key broadcasts.0.chat (set LIQBOT_BROADCASTS as JSON)"),
        ("LIQBOT_ALERTS__REARM_RATIO", "2",
         "the environment is not valid:\n  alerts.rearm_ratio: Input should be less than 1 (from LIQBOT_ALERTS__REARM_RATIO)"),
        ("LIQBOT_ALERTS", '{"rearm_rato": 0.5}',
         "the environment is not valid:\n  alerts.rearm_rato: unknown key (see config.example.yaml for the valid ones) (from LIQBOT_ALERTS)"),
        ("LIQBOT_BROADCASTS", "[{oops",
         "LIQBOT_BROADCASTS is not valid JSON (lists and sections are written as JSON in the environment)"),
    ],
)  # fmt: skip
def test_bad_variables_are_named(monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str) -> None:  # fmt: skip
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load()
    assert str(err.value) == message


def test_database_url_is_the_storage_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////var/lib/liqbot/liqbot.sqlite3")
    loaded = load()
    assert loaded.config.storage.path == "/var/lib/liqbot/liqbot.sqlite3"
    assert loaded.origins["storage.path"] == Origin(ENV, "DATABASE_URL")
    assert store_override("sqlite:///data/x.sqlite3") == ("path", "data/x.sqlite3")
    monkeypatch.setenv("LIQBOT_STORAGE__PATH", "elsewhere.sqlite3")
    with pytest.raises(ConfigError) as err:
        load()
    assert str(err.value) == (
        "both DATABASE_URL and LIQBOT_STORAGE__PATH set the storage location: keep one"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql:///liqbot", "DATABASE_URL: PostgreSQL URL without a host: postgresql:///liqbot"),
        ("postgresql+asyncpg://u:p@db/liqbot", "DATABASE_URL: write postgresql://... (the bot chooses its driver)"),
        ("mysql://db/x", "DATABASE_URL must look like sqlite:///data/liqbot.sqlite3 (relative), sqlite:////var/lib/liqbot/liqbot.sqlite3 (absolute) or postgresql://user:password@host:5432/database"),
        ("sqlite://", "DATABASE_URL must look like sqlite:///data/liqbot.sqlite3 (relative), sqlite:////var/lib/liqbot/liqbot.sqlite3 (absolute) or postgresql://user:password@host:5432/database"),
    ],
)  # fmt: skip
def test_unusable_database_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        store_override(url)
    assert str(err.value) == message


def test_a_postgresql_database_url_is_storage_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:hunter22@db:5432/liqbot")
    loaded = load()
    assert loaded.config.storage.url == "postgresql://bot:hunter22@db:5432/liqbot"
    assert loaded.origins["storage.url"] == Origin(ENV, "DATABASE_URL")
    monkeypatch.setenv("LIQBOT_STORAGE__URL", "postgresql://other/x")
    with pytest.raises(ConfigError, match="both DATABASE_URL and LIQBOT_STORAGE__URL"):
        load()
