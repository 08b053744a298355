"""Settings: every one documented, read from SANDBOX_* variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`SANDBOX_{name.upper()}`" not in text]
    assert missing == []


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_REPLY_DELAY_S", "0")
    monkeypatch.setenv("SANDBOX_MESSAGE_MAX_CHARS", "500")
    monkeypatch.setenv("SANDBOX_PACKS", os.pathsep.join(["one", "two"]))
    settings = Settings()
    assert settings.reply_delay_s == 0
    assert settings.message_max_chars == 500
    assert settings.pack_folders == [Path("one"), Path("two")]
    assert settings.is_embedded_default


def test_postgres_is_not_the_embedded_default() -> None:
    settings = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1/db")
    assert not settings.is_sqlite and not settings.is_embedded_default
