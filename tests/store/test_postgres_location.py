"""Choosing the engine from the location, and a PostgreSQL password kept out of every message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import ConfigError, Secrets, parse_config
from bot.domain.models import Side
from bot.runtime.app import build, stop
from bot.store import Database, StoreLocationError, parse_location, redact
from bot.store.location import secrets_of
from tests.offline import sources_off
from tests.pg import PgServer


def test_paths_and_urls_pick_the_engine() -> None:
    assert parse_location("data/bot.sqlite3") == parse_location("sqlite:///data/bot.sqlite3")
    assert parse_location("sqlite:////var/lib/x.db").target == "/var/lib/x.db"
    assert parse_location(Path("x.db")).kind == "sqlite"
    pg = parse_location("postgresql://bot:hunter22@db:5432/liqbot")
    assert (pg.kind, pg.target) == ("postgresql", "postgresql://bot:hunter22@db:5432/liqbot")
    assert parse_location("postgres://db/liqbot").kind == "postgresql"
    assert pg.shown == "postgresql://bot:***@db:5432/liqbot"
    assert "hunter22" not in repr(pg)
    for bad in ("mysql://a@b/c", "sqlite://x", "postgresql:///nohost", ""):
        with pytest.raises(StoreLocationError):
            parse_location(bad)


def test_redact_hides_passwords_in_userinfo_and_query() -> None:
    url = "postgresql://bot:p%40ss@db/x?sslmode=require&password=other"
    assert redact(url) == "postgresql://bot:***@db/x?sslmode=require&password=***"
    assert redact(f"could not connect to {url}: timeout").startswith("could not connect to ")
    assert set(secrets_of(url)) == {"p%40ss", "other"}
    assert redact("postgresql://bot@db/x") == "postgresql://bot@db/x"  # nothing to hide


def test_a_bad_storage_url_is_a_config_error_without_its_password() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"storage": {"url": "mysql://bot:hunter22@db/x"}})
    assert "storage.url" in str(e.value) and "hunter22" not in str(e.value)
    assert "hunter22" not in repr(
        parse_config({"storage": {"url": "postgresql://bot:hunter22@db/x"}})
    )


async def test_a_wrong_password_is_reported_without_it(pg_server: PgServer) -> None:
    url = pg_server.url().replace(pg_server.password, "not-the-Password-42")
    with pytest.raises(ConnectionError) as e:
        await Database.open(url)
    text = str(e.value)
    assert "not-the-Password-42" not in text and pg_server.password not in text
    assert f"127.0.0.1:{pg_server.port}" in text and "password" in text.lower()


async def test_an_unreachable_server_is_named_without_the_password(pg_server: PgServer) -> None:
    url = f"postgresql://bot:Secret-Pw-9@127.0.0.1:{pg_server.port + 1}/x"  # nothing listens
    with pytest.raises(ConnectionError) as e:
        await Database.open(url)
    assert "Secret-Pw-9" not in str(e.value) and "bot:***@127.0.0.1" in str(e.value)


async def test_the_composition_opens_postgresql_from_storage_url(
    pg_server: PgServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """app.build, as `liqbot run` calls it: storage.url wins over storage.path."""
    url = pg_server.create_database()
    config = parse_config(
        {
            "storage": {"url": url, "path": str(tmp_path / "unused.sqlite3")},
            "sources": sources_off(),
            "broadcasts": [{"chat": "console:local", "rule": "btc 1h 100m"}],
        }
    )  # fmt: skip
    with caplog.at_level(logging.INFO):
        rt = await build(config, Secrets())
        try:
            assert rt.db.dialect == "postgresql"
        finally:
            await stop(rt)
    assert not (tmp_path / "unused.sqlite3").exists()
    assert pg_server.password not in caplog.text
    assert "store: postgresql at postgresql://postgres:***@" in caplog.text
    db = await Database.open(url)  # the broadcast rule was written to PostgreSQL
    try:
        [sub] = await db.list_subscriptions("console:local")
        assert (sub.coin, sub.side, sub.origin) == ("BTC", Side.TOTAL, "config")
    finally:
        await db.close()
