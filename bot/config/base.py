"""The configuration's building blocks: the error, durations, strict models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    model_validator,
)

from bot.domain.market import MarketError, parse_duration


class ConfigError(Exception):
    """A readable explanation of what is wrong with the configuration."""


def _duration(v: Any) -> int:
    """Seconds from `15m`, `2h` or a plain number of seconds."""
    if isinstance(v, bool):
        raise ValueError("expected a duration like 15m")
    if isinstance(v, int | float):
        if v < 0:
            raise ValueError("must not be negative")
        return int(v)
    try:
        return parse_duration(str(v))
    except MarketError as e:
        raise ValueError(str(e)) from None


Duration = Annotated[int, BeforeValidator(_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        """A section whose keys are all commented out is YAML null: it means "the defaults"."""
        if data is None:
            return {}
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None and _is_section(cls, k))}
        return data


def _is_section(model: type[BaseModel], key: Any) -> bool:
    """A sub-model or a list: null there is an empty section, not a missing scalar."""
    f = model.model_fields.get(key) if isinstance(key, str) else None
    if f is None:
        return False
    t = f.annotation
    return (isinstance(t, type) and issubclass(t, BaseModel)) or getattr(t, "__origin__", None) in (
        tuple,
        list,
    )


def normalize_chat(v: Any) -> str:
    """`-100123` and `@channel` are Telegram chats; `discord:123` is a Discord channel."""
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise ValueError("expected a chat id (-100123) or a name like @channel")
    s = str(v).strip()
    if s.startswith("@") or s.lstrip("-").isdigit():
        return f"telegram:{s}"
    if s.startswith("discord:") and s.split(":", 1)[1].isdigit():
        return f"discord:channel:{s.split(':', 1)[1]}"
    if s.split(":", 1)[0] in ("telegram", "discord", "console", "webhook") and ":" in s:
        return s
    raise ValueError(
        "expected a Telegram chat id (-100123), a @channelname, discord:<channel id> or console:local"
    )
