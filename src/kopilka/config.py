"""All settings in one place, read from the environment (prefix ``KOPILKA_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOPILKA_", extra="ignore")

    env: Environment = Environment.development
    #: A PostgreSQL URL (postgresql://user:pass@host/db). Unset: run the embedded server.
    database_url: str | None = None
    #: Where the embedded server keeps its data, and other local state.
    data_dir: Path = Path("var")
    #: The tenant used by the CLI when no portal is named (self-hosted single company).
    default_portal: str = "local"
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
