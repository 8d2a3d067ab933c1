"""Settings, read once from the environment (prefix MICROFACTORY_) in `bootstrap`; nothing
reads the environment at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MICROFACTORY_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///microfactory.db",
        description="sqlite:///FILE (default) or postgresql+psycopg://USER@HOST:PORT/DB",
    )
    bus: Literal["memory", "mqtt"] = "memory"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    opcua_endpoint: str = "opc.tcp://127.0.0.1:4840/microfactory/"
    site: str = "demo"
    data_dir: Path | None = None
    factory_file: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    secret_key: str | None = Field(
        default=None, description="signs session cookies; generated and stored when unset"
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For / X-Forwarded-Proto headers are believed (e.g. 127.0.0.1,10.0.0.0/8); "
        "empty: none, the peer address is the client",
    )
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure flag on cookies: auto = when the request came over HTTPS (directly "
        "or from a trusted proxy saying so)",
    )
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024,
        description="largest model upload in bytes (64 MiB: a binary STL of 1,342,000 "
        "triangles); larger files are refused with the limit named",
    )
    quote_hold_hours: float = 48.0
    maintenance_lead_hours: float = 24.0
    nats_url: str | None = Field(
        default=None,
        description="the hub's NATS cluster (network quotes from the API), nats://[USER:PASS@]HOST:PORT[,...]",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail notifications (none: no e-mail)"
    )
    smtp_port: int = 25
    smtp_from: str = "microfactory@localhost"
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password_env: str = Field(
        default="MICROFACTORY_SMTP_PASSWORD",
        description="the environment variable holding the SMTP password (never stored)",
    )
