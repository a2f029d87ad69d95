"""/digest and /test as Discord slash commands, through the real discord.py client and the
composed service: a channel's admin sets a digest; /test reaches the channel via the outbox."""

from __future__ import annotations

from typing import Any

from tests.discord.conftest import Env
from tests.fakes.discord_api import ADMIN_PERMS, CHANNEL_ID


def _opt(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "type": 3, "value": value}


async def test_digest_and_test_from_a_channel(env: Env) -> None:
    opts = [_opt("time", "08:00"), _opt("zone", "europe/berlin")]
    cb = await env.fake.invoke(env.fake.interaction("digest", opts, perms=ADMIN_PERMS))
    [embed] = cb["data"]["embeds"]
    assert embed["title"] == "Daily digest on"
    assert "Every day at 08:00 Europe/Berlin" in embed["description"]
    digest = await env.db.get_digest(f"discord:channel:{CHANNEL_ID}")
    assert digest is not None and (digest.at_min, digest.tz) == (480, "Europe/Berlin")

    cb = await env.fake.invoke(env.fake.interaction("test", perms=ADMIN_PERMS))
    assert cb["data"]["embeds"][0]["title"] == "Test queued"
    assert (await env.rt.delivery.drain()).sent == 1
    [posted] = await env.fake.wait_messages(CHANNEL_ID, 1)
    assert posted.embeds[0]["title"] == "Test message"

    cb = await env.fake.invoke(
        env.fake.interaction("digest", [_opt("time", "off")], perms=ADMIN_PERMS)
    )
    assert cb["data"]["embeds"][0]["title"] == "Daily digest off"
    assert await env.db.get_digest(f"discord:channel:{CHANNEL_ID}") is None
