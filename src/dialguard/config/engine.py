"""Engine configuration: where the broker, the trunk and the store are, how to log.

Read from ``config/dialguard.toml``; any field can be overridden from the environment
as ``DIALGUARD_<SECTION>__<FIELD>`` (e.g. ``DIALGUARD_BROKER__PASSWORD``), so secrets
need not live in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrokerConfig(_Section):
    """The MQTT broker that carries agent state, supervisor controls and call events."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = "dialguard-engine"
    topic_prefix: str = "dialguard"
    keepalive_s: int = Field(default=15, ge=5, le=600)
    tls_ca_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://HOST:PORT or mqtts://HOST:PORT")
        return v

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


class TrunkConfig(_Section):
    """The SIP trunk (or PBX) dialguard places calls through."""

    host: str = "127.0.0.1"
    port: int = Field(default=5070, ge=1, le=65535)
    local_host: str = "127.0.0.1"
    local_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    username: str | None = None
    password: SecretStr | None = None
    registration: bool = Field(default=False, description="REGISTER with the trunk first")
    agent_uri_template: str = "sip:{agent}@127.0.0.1:5070"
    rtp_port_range: tuple[int, int] = (20000, 20999)

    @field_validator("agent_uri_template")
    @classmethod
    def _template(cls, v: str) -> str:
        if "{agent}" not in v or not v.startswith(("sip:", "sips:")):
            raise ValueError("must be a sip: URI containing {agent}, e.g. sip:{agent}@pbx")
        return v


class StoreConfig(_Section):
    """Where records live. SQLite in WAL mode is the embedded default."""

    path: Path = Path("var/dialguard.sqlite3")


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsConfig(_Section):
    """Prometheus ``/metrics`` and ``/healthz`` on one small HTTP listener."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class EngineSection(_Section):
    default_region: str = Field(default="GB", min_length=2, max_length=2)
    campaigns_dir: Path = Path("campaigns")
    agent_stale_after_s: float = Field(default=30.0, gt=0, le=600)
    shutdown_grace_s: float = Field(default=30.0, ge=0, le=600)
    use_uvloop: bool = True

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        return v.upper()


class EngineConfig(BaseSettings):
    """Everything the daemon needs except the campaigns themselves."""

    model_config = SettingsConfigDict(
        env_prefix="DIALGUARD_", env_nested_delimiter="__", extra="forbid"
    )

    broker: BrokerConfig = BrokerConfig()
    trunk: TrunkConfig = TrunkConfig()
    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    engine: EngineSection = EngineSection()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed in as init values), so an operator
        # can override one field in a container without editing the TOML.
        return (env_settings, init_settings)
