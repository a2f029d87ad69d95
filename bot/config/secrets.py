"""The secrets: read from the environment only, never from the file."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
)

# field name -> the environment variable it is read from
SECRET_ENV = {
    "telegram_token": "TELEGRAM_BOT_TOKEN",
    "discord_token": "DISCORD_BOT_TOKEN",
    "coinglass_key": "COINGLASS_API_KEY",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
}


class Secrets(BaseModel):
    """Only from the environment; SecretStr never prints (`**********` in repr, str and dumps)."""

    model_config = ConfigDict(frozen=True)
    telegram_token: SecretStr = SecretStr("")
    discord_token: SecretStr = SecretStr("")
    coinglass_key: SecretStr = SecretStr("")
    telegram_webhook_secret: SecretStr = SecretStr("")
    # the environment itself, for secrets the config names (webhooks' secret_env)
    env: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    def named(self, variable: str) -> str:
        return self.env.get(variable, "").strip()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        e = os.environ if env is None else env
        fields = {f: e.get(var, "").strip() for f, var in SECRET_ENV.items()}
        return cls(**fields, env=dict(e))

    def all(self) -> tuple[str, ...]:
        """The plain values that are set, for the log filter that masks them."""
        values = (getattr(self, f).get_secret_value() for f in SECRET_ENV)
        return tuple(v for v in values if v)
