"""Engine configuration: where the broker, the trunk and the store are, how to log.

Read from ``config/dialguard.toml``; any field can be overridden from the environment
as ``DIALGUARD_<SECTION>__<FIELD>`` (e.g. ``DIALGUARD_BROKER__PASSWORD``), so secrets
need not live in the file.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Final, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dialguard.law import (
    BUILT_IN_LISTS,
    CONNECT_DEADLINE_S,
    LIST_NAME_PATTERN,
    ListTerms,
)
from dialguard.pacing.admission import AdmissionParams, Limits
from dialguard.phone import InvalidNumber, check_region

TOPIC_LEVEL_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""One MQTT topic level we name (an agent id, a client id): no '/', no wildcards, no
spaces. The MQTT contract (mqtt/contract.py) uses the same pattern for its ids."""
_LEVEL = re.compile(TOPIC_LEVEL_PATTERN)


def topic_prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot head our topics (None when it can): the engine subscribes to
    ``{prefix}/agents/+/state``, so a wildcard, an empty level or a ``$`` (the broker's
    own ``$SYS``) in it would subscribe to other people's topics or to nothing."""
    if not prefix:
        return "must not be empty"
    if any(c in prefix for c in "+#\0"):
        return "must not contain '+', '#' or NUL (MQTT wildcards)"
    if prefix.startswith("$"):
        return "must not start with '$' (reserved for the broker)"
    if "" in prefix.split("/"):
        return "must not start or end with '/' nor contain '//'"
    return None


