"""alerts.attach_chart through the composed service and the real python-telegram-bot client:
an alert goes out as sendPhoto of its coin and window, with the text as its caption when it
fits Telegram's 1024 characters, else the picture then the text; off by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.features.charts import PNG_SIGNATURE
from bot.runtime import app
from bot.runtime.clock import Clock
from tests.fakes.telegram_api import FakeTelegram, Upload
from tests.offline import sources_off

TOKEN = "123456:TEST-token"
T0 = 1_800_000_000_000 + 10_000


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def chart_config(tmp_path: Path, fake: FakeTelegram, attach: bool) -> Any:
    rules = ["btc 1h 100m"] * 1 + [f"btc 1h {n}m shorts" for n in (100, 105, 110, 115, 120)]
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "tg.sqlite3")},
            "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url},
            "sources": sources_off(binance={}, bybit={}),
            "alerts": {"attach_chart": attach},
            # chat 42: one rule (a short alert); chat 43: five that fire together (a long one)
            "broadcasts": [{"chat": "42", "rule": rules[0]}]
            + [{"chat": "43", "rule": r} for r in rules[1:]],
        }
    )


async def _wave(rt: app.Runtime, now: int) -> None:
    for venue in ("binance", "bybit"):
        rt.market.up(venue, now - 2 * 3_600_000)
    # an hour of history first, so the chart has no "before the bot ran" time to hatch
    rt.market.events("binance", [Liquidation("binance", "BTC", Side.LONG, 2e6, now - 50 * 60_000)])
    rt.market.events("binance", [Liquidation("binance", "BTC", Side.SHORT, 150e6, now)])
    assert await rt.engine.tick() == 2
    assert (await rt.delivery.drain()).sent == 2


async def test_an_alert_carries_a_chart_of_its_coin_and_window(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    rt = await app.build(
        chart_config(tmp_path, fake, True), Secrets(telegram_token=TOKEN), clock=ManualClock(T0)
    )
    try:
        await app.start(rt, jobs=False)
        await _wave(rt, T0)
        charts = rt.delivery.prepare.__self__  # type: ignore[union-attr]
        assert charts.drawn == 1  # both chats' alerts show BTC over 1h at T0: drawn once
    finally:
        await app.stop(rt)
        await fake.stop()
    # a short alert: one sendPhoto, the alert as its caption
    [photo] = fake.photos(42)
    upload = photo.params["photo"]
    assert isinstance(upload, Upload) and upload.data.startswith(PNG_SIGNATURE)
    assert upload.filename == "chart-btc-1h.png"
    assert "BTC liquidations in 1h: $152.00M" in photo.text and len(photo.text) <= 1024
    assert fake.texts(42) == [photo.text]  # nothing else sent
    # five alerts in one message: too long for a caption, so the picture, then the text
    sent = [s for s in fake.sent if s.chat_id == 43]
    assert [("photo" in s.params) for s in sent] == [True, False]
    assert sent[0].text == "" and "5 liquidation alerts" in sent[1].text.replace("\n", " ")


async def test_no_chart_by_default(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    rt = await app.build(
        chart_config(tmp_path, fake, False), Secrets(telegram_token=TOKEN), clock=ManualClock(T0)
    )
    try:
        await app.start(rt, jobs=False)
        await _wave(rt, T0)
    finally:
        await app.stop(rt)
        await fake.stop()
    assert fake.photos(42) == [] and fake.photos(43) == []
    assert "BTC liquidations in 1h: $152.00M" in fake.texts(42)[0]
