"""/lang through the real discord.py client against the fake Discord: exact Spanish and
Russian text, a DM's default from the user's Discord locale, a server channel in English until
someone with Manage Channels sets one."""

from __future__ import annotations

from typing import Any

from tests.discord.conftest import Env
from tests.fakes.discord_api import ADMIN_PERMS, MEMBER_PERMS


def _lang(value: str) -> list[dict[str, Any]]:
    return [{"name": "language", "type": 3, "value": value}]


def _embed(cb: dict[str, Any]) -> dict[str, Any]:
    (embed,) = cb["data"]["embeds"]
    return embed


async def test_lang_es_in_a_server_channel_exact_text(env: Env) -> None:
    fake = env.fake
    refused = await fake.invoke(fake.interaction("lang", _lang("es"), perms=MEMBER_PERMS))
    assert _embed(refused)["title"] == "Not allowed"
    cb = await fake.invoke(fake.interaction("lang", _lang("es"), perms=ADMIN_PERMS))
    embed = _embed(cb)
    assert embed["title"] == "Idioma"
    assert embed["description"] == (
        "Este chat ahora habla Español.\n"
        "Opciones: en English, ru Русский, es Español, zh 简体中文. "
        "/lang auto vuelve al idioma por defecto.\n"
        "Por defecto, un chat privado sigue el idioma de tu app de Telegram; los grupos y "
        "canales siguen en inglés hasta que un admin elija uno."
    )
    cb = await fake.invoke(fake.interaction("unmute", perms=ADMIN_PERMS))
    assert _embed(cb)["title"] == "Nada que reactivar"
    assert _embed(cb)["description"] == "No hay silencio activo para este chat."
    refused = await fake.invoke(fake.interaction("lang", _lang("en"), perms=MEMBER_PERMS))
    assert _embed(refused)["title"] == "No permitido"


async def test_a_dm_follows_the_users_discord_locale(env: Env) -> None:
    fake = env.fake
    cb = await fake.invoke(fake.interaction("help", user_id=777, dm=True, locale="ru"))
    assert _embed(cb)["title"] == "Алерты о ликвидациях: команды"
    cb = await fake.invoke(fake.interaction("lang", user_id=777, dm=True, locale="ru"))
    assert _embed(cb)["description"].startswith("Язык: Русский (по умолчанию).\n")
    cb = await fake.invoke(fake.interaction("help", user_id=778, dm=True, locale="en-US"))
    assert _embed(cb)["title"] == "Liquidation alerts: commands"
    # a server channel does not follow the member's locale
    cb = await fake.invoke(fake.interaction("help", locale="ru"))
    assert _embed(cb)["title"] == "Liquidation alerts: commands"
