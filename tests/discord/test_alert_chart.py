"""alerts.attach_chart on Discord, through the composed service and the real discord.py client:
the alert's embed shows its chart, uploaded as an attachment of the same message."""

from __future__ import annotations

from pathlib import Path

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.features.charts import PNG_SIGNATURE
from bot.runtime import app
from tests.discord.conftest import FAKE_GATEWAY_WAITS, NOW_MS, FixedClock
from tests.fakes.discord_api import FakeDiscord
from tests.offline import sources_off

CHANNEL = 555


async def test_an_alert_embed_shows_its_attached_chart(fake: FakeDiscord, tmp_path: Path) -> None:
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "dc.sqlite3")},
            "sources": sources_off(binance={}, bybit={}),
            "alerts": {"attach_chart": True},
            "broadcasts": [{"chat": f"discord:{CHANNEL}", "rule": "eth 15m 20m longs"}],
        }
    )
    rt = await app.build(
        config,
        Secrets(discord_token="test-token"),
        clock=FixedClock(NOW_MS),
        discord_options=FAKE_GATEWAY_WAITS,
    )
    try:
        await app.start(rt, jobs=False)
        for venue in ("binance", "bybit"):
            rt.market.up(venue, NOW_MS - 2 * 3_600_000)
        rt.market.events(
            "bybit", [Liquidation("bybit", "ETH", Side.LONG, 25e6, NOW_MS - 3 * 60_000)]
        )
        assert await rt.engine.tick() == 1
        assert (await rt.delivery.drain()).sent == 1
        [posted] = await fake.wait_messages(CHANNEL, 1)
    finally:
        await app.stop(rt)
    [embed] = posted.embeds
    assert "ETH longs liquidated in 15m" in embed["description"]
    # a 15m alert is drawn over the shortest chart window that holds it: 1h
    assert embed["image"]["url"] == "attachment://chart-eth-1h.png"
    [upload] = posted.files
    assert upload.filename == "chart-eth-1h.png" and upload.data.startswith(PNG_SIGNATURE)
