"""Settings of the web product, read from `SANDBOX_*` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandbox.hint_policy import HintPolicyError, read_policy
from sandbox.origins import parse_allowed_origins
from sandbox.private import write_private_text

DEFAULT_DATABASE_URL = "sqlite:///./var/sandbox.db"
SECRET_FILE_NAME = "secret_key"
MIN_SECRET_CHARS = 32


class ConfigError(Exception):
    """A setting is missing or unusable; the message names the variable to set."""


class Settings(BaseSettings):
    """Everything the web product can be told from outside; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    packs: str = ""
    # One folder of packs the admin's suggestions page may write (docs/mentor.md).
    packs_writable: str = ""
    lexicon: str = ""
    builtin_packs: bool = True
    knowledge: str = ""
    builtin_knowledge: bool = True
    questions: str = ""
    secret_key: SecretStr | None = None
    var_dir: Path = Path("var")
    reply_delay_s: float = Field(default=1.2, ge=0, le=30)
    message_max_chars: int = Field(default=2000, ge=1, le=100_000)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    demo_users: bool = True
    workers: int = Field(default=1, ge=1, le=64)
    ws_compression: bool = False
    bench_echo: bool = False
    # Whether this process runs background jobs (web/jobs.py); every process does by default.
    run_jobs: bool = True
    allowed_origins: str = ""
    forwarded_allow_ips: str = "127.0.0.1"
    login_failures_per_account: int = Field(default=5, ge=1, le=1000)
    login_failures_per_address: int = Field(default=30, ge=1, le=100_000)
    login_window_s: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    chat_burst: int = Field(default=20, ge=1, le=10_000)
    chat_per_minute: int = Field(default=60, ge=1, le=60_000)
    chat_sockets_per_attempt: int = Field(default=4, ge=1, le=100)
    # Practice hints where a scenario sets none: off, on, or how many per attempt (1..20).
    hints: str = "on"
    socket_recheck_s: float = Field(default=5.0, gt=0, le=300)
    xapi_base_iri: str = ""
    lrs_url: str = ""
    lrs_username: str = ""
    lrs_password: SecretStr | None = None
    lrs_timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _refuse_weak_production_secret(self) -> Settings:
        if self.env == "production":
            secret = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(secret) < MIN_SECRET_CHARS:
                raise ValueError(
                    "SANDBOX_SECRET_KEY must be set to at least "
                    f"{MIN_SECRET_CHARS} random characters when SANDBOX_ENV=production"
                )
        return self

    @model_validator(mode="after")
    def _check_hints(self) -> Settings:
        try:
            read_policy(self.hints)
        except HintPolicyError as error:
            raise ValueError(f"SANDBOX_HINTS: {error}") from None
        return self

    @model_validator(mode="after")
    def _check_allowed_origins(self) -> Settings:
        parse_allowed_origins(self.allowed_origins)  # raises ValueError naming the bad one
        return self

    @model_validator(mode="after")
    def _check_xapi(self) -> Settings:
        for name, value in (
            ("SANDBOX_XAPI_BASE_IRI", self.xapi_base_iri),
            ("SANDBOX_LRS_URL", self.lrs_url),
        ):
            if value and not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://, got {value!r}")
        return self

    @property
    def xapi_base(self) -> str:
        """The IRI under which statements name activities and accounts (no trailing slash)."""
        return (self.xapi_base_iri or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def lexicon_folders(self) -> list[Path]:
        """The organisation's lexicon folders or files named by SANDBOX_LEXICON, in order."""
        return [Path(part) for part in self.lexicon.split(os.pathsep) if part.strip()]

    @property
    def pack_folders(self) -> list[Path]:
        """The extra pack folders named by SANDBOX_PACKS, in order."""
        return [Path(part) for part in self.packs.split(os.pathsep) if part.strip()]

    @property
    def writable_pack_folder(self) -> Path | None:
        """The pack folder the server may write (SANDBOX_PACKS_WRITABLE), or None."""
        return Path(self.packs_writable) if self.packs_writable.strip() else None

    @property
    def knowledge_folders(self) -> list[Path]:
        """The extra knowledge-article folders or files named by SANDBOX_KNOWLEDGE, in order."""
        return [Path(part) for part in self.knowledge.split(os.pathsep) if part.strip()]

    @property
    def question_folders(self) -> list[Path]:
        """The extra question bank folders named by SANDBOX_QUESTIONS, in order."""
        return [Path(part) for part in self.questions.split(os.pathsep) if part.strip()]

    @property
    def is_sqlite(self) -> bool:
        """True when the database is an SQLite file (the embedded default)."""
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded_default(self) -> bool:
        """True for the quick-start setup: SQLite and not production."""
        return self.is_sqlite and self.env != "production"

    def resolved_secret_key(self) -> str:
        """The signing secret: the configured one, or one generated once and kept in var/."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        if self.env == "production":
            raise ConfigError("SANDBOX_SECRET_KEY is required when SANDBOX_ENV=production")
        path = self.var_dir / SECRET_FILE_NAME
        if path.exists():
            stored = path.read_text(encoding="utf-8").strip()
            if len(stored) >= MIN_SECRET_CHARS:
                return stored
        secret = secrets.token_urlsafe(48)
        write_private_text(path, secret + "\n")  # var/ 0700, the file 0600
        return secret
