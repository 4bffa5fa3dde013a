"""Settings per concern: each class reads its own variables; `Settings` is all of them; bad values
become one line naming the variable."""

from __future__ import annotations

import pytest

from bot.config import (
    ConfigError,
    DatabaseSettings,
    DeliverySettings,
    PrivacySettings,
    SchedulerSettings,
    Settings,
    TelegramSettings,
    WhatsAppSettings,
    load_settings,
)


def test_each_concern_reads_only_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("FORUMBOT_RETENTION_DAYS", "400")
    monkeypatch.setenv("FORUMBOT_TICK_SECONDS", "5")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    telegram = TelegramSettings(_env_file=None)  # type: ignore[call-arg]
    assert telegram.telegram_enabled and not hasattr(telegram, "retention_days")
    assert PrivacySettings(_env_file=None).retention_days == 400  # type: ignore[call-arg]
    assert SchedulerSettings(_env_file=None).scheduler_tick_seconds == 5  # type: ignore[call-arg]
    assert DatabaseSettings(_env_file=None).effective_database_url == "postgresql+asyncpg://u@h/db"  # type: ignore[call-arg]
    assert not WhatsAppSettings(_env_file=None).whatsapp_enabled  # type: ignore[call-arg]
    assert DeliverySettings(_env_file=None).sending_stale_seconds == 300  # type: ignore[call-arg]
    every = Settings(_env_file=None)  # type: ignore[call-arg]
    assert every.telegram_enabled and every.retention_days == 400 and every.scheduler_tick_seconds == 5
    assert isinstance(every, TelegramSettings) and isinstance(every, PrivacySettings)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("FORUMBOT_TIMEZONE", "Mars/Base", "FORUMBOT_TIMEZONE"),
        ("FORUMBOT_RETENTION_DAYS", "3", "FORUMBOT_RETENTION_DAYS"),
        ("WHATSAPP_DISPLAY_NUMBER", "call me", "WHATSAPP_DISPLAY_NUMBER"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=said):
        load_settings(_env_file=None)
