"""The Docker stack's mosquitto set-up, run for real: the ACL, password file and TLS
listener from config/mosquitto/, generated with the stack's own scripts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from dialguard.config import BrokerConfig, Roster, load_roster
from dialguard.demo.desktops import AgentBehaviour, SimulatedAgent
from dialguard.engine.agents import AgentRegistry, Rejected
from dialguard.engine.mqtt import BrokerLink
from dialguard.mqtt.client import Backoff
from dialguard.mqtt.contract import ControlRequest, Topics, encode
from tests.support.mosquitto import Mosquitto, free_port

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "config" / "mosquitto"
ENGINE_PW, SUPER_PW, AGENT_PW, HEALTH_PW = (
    "engine-pw-7Qx2vL9mZ",
    "super-pw-Kd83jRt0pW",
    "agent-pw-Hs71nBq4cY",
    "health-pw-Ua56tEw2rN",
)
PASSWORDS = {
    "DIALGUARD_ENGINE_MQTT_PASSWORD": ENGINE_PW,
    "DIALGUARD_SUPERVISOR_MQTT_PASSWORD": SUPER_PW,
    "DIALGUARD_AGENT_PASSWORD": AGENT_PW,
    "DIALGUARD_HEALTHCHECK_MQTT_PASSWORD": HEALTH_PW,
    "DIALGUARD_AGENTS": "3",
}
T = Topics("dialguard")  # the ACL is written for the default prefix


@dataclass
class Stack:
    broker: Mosquitto
    tls_port: int
    ca_file: Path
    roster_file: Path

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"


def render_conf(workdir: Path, tls_port: int) -> str:
    """config/mosquitto/mosquitto.conf with container paths pointed at ``workdir`` and
    its listeners on free loopback ports (the test helper adds the plain listener)."""
    text = (CONF_DIR / "mosquitto.conf").read_text()
    text = text.replace("/mosquitto/auth/", f"{workdir}/auth/")
    text = text.replace("/mosquitto/certs/", f"{workdir}/certs/")
    text = re.sub(r"^listener 1883 127\.0\.0\.1$", "", text, flags=re.M)
    text = re.sub(r"^listener 8883$", f"listener {tls_port} 127.0.0.1", text, flags=re.M)
    text = re.sub(
        r"^(persistence|persistence_location|autosave_interval|log_dest)\b.*$", "", text, flags=re.M
    )
    # mosquitto started as root drops to user "mosquitto", who cannot read pytest's
    # private temp dirs; "user root" keeps it as the test's user (ignored if not root).
    return "user root\n" + text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip(
            "mosquitto_passwd is not installed (Debian package mosquitto): no password file"
        )
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make the TLS certificates")
    work = tmp_path_factory.mktemp("mqtt-stack")
    env = {**os.environ, **PASSWORDS}
    subprocess.run(
        ["sh", str(CONF_DIR / "make-passwords.sh"), str(work / "auth"), str(work / "agents.toml")],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        ["sh", str(CONF_DIR / "make-dev-certs.sh"), str(work / "certs"), "localhost"],
        check=True,
        capture_output=True,
    )
    tls_port = free_port()
    broker = Mosquitto(work, extra_conf=render_conf(work, tls_port)).start()
    try:
        yield Stack(broker, tls_port, work / "certs" / "ca.crt", work / "agents.toml")
    finally:
        broker.stop()


@contextlib.asynccontextmanager
async def login(stack: Stack, user: str, password: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1", stack.broker.port, username=user, password=password, timeout=3
    ) as c:
        yield c


async def collect(client: aiomqtt.Client, seconds: float) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                got.append((m.topic.value, m.payload))
    return got


async def test_anonymous_and_wrong_password_are_refused(stack: Stack) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", stack.broker.port, timeout=3):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with login(stack, "agent-001", "wrong"):
            pass


async def test_agent_writes_its_own_state_but_not_another_agents(stack: Stack) -> None:
    async with login(stack, "agent-001", AGENT_PW) as a1:
        await a1.publish(T.agent_state("agent-001"), b'{"own": 1}', qos=1, retain=True)
        await a1.publish(T.agent_state("agent-002"), b'{"forged": 1}', qos=1, retain=True)
        await a1.publish(T.campaign_control("spring"), b'{"forged": 2}', qos=1)
    # A fresh engine subscriber sees what was retained: only the agent's own state.
    async with login(stack, "engine", ENGINE_PW) as engine:
        await engine.subscribe(T.all_agent_states, qos=1)
        await engine.subscribe(T.all_controls, qos=1)
        got = await collect(engine, 0.5)
    assert got == [(T.agent_state("agent-001"), b'{"own": 1}')]


async def test_agent_reads_only_its_own_calls(stack: Stack) -> None:
    async with login(stack, "agent-001", AGENT_PW) as a1:
        await a1.subscribe(f"{T.prefix}/agents/+/call", qos=1)
        async with login(stack, "engine", ENGINE_PW) as engine:
            await engine.publish(T.agent_call("agent-002"), b"for two", qos=1)
            await engine.publish(T.agent_call("agent-001"), b"for one", qos=1)
        got = await collect(a1, 0.5)
    assert got == [(T.agent_call("agent-001"), b"for one")]


async def test_supervisor_controls_reach_the_engine(stack: Stack) -> None:
    req = ControlRequest(request_id="r1", actor="sue", action="pause")
    async with login(stack, "engine", ENGINE_PW) as engine:
        await engine.subscribe(T.all_controls, qos=1)
        async with login(stack, "supervisor", SUPER_PW) as sup:
            await sup.publish(T.campaign_control("spring"), encode(req), qos=1)
            await sup.publish(T.agent_call("agent-001"), b"forged offer", qos=1)  # not allowed
        got = await collect(engine, 0.5)
    assert got == [(T.campaign_control("spring"), encode(req))]


async def test_engine_and_agent_over_tls_with_acl_and_will(stack: Stack) -> None:
    """The whole contract through the Docker configuration: TLS, logins, the engine's
    resync topic, the agent's retained state and its will."""
    cfg = BrokerConfig(
        url=stack.tls_url,
        username="engine",
        password=ENGINE_PW,  # type: ignore[arg-type]
        client_id="engine-tls",
        tls_ca_file=stack.ca_file,
    )
    link = BrokerLink(
        cfg,
        AgentRegistry(30, roster=load_roster(stack.roster_file)),
        backoff=Backoff(0.05, 0.3),
        rng=random.Random(3),
        tick_s=0.05,
    )
    agent = SimulatedAgent(
        "agent-003",
        stack.tls_url,
        username="agent-003",
        password=AGENT_PW,
        tls_ca_file=str(stack.ca_file),
        behaviour=AgentBehaviour(heartbeat_s=30),
    )
    tasks = [asyncio.create_task(link.run()), asyncio.create_task(agent.run())]
    try:
        assert await link.wait_synced(5.0), "resync did not complete under the ACL"
        deadline = time.monotonic() + 5
        while link.registry.available(link.now()) != ["agent-003"]:
            assert time.monotonic() < deadline, "agent state did not arrive over TLS"
            await asyncio.sleep(0.02)
        agent.crash()
        while link.registry.effective_state("agent-003") != "offline":
            assert time.monotonic() < deadline + 5, "will was not delivered"
            await asyncio.sleep(0.02)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_engine_without_acl_rights_never_dials(stack: Stack) -> None:
    """An engine logged in with the wrong user (here: supervisor, who may not use the
    sync topic) never completes a resync: it keeps reconnecting and never allows dialling."""
    cfg = BrokerConfig(
        url=stack.broker.url,
        username="supervisor",
        password=SUPER_PW,  # type: ignore[arg-type]
        client_id="engine-misconfigured",
    )
    link = BrokerLink(
        cfg,
        AgentRegistry(30, roster=Roster()),
        backoff=Backoff(0.05, 0.1),
        rng=random.Random(4),
        tick_s=0.05,
        sync_timeout_s=0.3,
    )
    task = asyncio.create_task(link.run())
    try:
        deadline = time.monotonic() + 5
        while link.stats.connects < 2:
            assert time.monotonic() < deadline, "link did not retry after a failed resync"
            assert not link.dialling_allowed
            await asyncio.sleep(0.02)
        assert link.stats.resyncs == 0 and not link.dialling_allowed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --- each account's limits (issue 11 item 1) -------------------------------------------


