"""`dialguard agents simulate`: simulated agent desktops on the daemon's broker.

The demo and the Docker stack always had them (:mod:`dialguard.demo.desktops`); without
a command, someone going from the demo to their own ``dialguard run`` had no agents to
dial for. These desktops speak the real MQTT contract (docs/mqtt.md): each signs in
``ready`` with a retained state and an ``offline`` will, takes the calls the engine
offers, wraps up and is ready again. They are for trying a set-up, not for production.

Exit codes: 0 stopped (Ctrl-C or ``--seconds``); 2 bad input or config.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from dialguard.cli._common import EXIT_BAD_INPUT, EXIT_OK, console, err_console, load_config_or_exit
from dialguard.logs import configure_logging

if TYPE_CHECKING:
    from dialguard.demo.desktops import SimulatedAgent

app = App(name="agents", help="Simulated agent desktops, for trying a set-up.")

PASSWORD_ENV = "DIALGUARD_AGENT_PASSWORD"


@app.command
def simulate(
    *,
    count: Annotated[int, Parameter(name=["--count", "-n"])] = 4,
    group: str = "default",
    prefix: str = "agent",
    wrap: float = 5.0,
    broker: str | None = None,
    ca_file: Path | None = None,
    seconds: float | None = None,
    config: Path | None = None,
) -> int:
    """Sign in simulated agent desktops on the daemon's broker until Ctrl-C.

    Each agent ({prefix}-001, …) publishes its state on {topic_prefix}/agents/ID/state,
    takes the calls the engine offers and is ready again after the wrap-up time. With a
    password in $DIALGUARD_AGENT_PASSWORD each logs in with its own id as user name (what
    the broker ACL's `%u` pattern expects).

    Parameters
    ----------
    count
        How many agents (1 to 1000).
    group
        Their agent group: a campaign dials for the agents of its `agent_group`.
    prefix
        Agent ids are PREFIX-001, PREFIX-002, …
    wrap
        Seconds of wrap-up after each call.
    broker
        Broker URL (default: the one in --config).
    ca_file
        CA certificate for an mqtts:// broker (default: --config's tls_ca_file).
    seconds
        Log the agents off after this many seconds (default: run until Ctrl-C).
    config
        Engine config naming the broker and topic prefix; default config/dialguard.toml.
    """
    from dialguard.demo.desktops import AgentBehaviour, make_agents
    from dialguard.mqtt.contract import Topics

    cfg = load_config_or_exit(config)
    if seconds is not None and seconds <= 0:
        err_console.print("[red]error:[/] --seconds must be > 0", highlight=False)
        return EXIT_BAD_INPUT
    if wrap < 0:
        err_console.print("[red]error:[/] --wrap must be ≥ 0", highlight=False)
        return EXIT_BAD_INPUT
    url = broker or cfg.broker.url
    ca = ca_file or cfg.broker.tls_ca_file
    try:
        agents = make_agents(
            count,
            url,
            prefix=prefix,
            topics=Topics(cfg.broker.topic_prefix),
            group=group,
            behaviour=AgentBehaviour(wrap_s=wrap),
            password=os.environ.get(PASSWORD_ENV) or None,
            tls_ca_file=None if ca is None else str(ca),
        )
    except ValueError as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_BAD_INPUT
    configure_logging(cfg.logging.level, cfg.logging.format)
    first, last = agents[0].agent_id, agents[-1].agent_id
    console.print(
        f"{len(agents)} simulated agents ({first} … {last}, group {group}) signing in at "
        f"{url}, topic prefix {cfg.broker.topic_prefix}; Ctrl-C logs them off",
        highlight=False,
        soft_wrap=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(agents, seconds))
    handled = sum(len(a.calls) for a in agents)
    console.print(f"agents logged off after {handled} call(s)", highlight=False)
    return EXIT_OK


async def _run(agents: Sequence[SimulatedAgent], seconds: float | None) -> None:
    from dialguard.demo.desktops import run_agents

    floor = asyncio.create_task(run_agents(agents), name="agents")
    # SIGTERM (docker stop, systemd) and SIGINT log the agents off cleanly, also when
    # started in the background, where a shell leaves SIGINT ignored.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, floor.cancel)
    if seconds is not None:
        loop.call_later(seconds, floor.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await floor
