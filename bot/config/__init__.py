"""The configuration contract: a YAML file validated at start, secrets from the environment.

Every key is documented in config.example.yaml. A bad file stops the program with a message that
names the key; unknown keys are errors too (a typo must not silently fall back to a default).
Environment overrides (`LIQBOT_ALERTS__REARM_RATIO=0.7`) and `DATABASE_URL` are merged over the
file in bot/config/settings.py, which also records where each value came from.

The sections live in modules of their own (base, sources, chats, alerting, service, secrets);
this module composes them into Config and re-exports every name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BeforeValidator,
    ValidationError,
    field_validator,
)

from bot.config.alerting import (
    AlertsConfig,
    Broadcast,
    DigestConfig,
    LimitsConfig,
    WebhookTargetConfig,
)
from bot.config.base import ConfigError, Duration, Strict, normalize_chat
from bot.config.chats import (
    ConsoleConfig,
    DiscordConfig,
    TelegramConfig,
    TelegramRateConfig,
    WebhookConfig,
)
from bot.config.secrets import SECRET_ENV, Secrets
from bot.config.service import (
    HttpConfig,
    LoggingConfig,
    OperatorsConfig,
    ReplicaConfig,
    StorageConfig,
    _operator_list,
)
from bot.config.sources import (
    BinanceCoinMConfig,
    BinanceConfig,
    BitgetConfig,
    BitmexConfig,
    BybitConfig,
    BybitInverseConfig,
    CoinGlassSource,
    DeribitConfig,
    GateConfig,
    HtxConfig,
    OkxConfig,
    ReplaySource,
    SourcesConfig,
    StreamSource,
)

__all__ = [
    "SECRET_ENV",
    "AlertsConfig",
    "BinanceCoinMConfig",
    "BinanceConfig",
    "BitgetConfig",
    "BitmexConfig",
    "Broadcast",
    "BybitConfig",
    "BybitInverseConfig",
    "CoinGlassSource",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DeribitConfig",
    "DigestConfig",
    "DiscordConfig",
    "Duration",
    "GateConfig",
    "HttpConfig",
    "HtxConfig",
    "LimitsConfig",
    "LoggingConfig",
    "OkxConfig",
    "OperatorsConfig",
    "ReplaySource",
    "ReplicaConfig",
    "Secrets",
    "SourcesConfig",
    "StorageConfig",
    "StreamSource",
    "Strict",
    "TelegramConfig",
    "TelegramRateConfig",
    "WebhookConfig",
    "WebhookTargetConfig",
    "load_config",
    "normalize_chat",
    "parse_config",
    "read_yaml",
]


class Config(Strict):
    storage: StorageConfig = StorageConfig()
    telegram: TelegramConfig = TelegramConfig()
    discord: DiscordConfig = DiscordConfig()
    sources: SourcesConfig = SourcesConfig()
    alerts: AlertsConfig = AlertsConfig()
    limits: LimitsConfig = LimitsConfig()
    broadcasts: tuple[Broadcast, ...] = ()
    console: ConsoleConfig = ConsoleConfig()
    logging: LoggingConfig = LoggingConfig()
    http: HttpConfig = HttpConfig()
    operators: Annotated[OperatorsConfig, BeforeValidator(_operator_list)] = OperatorsConfig()
    webhooks: tuple[WebhookTargetConfig, ...] = ()
    digests: tuple[DigestConfig, ...] = ()

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, v: tuple[WebhookTargetConfig, ...]) -> tuple[WebhookTargetConfig, ...]:
        names = [w.name for w in v]
        if len(set(names)) != len(names):
            raise ValueError("each webhook needs its own name")
        return v

    replica: ReplicaConfig = ReplicaConfig()


def _explain(err: ValidationError, where: Mapping[str, str]) -> str:
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        msg = e["msg"].removeprefix("Value error, ")
        key = ".".join(loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = "unknown key (see config.example.yaml for the valid ones)"
        elif e["input"] is None and e["type"] != "missing":
            msg = "no value (write one, or remove the key to use its default)"
        origin = next((o for k, o in where.items() if key == k or key.startswith(k + ".")), "")
        lines.append(f"  {key}: {msg}" + (f" (from {origin})" if origin else ""))
    return "\n".join(lines)


def parse_config(data: Any, origin: str = "config", where: Mapping[str, str] = {}) -> Config:
    """Validate a mapping; `where` names the environment variable behind a key, for errors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the file must be a mapping of keys (storage:, sources: ...)")
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{origin} is not valid:\n{_explain(e, where)}") from None


def read_yaml(path: str | Path) -> Any:
    """The file's YAML data; a missing file or a syntax error is a ConfigError saying why."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except OSError as e:
        raise ConfigError(f"cannot read the config file {p}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem, context = getattr(e, "problem", None), getattr(e, "context", None)
        reason = f"{problem} ({context})" if problem and context else problem or str(e)
        raise ConfigError(f"{p} is not valid YAML{where}: {reason}") from None
    return data


def load_config(path: str | Path) -> Config:
    """The file alone, over the defaults (the environment is merged by bot.config.settings)."""
    return parse_config(read_yaml(path), origin=str(path))
