"""Where the effective configuration comes from: defaults, the YAML file, then the environment.

Precedence, lowest first: the defaults in bot/config/ (its section modules), the file (`--config`, else `$LIQBOT_CONFIG`,
else `config.yaml` when it exists), `LIQBOT_<SECTION>__<KEY>` variables (parsed by
pydantic-settings: `__` separates levels, lists and sections are JSON), and `DATABASE_URL` for the
storage location. Every effective key remembers its origin, which `liqbot check-config` prints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import BaseModel
from pydantic_settings import EnvSettingsSource
from pydantic_settings.exceptions import SettingsError

from bot.config import SECRET_ENV, Config, ConfigError, Secrets, parse_config, read_yaml
from bot.features.webhooks import webhook_targets
from bot.store.location import PG_SCHEMES, StoreLocationError, parse_location

PREFIX = "LIQBOT_"
NESTED = "__"
CONFIG_ENV = "LIQBOT_CONFIG"
DEFAULT_FILE = "config.yaml"
DEFAULT, FILE, ENV = "default", "file", "environment"


@dataclass(frozen=True)
class Origin:
    kind: str  # default | file | environment
    detail: str = ""  # the file's path or the variable's name

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


@dataclass(frozen=True)
class Loaded:
    config: Config
    secrets: Secrets
    origins: dict[str, Origin]  # dotted key -> where its effective value came from
    file: Path | None  # None: no file, the defaults (and the environment) only


def load(path: str | None = None) -> Loaded:
    """The effective configuration; a ConfigError names the key (and the variable) when bad."""
    env = dict(os.environ)
    file = _config_file(path, env)
    file_data = read_yaml(file) if file else {}
    if file_data is None:
        file_data = {}
    if not isinstance(file_data, dict):
        raise ConfigError(f"{file}: the file must be a mapping of keys (storage:, sources: ...)")
    env_data, env_names = _env_overrides(env, _named_secrets(file_data))
    data = _deep_merge(file_data, env_data)
    origin = str(file) if file else "the environment"
    config = parse_config(data, origin=origin, where=env_names)
    origins = {
        key: (
            Origin(ENV, env_names[key])
            if key in env_names
            else Origin(FILE, str(file))
            if _has(file_data, key)
            else Origin(DEFAULT)
        )
        for key in leaf_keys(Config)
    }
    # a variable that sets a whole section (LIQBOT_ALERTS='{...}') marks every key under it
    for key in origins:
        for var_key, var in env_names.items():
            if key.startswith(var_key + ".") and _has(env_data, key):
                origins[key] = Origin(ENV, var)
    secrets = Secrets.from_env(env)
    check_with_secrets(config, secrets)
    return Loaded(config, secrets, origins, file)


def check_with_secrets(config: Config, secrets: Secrets) -> None:
    """What the config alone cannot tell: a ConfigError for a start that would go wrong.

    Replicas (a PostgreSQL store) in webhook mode need one TELEGRAM_WEBHOOK_SECRET: without it
    each picks a random one at start and registers it with setWebhook, the last one wins, and
    every other replica answers Telegram's POSTs (the balancer's share) with 403. Outgoing
    webhooks need their secrets (bot.features.webhooks.webhook_targets)."""
    webhook_targets(config, secrets)  # each outgoing webhook has a usable secret
    tg = config.telegram
    webhook = tg.enabled and tg.mode == "webhook" and bool(secrets.telegram_token)
    if (
        webhook
        and not secrets.telegram_webhook_secret.get_secret_value()
        and parse_location(config.storage.location).kind == "postgresql"
    ):
        raise ConfigError(
            "telegram.mode webhook with a PostgreSQL store (replicas) needs "
            "TELEGRAM_WEBHOOK_SECRET, the same on every replica: without it each replica makes "
            "its own and answers 403 to the updates the others registered"
        )


def _config_file(path: str | None, env: Mapping[str, str]) -> Path | None:
    if path:
        return Path(path)  # named explicitly: it must exist (read_yaml says so)
    if env.get(CONFIG_ENV, "").strip():
        return Path(env[CONFIG_ENV].strip())
    return Path(DEFAULT_FILE) if Path(DEFAULT_FILE).exists() else None


def _named_secrets(file_data: Mapping[str, Any]) -> frozenset[str]:
    """The variables the file names as secrets (webhooks' secret_env, which may well be called
    LIQBOT_WEBHOOK_SECRET_X): they hold values, not config keys."""
    hooks = file_data.get("webhooks") if isinstance(file_data, Mapping) else None
    if not isinstance(hooks, list):
        return frozenset()
    return frozenset(
        str(h["secret_env"]) for h in hooks if isinstance(h, Mapping) and h.get("secret_env")
    )


def _env_overrides(
    env: Mapping[str, str], secrets: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The LIQBOT_ variables as nested data, and for each dotted key the variable that set it.
    `secrets`: variables the file names as secrets, not keys."""
    names: dict[str, str] = {}
    for var in env:
        if not var.upper().startswith(PREFIX) or var.upper() == CONFIG_ENV or var in secrets:
            continue
        key = ".".join(var[len(PREFIX) :].lower().split(NESTED))
        _check_key(key, var)
        names[key] = var
    for key in ("storage.path", "storage.url"):
        if key in names and env.get("DATABASE_URL", "").strip():
            raise ConfigError(
                f"both DATABASE_URL and {names[key]} set the storage location: keep one"
            )
    try:  # pydantic-settings parses the values: nesting by "__", JSON for lists and sections
        data = EnvSettingsSource(  # it reads any model's fields; typed for BaseSettings only
            Config,  # type: ignore[arg-type]
            env_prefix=PREFIX,
            env_nested_delimiter=NESTED,
            case_sensitive=False,
        )()
    except SettingsError as e:
        field = re.search(r'field "(\w+)"', str(e))
        var = next((v for k, v in names.items() if field and k == field.group(1)), "a variable")
        raise ConfigError(
            f"{var} is not valid JSON (lists and sections are written as JSON in the environment)"
        ) from None
    url = env.get("DATABASE_URL", "").strip()
    if url:
        key, value = store_override(url)
        data = _deep_merge(data, {"storage": {key: value}})
        names[f"storage.{key}"] = "DATABASE_URL"
    return data, names


