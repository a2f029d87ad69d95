"""`telegram:`, `discord:` and `console:`: the chat platforms."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from bot.config.base import Strict


class WebhookConfig(Strict):
    url: str = ""  # the public https URL Telegram posts to
    path: str = "telegram"  # served by the one HTTP server (http.port or $PORT)

    @model_validator(mode="before")
    @classmethod
    def _no_own_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"listen", "port"} & data.keys()):
            raise ValueError(
                "telegram.webhook.listen/port are gone: the webhook is served on the one HTTP "
                "port (http.host, http.port or $PORT)"
            )
        return data


class TelegramRateConfig(Strict):
    global_per_second: float = Field(30, gt=0)
    per_chat_per_second: float = Field(1, gt=0)
    per_group_per_minute: float = Field(20, gt=0)
    paid_broadcast_per_second: float = Field(1000, gt=0)  # with paid_broadcast on


class TelegramConfig(Strict):
    enabled: bool = True  # still off without TELEGRAM_BOT_TOKEN
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookConfig = WebhookConfig()
    rate: TelegramRateConfig = TelegramRateConfig()
    # Alerts as paid broadcasts (allow_paid_broadcast): up to 1,000/s, 0.1 Telegram Star each
    paid_broadcast: bool = False

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramConfig:
        if self.mode == "webhook" and not self.webhook.url.startswith("https://"):
            raise ValueError("webhook mode needs telegram.webhook.url, the public https:// URL")
        return self


class DiscordConfig(Strict):
    enabled: bool = True  # still off without DISCORD_BOT_TOKEN


class ConsoleConfig(Strict):
    enabled: Literal["auto", "on", "off"] = "auto"  # auto: on when no chat platform has a token
