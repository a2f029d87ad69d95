"""`liqbot history` end to end: the CLI (in-process and as a subprocess) against the fake CoinGlass."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.exchanges import FakeCoinGlass

KEY = "history-sekret-987"


@pytest.fixture
async def cg():
    fake = await FakeCoinGlass(KEY).start()
    yield fake
    await fake.stop()


@pytest.fixture
def config_for(tmp_path: Path):
    def make(base: str) -> str:
        p = tmp_path / "config.yaml"
        p.write_text(f"sources:\n  coinglass:\n    base_url: {base}\n", encoding="utf-8")
        return str(p)

    return make


async def cli(*argv: str) -> int:
    # main() runs its own event loop: give it a thread so this loop keeps serving the fake
    return await asyncio.to_thread(main, list(argv))


async def test_table_and_csv_from_the_fake(cg, config_for, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    out_csv = tmp_path / "btc.csv"
    code = await cli(
        "history", "bitcoin", "--interval", "1d", "--limit", "30",
        "--config", config_for(cg.base), "--csv", str(out_csv),
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith("BTC liquidations per 1d (Binance, OKX, Bybit")
    assert lines[1].split() == ["time", "(UTC)", "longs", "shorts", "total"]
    # the fake scales the sample by the 3 exchanges asked; oldest first
    assert lines[2].split() == ["2022-07-28", "00:00", "$17.75M", "$38.91M", "$56.66M"]
    assert lines[3].split() == ["2022-07-29", "00:00", "$16.04M", "$19.36M", "$35.40M"]
    assert f"wrote 2 rows to {out_csv}" in out
    rows = list(csv.reader(out_csv.open(encoding="utf-8")))
    assert rows == [
        ["time_utc", "longs_usd", "shorts_usd", "total_usd"],
        ["2022-07-28T00:00:00Z", "17750655.43", "38908751.63", "56659407.06"],
        ["2022-07-29T00:00:00Z", "16037124.70", "19364626.65", "35401751.34"],
    ]
    [call] = cg.calls
    assert "symbol=BTC" in call and "interval=1d" in call and "limit=30" in call
    assert cg.keys_seen == [KEY] and KEY not in out


async def test_defaults_ask_1h_and_168(cg, config_for, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    assert await cli("history", "eth", "--config", config_for(cg.base)) == 0
    assert "interval=1h" in cg.calls[0] and "limit=168" in cg.calls[0]
    assert "symbol=ETH" in cg.calls[0]
    assert capsys.readouterr().out.startswith("ETH liquidations per 1h")


@pytest.mark.parametrize(
    ("mode", "code", "words"),
    [
        ("401", 1, "CoinGlass rejected the API key (401); check COINGLASS_API_KEY"),
        ("429", 1, "rate limited by CoinGlass (429)"),
        ("envelope_error", 1, "CoinGlass error 50001: Server busy"),
        ("malformed", 1, "malformed CoinGlass answer"),
        ("500", 1, "CoinGlass HTTP 500"),
    ],
)
async def test_coinglass_failures_are_one_line_and_an_exit_code(
    cg, config_for, tmp_path, monkeypatch, capsys, mode, code, words
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    cg.mode = mode
    out_csv = tmp_path / "never.csv"
    assert (
        await cli("history", "btc", "--config", config_for(cg.base), "--csv", str(out_csv)) == code
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and words in err and err.startswith("liqbot history: ")
    assert KEY not in err and "Traceback" not in err
    assert not out_csv.exists()  # no partial file


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("history", "btc", "--interval", "2h"), "unknown interval '2h'; use one of 1m 3m"),
        (("history", "btc", "--limit", "0"), "--limit must be between 1 and 1000"),
        (("history", "bitcoinz"), "unknown coin 'bitcoinz'"),
        (("history", "all"), "history is per coin"),
    ],
)
async def test_bad_input_is_exit_2_before_any_request(
    cg, config_for, monkeypatch, capsys, argv, words
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    assert await cli(*argv, "--config", config_for(cg.base)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert cg.calls == []


async def test_missing_key_is_exit_2_with_a_clear_message(cg, config_for, monkeypatch, capsys):
    monkeypatch.delenv("COINGLASS_API_KEY", raising=False)
    assert await cli("history", "btc", "--config", config_for(cg.base)) == 2
    err = capsys.readouterr().err
    assert "COINGLASS_API_KEY is not set" in err and err.count("\n") == 1
    assert cg.calls == []


async def test_bad_config_is_exit_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    assert await cli("history", "btc", "--config", str(tmp_path / "nope.yaml")) == 2
    err = capsys.readouterr().err
    assert "config file not found" in err and err.count("\n") == 1


async def test_unreachable_coinglass_is_exit_1(config_for, monkeypatch, capsys) -> None:
    fake = await FakeCoinGlass(KEY).start()
    base = fake.base
    await fake.stop()
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    assert await cli("history", "btc", "--config", config_for(base)) == 1
    err = capsys.readouterr().err
    assert "cannot reach CoinGlass" in err and err.count("\n") == 1


async def test_subprocess_wrong_key_no_traceback_no_key(cg, config_for) -> None:
    wrong = "wrong-key-55555"
    env = {**os.environ, "COINGLASS_API_KEY": wrong}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "history", "btc", "--config", config_for(cg.base),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    text = err.decode()
    assert text == (
        "liqbot history: CoinGlass rejected the API key (401); check COINGLASS_API_KEY\n"
    )
    assert out == b"" and wrong not in text and cg.keys_seen == [wrong]
