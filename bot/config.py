"""The configuration contract: a YAML file validated at start, secrets from the environment.

Every key is documented in config.example.yaml. A bad file stops the program with a message that
names the key; unknown keys are errors too (a typo must not silently fall back to a default).
Environment overrides (`LIQBOT_ALERTS__REARM_RATIO=0.7`) and `DATABASE_URL` are merged over the
file in bot/settings.py, which also records where each value came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain.command_types import CommandError, Subscribe
from bot.domain.commands import parse_command
from bot.domain.event_checks import DEFAULT_MAX_EVENT_USD
from bot.domain.market import MarketError, parse_duration
from bot.store.location import StoreLocationError, parse_location


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


class StorageConfig(Strict):
    path: str = "data/liqbot.sqlite3"
    # postgresql://user:pass@host:5432/db: the shared store (docs/scaling.md); empty: `path`
    url: str = Field("", repr=False)  # repr=False: it may hold a password
    retention_days: int = Field(7, ge=1, le=90)

    @field_validator("url")
    @classmethod
    def _store_url(cls, v: str) -> str:
        if v.strip():
            try:
                parse_location(v)
            except StoreLocationError as e:  # the message is redacted already
                raise ValueError(str(e)) from None
        return v.strip()

    @property
    def location(self) -> str:
        """What the store opens: the URL when one is set, else the SQLite file."""
        return self.url or self.path


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


class StreamSource(Strict):
    enabled: bool = True
    url: str
    rest_url: str = ""
    watchdog: Duration = 90  # an open connection silent this long is reconnected
    max_age: Duration = 23 * 3600  # reconnect before the venue's 24 h limit


class BinanceConfig(StreamSource):
    url: str = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
    rest_url: str = "https://fapi.binance.com"  # exchangeInfo: the coins listed
    watchdog: Duration = 600  # no keep-alive frames: a quiet market is silence, not an outage


class BinanceCoinMConfig(StreamSource):
    enabled: bool = False  # COIN-M (coin-margined) contracts: optional
    url: str = "wss://dstream.binance.com/ws/!forceOrder@arr"
    rest_url: str = "https://dapi.binance.com"  # exchangeInfo: contract sizes
    watchdog: Duration = 600


class BybitConfig(StreamSource):
    url: str = "wss://stream.bybit.com/v5/public/linear"
    rest_url: str = "https://api.bybit.com"


class BybitInverseConfig(StreamSource):
    # inverse contracts (BTCUSD, ETHUSD, BTCUSDH25): sized in 1-USD contracts; counts as bybit
    url: str = "wss://stream.bybit.com/v5/public/inverse"
    rest_url: str = "https://api.bybit.com"  # instruments-info?category=inverse


class OkxConfig(StreamSource):
    url: str = "wss://ws.okx.com:8443/ws/v5/public"
    rest_url: str = "https://www.okx.com"


class GateConfig(StreamSource):
    # `size` is the liquidation order's signed quantity (Gate's docs, 2026-08-20; docs/sources.md)
    url: str = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    rest_url: str = "https://api.gateio.ws"  # contracts: quanto_multiplier


class BitgetConfig(StreamSource):
    url: str = "wss://ws.bitget.com/v3/ws/public"


class BitmexConfig(StreamSource):
    url: str = "wss://ws.bitmex.com/realtime"
    rest_url: str = "https://www.bitmex.com"  # instrument/active: contract values


class HtxConfig(StreamSource):
    url: str = "wss://api.hbdm.com/linear-swap-notification"


class DeribitConfig(StreamSource):
    url: str = "wss://www.deribit.com/ws/api/v2"


class CoinGlassSource(Strict):
    enabled: bool = True  # still off without COINGLASS_API_KEY
    url: str = "https://open-api-v4.coinglass.com"
    base_url: str = ""  # alias of url, the name used in DESIGN.md
    poll: Duration = 60
    coins: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "DOGE", "BNB")
    # the exchanges coin-list is asked for (one call each per poll): list more to compare the
    # streams against more of the market (/liqs compare); CoinGlass's own exchange names
    exchanges: tuple[str, ...] = Field(("Binance", "OKX", "Bybit"), min_length=1)

    @property
    def endpoint(self) -> str:
        return self.base_url or self.url


class ReplaySource(Strict):
    enabled: bool = False
    url: str = "demo"  # a JSONL file of events, or "demo" for the bundled synthetic cascade
    speed: float = Field(60, gt=0, le=100_000)  # market seconds per real second

    @field_validator("url")
    @classmethod
    def _file_exists(cls, v: str, info: ValidationInfo) -> str:
        # checked here, with every other error, rather than as a crash once the service runs
        if info.data.get("enabled") and v != "demo" and not Path(v).expanduser().is_file():
            raise ValueError(f"replay file not found: {v}")
        return v


class SourcesConfig(Strict):
    binance: BinanceConfig = BinanceConfig()
    binance_coinm: BinanceCoinMConfig = BinanceCoinMConfig()
    bybit: BybitConfig = BybitConfig()
    bybit_inverse: BybitInverseConfig = BybitInverseConfig()
    okx: OkxConfig = OkxConfig()
    gate: GateConfig = GateConfig()
    bitget: BitgetConfig = BitgetConfig()
    bitmex: BitmexConfig = BitmexConfig()
    htx: HtxConfig = HtxConfig()
    deribit: DeribitConfig = DeribitConfig()
    coinglass: CoinGlassSource = CoinGlassSource()
    replay: ReplaySource = ReplaySource()
    # an event above this USD amount is rejected and counted (bot.domain.event_checks says why
    # this default: 5x the largest single liquidation reported, far below the record day)
    max_event_usd: float = Field(DEFAULT_MAX_EVENT_USD, gt=0)


class AlertsConfig(Strict):
    rearm_ratio: float = Field(0.8, gt=0, lt=1)  # re-arm below this share of the threshold
    min_quiet: Duration = 15 * 60  # at least this long between one episode's fire and re-arming
    escalation_factor: float = Field(2.0, gt=1, le=100)
    tick: Duration = 10  # seconds between evaluations (new data also triggers one)
    # deprecated, ignored: new data is evaluated at once (check-config says so when it is set)
    debounce: float | None = Field(None, ge=0, le=10)
    max_delivery_age: Duration = 6 * 3600  # an alert older than this is dropped, not sent
    attach_chart: bool = False  # a PNG of the alert's coin and window goes with each alert


class LimitsConfig(Strict):
    subscriptions_per_chat: int = Field(50, ge=1, le=10_000)


class Broadcast(Strict):
    # -100123 (a number in YAML), "@channel", "discord:<channel id>", "console:local"
    chat: Annotated[str, BeforeValidator(lambda v: normalize_chat(v))]
    rule: str  # written like a /subscribe line: "btc 1h 100m shorts"

    @field_validator("rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        # validated with the rest of the file, so every mistake shows in one pass
        try:
            cmd = parse_command("/subscribe " + v)
        except CommandError as e:
            raise ValueError(str(e)) from None
        if not isinstance(cmd, Subscribe):
            raise ValueError("write it like a /subscribe line: 'btc 1h 100m shorts'")
        return v


class WebhookTargetConfig(Strict):
    """An HTTP endpoint that receives alerts as signed JSON POSTs (chat key webhook:<name>)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    url: str = Field(pattern=r"^https?://")
    rule: str  # written like a /subscribe line: "btc 1h 100m shorts"
    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the variable holding the key
    timeout: Duration = 10

    @field_validator("rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        return Broadcast._rule(v)  # the same check as a broadcast's, in the same pass

    @property
    def shown_url(self) -> str:
        """The URL as printed (check-config): its scheme and host only, since webhook URLs often
        carry a token in the path or the query (https://hooks.example/T0/B0/XXXX)."""
        scheme, _, rest = self.url.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}/…"