def template_problem(template: str, fields: frozenset[str]) -> str | None:
    """Why ``template`` cannot be filled with exactly ``fields`` (None when it can)."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        return f"not a valid template ({e})"
    unknown = sorted(n for n in names if n not in fields)
    if unknown:
        known = ", ".join("{" + f + "}" for f in sorted(fields))
        return f"unknown field(s) {', '.join('{' + n + '}' for n in unknown)}: only {known}"
    return None


def _check_port(parts: SplitResult) -> None:
    """A ValueError naming the port of a URL (broker or store) that is not a number."""
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as e:
        raise ValueError(f"bad port ({e})") from None


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
        if parts.username is not None or parts.password is not None:
            # Never taken from here: a URL is logged and shown, a password must not be.
            raise ValueError(
                "credentials in the URL are not accepted: set broker.username, and the "
                "password as DIALGUARD_BROKER__PASSWORD"
            )
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://HOST:PORT or mqtts://HOST:PORT")
        _check_port(parts)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be just mqtt://HOST:PORT (no path or query)")
        return v

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, v: str) -> str:
        if not _LEVEL.match(v):
            raise ValueError(
                "must be 1–64 letters, digits, '_', '.' or '-' (it is a topic level of "
                "the engine's sync topic; no '/', '+', '#' or spaces)"
            )
        return v

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        problem = topic_prefix_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


AGENT_URI_FIELDS: Final = frozenset({"agent"})


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
    rtp_port_range: tuple[int, int] = (20000, 29999)

    @field_validator("agent_uri_template")
    @classmethod
    def _template(cls, v: str) -> str:
        if "{agent}" not in v or not v.startswith(("sip:", "sips:")):
            raise ValueError("must be a sip: URI containing {agent}, e.g. sip:{agent}@pbx")
        problem = template_problem(v, AGENT_URI_FIELDS)
        if problem is not None:
            # Every transfer would fail, so every answered call would hear the message.
            raise ValueError(problem)
        return v

    @field_validator("rtp_port_range")
    @classmethod
    def _rtp(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if not 0 < lo <= hi < 65536:
            raise ValueError("must be [LOW, HIGH] within 1–65535 with LOW ≤ HIGH")
        return v

    @model_validator(mode="after")
    def _registration(self) -> TrunkConfig:
        if self.registration and not self.username:
            raise ValueError("registration = true needs trunk.username")
        return self

    def agent_uri(self, agent: str) -> str:
        """Where a call for ``agent`` is transferred when the roster gives no URI."""
        return self.agent_uri_template.format(agent=agent)


class StoreConfig(_Section):
    """Where records live. SQLite in WAL mode is the embedded default (``path``); a
    ``url`` (``postgresql://HOST:PORT/DB``) puts them in PostgreSQL instead, where several
    engines may share them, each campaign leased to one of them."""

    path: Path = Path("var/dialguard.sqlite3")
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    lease_ttl_s: float = Field(
        default=10.0,
        ge=2.0,
        le=300.0,
        description="PostgreSQL: how long a campaign's lease outlives its node's last renewal",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.password is not None:
            # Never taken from here: a URL is logged and shown, a password must not be.
            raise ValueError(
                "a password in the URL is not accepted: set it as DIALGUARD_STORE__PASSWORD"
            )
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ValueError("must look like postgresql://HOST:PORT/DATABASE")
        _check_port(parts)
        if parts.path in ("", "/"):
            raise ValueError("must name the database: postgresql://HOST:PORT/DATABASE")
        return v

    @property
    def location(self) -> Path | str:
        """What :meth:`dialguard.store.Store.open` takes: the URL if set, else the file."""
        if self.url is None:
            return self.path
        if self.username is None or urlsplit(self.url).username is not None:
            return self.url
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{self.username}@{rest}"

    @property
    def secret(self) -> str | None:
        """The PostgreSQL password, passed to the driver apart from the URL."""
        return None if self.password is None else self.password.get_secret_value()


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
    agents_file: Path | None = Field(
        default=None,
        description="the agent roster (TOML); unset: no agent is accepted (fail closed)",
    )
    agent_stale_after_s: float = Field(default=30.0, gt=0, le=600)
    shutdown_grace_s: float = Field(default=30.0, ge=0, le=600)
    use_uvloop: bool = True

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        return v.upper()


RESERVED_LIST_NAMES: Final = frozenset({"internal", *BUILT_IN_LISTS})
"""Names a declared list may not take: the internal list and the built-in national ones
(their terms are the law's, :data:`dialguard.law.BUILT_IN_LISTS`)."""


class DeclaredList(_Section):
    """One ``[[dnc_list]]``: a national do-not-call list dialguard does not ship, with
    the terms its law sets (a campaign screens it by ``source`` in ``[dnc] lists``)."""

    source: str = Field(pattern=LIST_NAME_PATTERN, description="a lower-case token")
    region: str = Field(description="ISO code of the country its numbers are read in")
    max_age_days: int = Field(gt=0, le=366)
    label: str | None = Field(default=None, min_length=1, max_length=80)

    @field_validator("source")
    @classmethod
    def _not_built_in(cls, v: str) -> str:
        if v in RESERVED_LIST_NAMES:
            raise ValueError(
                f"{v!r} is a built-in list (its terms are the law's); choose another name"
            )
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        try:
            return check_region(v)
        except InvalidNumber as e:
            raise ValueError(str(e)) from None

    def terms(self) -> ListTerms:
        return ListTerms(self.region, self.max_age_days, self.label)


_ADMISSION: Final = AdmissionParams()  # the defaults' one home is pacing.admission
_Pair = tuple[float, float]


class AdmissionConfig(_Section):
    """``[admission]``: how many launches may be under way at once, and each headroom
    signal's (target, stop): past the target the window halves, past the stop no
    launch starts for a moment (pacing/admission.py; docs/operator.md). The defaults
    leave the 2 s promise more than a second of slack; tighten them for a slow store,
    loosen the window for a fast machine."""

    initial_window: int = Field(default=_ADMISSION.initial, ge=1, le=10_000)
    min_window: int = Field(default=_ADMISSION.floor, ge=1, le=10_000)
    max_window: int = Field(default=_ADMISSION.ceiling, ge=1, le=10_000)
    loop_lag_s: _Pair = (_ADMISSION.loop_lag.target, _ADMISSION.loop_lag.stop)
    answer_to_refer_s: _Pair = (
        _ADMISSION.answer_to_refer.target,
        _ADMISSION.answer_to_refer.stop,
    )
    store_latency_s: _Pair = (_ADMISSION.store_latency.target, _ADMISSION.store_latency.stop)
    write_queue: _Pair = (_ADMISSION.write_queue.target, _ADMISSION.write_queue.stop)

    @field_validator("loop_lag_s", "answer_to_refer_s", "store_latency_s", "write_queue")
    @classmethod
    def _pair(cls, v: _Pair) -> _Pair:
        target, stop = v
        if not 0 < target < stop:
            raise ValueError(f"[target, stop] = [{target:g}, {stop:g}]: need 0 < target < stop")
        return v

    @field_validator("loop_lag_s", "answer_to_refer_s")
    @classmethod
    def _inside_the_promise(cls, v: _Pair) -> _Pair:
        if v[1] >= CONNECT_DEADLINE_S:
            raise ValueError(
                f"stop {v[1]:g} s must be below the {CONNECT_DEADLINE_S:g} s connect deadline"
                " (launches must stop before answered callees would wait that long)"
            )
        return v

    @model_validator(mode="after")
    def _window(self) -> AdmissionConfig:
        if not self.min_window <= self.initial_window <= self.max_window:
            raise ValueError(
                f"need min_window ≤ initial_window ≤ max_window, got {self.min_window}, "
                f"{self.initial_window}, {self.max_window}"
            )
        return self

    def params(self) -> AdmissionParams:
        """The sans-I/O admission control's parameters from this section."""
        return AdmissionParams(
            initial=self.initial_window,
            floor=self.min_window,
            ceiling=self.max_window,
            loop_lag=Limits(*self.loop_lag_s),
            answer_to_refer=Limits(*self.answer_to_refer_s),
            store_latency=Limits(*self.store_latency_s),
            write_queue=Limits(*self.write_queue),
        )


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
    admission: AdmissionConfig = AdmissionConfig()
    dnc_list: list[DeclaredList] = Field(default_factory=list)

    @field_validator("dnc_list")
    @classmethod
    def _declared_once(cls, v: list[DeclaredList]) -> list[DeclaredList]:
        first: dict[str, int] = {}
        for i, d in enumerate(v):
            if d.source in first:
                raise ValueError(
                    f"dnc_list[{i}].source {d.source!r}: already declared by"
                    f" dnc_list[{first[d.source]}]"
                )
            first[d.source] = i
        return v

    def national_lists(self) -> dict[str, ListTerms]:
        """Every national list this engine knows: the built-in ones, then the declared."""
        return {**BUILT_IN_LISTS, **{d.source: d.terms() for d in self.dnc_list}}

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
