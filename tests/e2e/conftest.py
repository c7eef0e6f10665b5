"""End-to-end tests: real mosquitto, the SIP trunk simulator, the sippy adapter, MQTT
agent desktops and the engine, all on 127.0.0.1. Each test is bounded in time."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