class DigestConfig(Strict):
    """A daily summary to a chat at a local time of day."""

    chat: Annotated[str, BeforeValidator(lambda v: normalize_chat(v))]  # webhook:<name> too
    at: str = "08:00"
    tz: str = "UTC"  # an IANA zone: Europe/Berlin, America/New_York

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        from bot.domain.digest import DigestError, parse_local_time

        try:
            m = parse_local_time(v)
        except DigestError as e:
            raise ValueError(str(e)) from None
        return f"{m // 60:02d}:{m % 60:02d}"

    @field_validator("tz")
    @classmethod
    def _tz(cls, v: str) -> str:
        from bot.domain.digest import DigestError, parse_zone

        try:
            return parse_zone(v)  # the zone's own spelling: europe/berlin -> Europe/Berlin
        except DigestError as e:
            raise ValueError(str(e)) from None


class ConsoleConfig(Strict):
    enabled: Literal["auto", "on", "off"] = "auto"  # auto: on when no chat platform has a token


class LoggingConfig(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # json: one object per line, for log collectors
    file: str = ""  # append to this file instead of stderr (keeps the console chat readable)


class HttpConfig(Strict):
    """The operator's port: /healthz, /metrics and the Telegram webhook. $PORT wins over port."""

    # this machine only; the Docker image sets LIQBOT_HTTP__HOST=0.0.0.0 (a container needs it)
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535)  # None: off (unless $PORT); 0: any free port
    stale_after: Duration = 120  # /healthz fails when no evaluation finished for this long
    no_source_for: Duration = 5 * 60  # ... when no data source has been up for this long
    outbox_stuck_after: Duration = 10 * 60  # ... when the oldest due message waited this long


class ReplicaConfig(Strict):
    """Replicas on one PostgreSQL store (docs/scaling.md); with SQLite the process just leads."""

    id: str = ""  # this replica's name in /status and /healthz; empty: hostname-pid
    poll: float = Field(1.0, ge=0.1, le=10)  # seconds between tries for (or checks of) the lock
    # seconds of silence after which PostgreSQL frees a leader's lock (frozen, machine gone)
    lease: float = Field(5.0, ge=1, le=60)

    @model_validator(mode="after")
    def _lease_covers_polls(self) -> ReplicaConfig:
        if self.lease < 2 * self.poll:
            raise ValueError("replica.lease must be at least twice replica.poll")
        return self


def _operator_list(v: Any) -> Any:
    return {"chats": v} if isinstance(v, list | tuple) else v


class OperatorsConfig(Strict):
    """Who hears of failures and recoveries (once per transition), through the outbox."""

    chats: tuple[str, ...] = ()  # Telegram chat ids, discord:<channel id>, console:local
    source_down_after: Duration = 5 * 60  # a source down this long is reported
    delivery_failing_after: Duration = 10 * 60  # a platform failing every send this long
    check_every: Duration = 15  # seconds between looks at the service's state
    heartbeat: str = ""  # "09:00": a daily "still running" message at that UTC time; "" none

    @field_validator("chats", mode="before")
    @classmethod
    def _chat_keys(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return tuple(normalize_chat(str(c)) for c in v)
        return v

    @field_validator("heartbeat")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        v = v.strip()
        if v:
            hh, _, mm = v.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ValueError("expected a UTC time of day like 09:00, or empty for none")
            v = f"{int(hh):02d}:{int(mm):02d}"
        return v

    @field_validator("check_every")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1 second")
        return v


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
    """The file alone, over the defaults (the environment is merged by bot.settings)."""
    return parse_config(read_yaml(path), origin=str(path))
