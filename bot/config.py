"""Typed settings, read from the environment and an optional ``.env`` file.

One class per concern (the database, the HTTP server, Telegram, WhatsApp, delivery, the scheduler,
privacy), each with the variable names operators expect; `Settings` is all of them together.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import LOCALES


def default_data_dir() -> Path:
    return Path(os.environ.get("FORUMBOT_DATA_DIR", Path.cwd() / "var"))


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it in one line."""


class DatabaseSettings(BaseSettings):
    """Where the data lives: the database (SQLite file by default) and the optional Redis."""

    data_dir: Path = Field(default_factory=default_data_dir, alias="FORUMBOT_DATA_DIR")
    database_url: str = Field(default="", alias="DATABASE_URL")
    redis_url: str = Field(default="", alias="REDIS_URL")
    redis_namespace: str = Field(default="forumbot", alias="FORUMBOT_REDIS_NAMESPACE", pattern=r"^[\w.-]{1,64}$")

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgres")):  # postgres:// is normalised below
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'forumbot.sqlite3'}"


class ServerSettings(BaseSettings):
    """The HTTP server (webhooks, /healthz), logging and the language strangers are greeted in."""

    http_host: str = Field(default="127.0.0.1", alias="FORUMBOT_HTTP_HOST")
    http_port: int = Field(default=8080, alias="FORUMBOT_HTTP_PORT", ge=0, le=65535)
    # Meta's and Telegram's deliveries are a few kilobytes; anything over this is refused unread (413).
    http_max_body_bytes: int = Field(default=1_048_576, alias="FORUMBOT_HTTP_MAX_BODY_BYTES", ge=1024)
    log_level: str = Field(default="INFO", alias="FORUMBOT_LOG_LEVEL")
    log_format: str = Field(default="text", alias="FORUMBOT_LOG_FORMAT", pattern="^(text|json)$")
    default_locale: str = Field(default="he", alias="FORUMBOT_DEFAULT_LOCALE")
    # The web page (bot.webapp): the address people open it at (sign-in links and the Telegram Mini
    # App button are built from it), and how long a signed-in browser stays signed in.
    public_base_url: str = Field(default="", alias="FORUMBOT_PUBLIC_URL")
    web_session_hours: float = Field(default=12.0, alias="FORUMBOT_WEB_SESSION_HOURS", gt=0, le=24 * 30)

    @field_validator("public_base_url")
    @classmethod
    def _valid_public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://forums.example.org")
        return value.rstrip("/")

    @property
    def mini_app_url(self) -> str:
        """The Telegram Mini App's address (Telegram opens https pages only; empty otherwise)."""
        return f"{self.public_base_url}/web/tma" if self.public_base_url.startswith("https://") else ""

    @property
    def web_base_url(self) -> str:
        """Where the web page is reached: the public URL, else this server's own address."""
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"

    @field_validator("default_locale")
    @classmethod
    def _valid_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value


class TelegramSettings(BaseSettings):
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_url: str = Field(default="", alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_server: str = Field(default="", alias="TELEGRAM_API_SERVER")
    telegram_rate_per_second: float = Field(default=29.0, alias="TELEGRAM_RATE_PER_SECOND", gt=0)
    telegram_request_timeout: int = Field(default=30, alias="TELEGRAM_REQUEST_TIMEOUT", ge=1, le=300)
    telegram_polling_timeout: int = Field(default=25, alias="TELEGRAM_POLLING_TIMEOUT", ge=0, le=60)
    # A Mini App's signed initData older than this is refused (Telegram's auth_date).
    telegram_webapp_max_age: int = Field(default=3600, alias="TELEGRAM_WEBAPP_MAX_AGE_SECONDS", ge=10)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and bool(self.telegram_bot_token.get_secret_value())


class WhatsAppSettings(BaseSettings):
    whatsapp_token: SecretStr | None = Field(default=None, alias="WHATSAPP_TOKEN")
    whatsapp_phone_id: str = Field(default="", alias="WHATSAPP_PHONE_ID")
    whatsapp_app_secret: SecretStr | None = Field(default=None, alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr | None = Field(default=None, alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_api_base: str = Field(default="https://graph.facebook.com", alias="WHATSAPP_API_BASE")
    whatsapp_display_number: str = Field(default="", alias="WHATSAPP_DISPLAY_NUMBER")
    whatsapp_waba_id: str = Field(default="", alias="WHATSAPP_WABA_ID")

    @field_validator("whatsapp_api_base")
    @classmethod
    def _valid_api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://graph.facebook.com")
        return value.rstrip("/")

    @field_validator("whatsapp_display_number")
    @classmethod
    def _valid_display_number(cls, value: str) -> str:
        digits = "".join(ch for ch in value if ch.isdigit())
        if value.strip() and (len(digits) < 8 or any(ch not in "+-() 0123456789" for ch in value)):
            raise ValueError("must be the WhatsApp number in international form, e.g. 972501234567")
        return digits

    @property
    def whatsapp_enabled(self) -> bool:
        return self.whatsapp_token is not None and bool(self.whatsapp_phone_id)


class DeliverySettings(BaseSettings):
    """Sending (the outbox) and flood control of what comes in."""

    sending_stale_seconds: int = Field(default=300, alias="FORUMBOT_SENDING_STALE_SECONDS", ge=1)
    flood_events: int = Field(default=20, alias="FORUMBOT_FLOOD_EVENTS", ge=0)
    flood_seconds: float = Field(default=10.0, alias="FORUMBOT_FLOOD_SECONDS", gt=0)
    flood_quiet_seconds: float = Field(default=30.0, alias="FORUMBOT_FLOOD_QUIET_SECONDS", ge=0)


class SchedulerSettings(BaseSettings):
    """The clock: the tick and the time zone every date is read in."""

    timezone: str = Field(default="Asia/Jerusalem", alias="FORUMBOT_TIMEZONE")
    scheduler_tick_seconds: float = Field(default=30.0, alias="FORUMBOT_TICK_SECONDS", gt=0)
    # A deployment on a simulated clock (a workshop, a demo): `forumbot clock` moves it. Never on by default.
    simulated_clock: bool = Field(default=False, alias="FORUMBOT_SIMULATED_CLOCK")

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class PrivacySettings(BaseSettings):
    """How long anything personal is kept."""

    retention_days: int = Field(default=730, alias="FORUMBOT_RETENTION_DAYS", ge=30)
    outbox_retention_days: int = Field(default=30, alias="FORUMBOT_OUTBOX_RETENTION_DAYS", ge=1)
    audit_retention_days: int = Field(default=730, alias="FORUMBOT_AUDIT_RETENTION_DAYS", ge=30)


class Settings(
    DatabaseSettings,
    ServerSettings,
    TelegramSettings,
    WhatsAppSettings,
    DeliverySettings,
    SchedulerSettings,
    PrivacySettings,
):
    """All of them, read once: a component that needs one concern may take that class alone."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


def normalise_database_url(url: str) -> str:
    """Accept the plain forms operators paste and pick the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad value becomes one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigError(f"setting {name}: {first['msg']}") from None