async def retained_agent_states(stack: Stack) -> list[tuple[str, bytes]]:
    async with login(stack, "engine", ENGINE_PW) as engine:
        await engine.subscribe(T.all_agent_states, qos=1)
        return await collect(engine, 0.5)


@pytest.mark.parametrize(
    ("user", "password"),
    [("healthcheck", HEALTH_PW), ("supervisor", SUPER_PW), ("engine", ENGINE_PW)],
)
async def test_no_service_account_can_publish_an_agent_state(
    stack: Stack, user: str, password: str
) -> None:
    """mosquitto applies 'pattern' lines to every user: on old main the health check's
    login could publish dialguard/agents/healthcheck/state and be dialled to."""
    ready = b'{"state": "ready", "seq": 1, "ts": 1700000000}'
    async with login(stack, user, password) as c:
        await c.publish(T.agent_state(user), ready, qos=1, retain=True)
        await c.publish(T.agent_state("agent-001"), ready, qos=1, retain=True)
        await c.publish(T.agent_disposition(user), b"{}", qos=1)
    got = await retained_agent_states(stack)
    assert not [t for t, p in got if user in t or p == ready], got


async def test_healthcheck_reads_the_uptime_and_nothing_of_ours(stack: Stack) -> None:
    async with login(stack, "healthcheck", HEALTH_PW) as hc:
        await hc.subscribe("$SYS/broker/uptime", qos=0)
        await hc.subscribe(f"{T.prefix}/#", qos=1)
        async with login(stack, "engine", ENGINE_PW) as engine:
            await engine.publish(T.engine_status, b"{}", qos=1)
            await engine.publish(T.agent_call("agent-001"), b"offer", qos=1)
        got = await collect(hc, 1.5)
    topics = {t for t, _ in got}
    assert not {t for t in topics if t.startswith(T.prefix)}, topics


