"""The whole service wired by app.build with a Discord token: a config broadcast reaches a channel."""

from __future__ import annotations

from pathlib import Path

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from tests.discord.conftest import FAKE_GATEWAY_WAITS
from tests.fakes.discord_api import CHANNEL_ID, FakeDiscord
from tests.offline import sources_off


async def test_broadcast_from_the_config_reaches_the_channel(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "dc.sqlite3")},
            "sources": sources_off(),
            "broadcasts": [{"chat": f"discord:{CHANNEL_ID}", "rule": "eth 4h 200m longs"}],
            "alerts": {"debounce": 0},
        }
    )
    rt = await app.build(
        config, Secrets(discord_token="test-token"), discord_options=FAKE_GATEWAY_WAITS
    )
    try:
        assert set(rt.senders) == {"discord"} and rt.console is None
        await app.start(rt)
        now = rt.clock.now_ms()
        rt.market.up("okx", now)
        rt.market.events("okx", [Liquidation("okx", "ETH", Side.LONG, 250e6, now)])
        [posted] = await fake.wait_messages(CHANNEL_ID, 1)
        [embed] = posted.embeds
        assert "ETH" in embed["title"] and "mostly longs" in str(embed)  # no baseline: no "flush"
        assert embed["color"] == 0xE74C3C  # a long flush is red
    finally:
        await app.stop(rt)