def store_override(url: str) -> tuple[str, str]:
    """The storage key DATABASE_URL sets: ("path", the file) for `sqlite:///relative/path` or
    `sqlite:////absolute/path`, ("url", the URL) for `postgresql://user:pass@host:5432/db`."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in PG_SCHEMES:
        try:
            parse_location(url)
        except StoreLocationError as e:  # redacted
            raise ConfigError(f"DATABASE_URL: {e}") from None
        return "url", url
    if scheme.startswith("postgresql+"):
        raise ConfigError("DATABASE_URL: write postgresql://... (the bot chooses its driver)")
    if scheme != "sqlite" or not url.lower().startswith("sqlite:///") or len(url) <= 10:
        raise ConfigError(
            "DATABASE_URL must look like sqlite:///data/liqbot.sqlite3 (relative), "
            "sqlite:////var/lib/liqbot/liqbot.sqlite3 (absolute) or "
            "postgresql://user:password@host:5432/database"
        )
    return "path", url[len("sqlite:///") :]


def _check_key(key: str, var: str) -> None:
    """An unknown LIQBOT_ variable is an error, like an unknown key in the file."""
    model: Any = Config
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = model.model_fields if _is_model(model) else {}
        if part not in fields:
            if i and not _is_model(model):
                hint = f"set {PREFIX}{NESTED.join(parts[:i]).upper()} as JSON"
            else:
                hint = "see config.example.yaml for the valid keys"
            if any(word in part for word in ("token", "key", "secret")):
                hint = "secrets are read only from " + ", ".join(SECRET_ENV.values())
            raise ConfigError(f"{var}: unknown key {key} ({hint})")
        model = fields[part].annotation


def _is_model(t: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(t, type) and issubclass(t, BaseModel)


def leaf_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, f in model.model_fields.items():
        if _is_model(f.annotation):
            yield from leaf_keys(f.annotation, prefix + name + ".")
        else:
            yield prefix + name


def value_at(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _has(data: Any, key: str) -> bool:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