async def test_supervisor_cannot_read_call_offers_nor_agent_state(stack: Stack) -> None:
    async with login(stack, "supervisor", SUPER_PW) as sup:
        await sup.subscribe(f"{T.prefix}/agents/#", qos=1)
        async with login(stack, "agent-002", AGENT_PW) as a2:
            await a2.publish(T.agent_state("agent-002"), b'{"x": 1}', qos=1)
        async with login(stack, "engine", ENGINE_PW) as engine:
            await engine.publish(T.agent_call("agent-002"), b"offer with a number", qos=1)
        assert await collect(sup, 0.5) == []


async def test_engine_cannot_write_requests_nor_read_other_engine_topics(stack: Stack) -> None:
    async with login(stack, "supervisor", SUPER_PW) as sup:
        await sup.subscribe(T.campaign_events("spring"), qos=1)
        await sup.subscribe(T.engine_status, qos=1)
        async with login(stack, "engine", ENGINE_PW) as engine:
            await engine.publish(T.campaign_control("spring"), b"forged", qos=1)  # refused
            await engine.publish(T.campaign_events("spring"), b"reply", qos=1)
            await engine.publish(T.engine_status, b"status", qos=1)
        got = await collect(sup, 0.5)
    assert (T.campaign_events("spring"), b"reply") in got
    assert (T.engine_status, b"status") in got


async def test_an_agent_account_not_on_the_roster_is_ignored_by_the_engine(stack: Stack) -> None:
    """The generated roster lists exactly the agent accounts; the registry refuses an id
    it does not list even when the broker let the message through."""
    roster = load_roster(stack.roster_file)
    assert sorted(roster) == ["agent-001", "agent-002", "agent-003"]
    reg = AgentRegistry(30, roster=roster)
    reg.begin_resync()
    reg.resync_complete(0.0)
    from dialguard.mqtt.contract import AgentStateMessage

    msg = AgentStateMessage(state="ready", seq=1, ts=1_700_000_000)
    assert isinstance(reg.apply("healthcheck", msg, 0.0), Rejected)
    assert reg.available(0.0) == []


def run_make_passwords(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **PASSWORDS, **env}
    return subprocess.run(
        ["sh", str(CONF_DIR / "make-passwords.sh"), str(tmp / "auth")],
        env=full,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"DIALGUARD_HEALTHCHECK_MQTT_PASSWORD": "healthcheck"},
        {"DIALGUARD_HEALTHCHECK_MQTT_PASSWORD": ""},
        {"DIALGUARD_ENGINE_MQTT_PASSWORD": "short-pw"},
        {"DIALGUARD_AGENT_PASSWORD": "changeme-changeme-1"},
        {"DIALGUARD_SUPERVISOR_MQTT_PASSWORD": ENGINE_PW},  # shared with the engine
    ],
)
def test_make_passwords_refuses_defaults_and_weak_passwords(
    tmp_path: Path, env: dict[str, str]
) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    r = run_make_passwords(tmp_path, **env)
    assert (r.returncode == 2 and "refused" in r.stderr) or "not set" in r.stderr, r.stderr
    assert not (tmp_path / "auth" / "passwd").exists()


def test_new_env_has_random_distinct_passwords_that_make_passwords_accepts(
    tmp_path: Path,
) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    script = str(CONF_DIR / "make-passwords.sh")
    subprocess.run(["sh", script, "--new-env", str(tmp_path / "a.env")], check=True)
    subprocess.run(["sh", script, "--new-env", str(tmp_path / "b.env")], check=True)
    a, b = ((tmp_path / f).read_text() for f in ("a.env", "b.env"))
    assert a != b and (tmp_path / "a.env").stat().st_mode & 0o077 == 0
    values = dict(ln.split("=", 1) for ln in a.splitlines() if "=" in ln and ln[0] != "#")
    pws = [v for k, v in values.items() if k.endswith("PASSWORD")]
    assert len(pws) == 5 and len(set(pws)) == 5 and all(len(p) >= 16 for p in pws)  # + PostgreSQL
    again = subprocess.run(["sh", script, "--new-env", str(tmp_path / "a.env")])
    assert again.returncode != 0  # never overwrites
    r = run_make_passwords(tmp_path, **values)
    assert r.returncode == 0, r.stderr
