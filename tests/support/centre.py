"""Options for a LocalCentre in tests: a real broker, a short run, talk times sped up."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dialguard.demo.centre import CentreOptions


def centre_options(broker_url: str, workdir: Path, **overrides: Any) -> CentreOptions:
    """CentreOptions on ``broker_url`` (``mqtt://host:port``) writing to ``workdir``."""
    u = urlsplit(broker_url)
    base: dict[str, Any] = {
        "broker_host": u.hostname or "127.0.0.1",
        "broker_port": u.port or 1883,
        "workdir": workdir,
        "speedup": 20.0,
        "drain_s": 25.0,
    }
    return CentreOptions(**{**base, **overrides})
