"""Running the console: the HTTP server and the status watcher, owned together.

:class:`ConsoleServer` starts uvicorn on the given address (port 0: a free one) and the
watcher that follows the engine's status topic, and stops both: the ``dialguard
console`` command runs one until Ctrl-C, the demo runs one beside its contact centre.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

from dialguard.console.app import ConsoleState, make_app
from dialguard.logs import get_logger
from dialguard.tasks import TaskSet

log = get_logger(__name__)

START_WITHIN_S = 15.0


class ConsoleServer:
    def __init__(self, state: ConsoleState, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._tasks = TaskSet("console")
        self._server = uvicorn.Server(
            uvicorn.Config(
                make_app(state),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
        )
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> str:
        """Listening and following the broker; the console's address."""
        self._tasks.spawn(self.state.watch.follow(), name="console-status-follow")
        self._serving = self._tasks.spawn(self._server.serve(), name="console-http")
        async with asyncio.timeout(START_WITHIN_S):
            while not self._server.started:
                if self._serving.done():
                    # uvicorn logs why (address in use …) and exits; say it here too
                    raise RuntimeError(f"console could not listen on {self.host}:{self.port}")
                await asyncio.sleep(0.05)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self.url

    async def wait(self) -> None:
        """Until the server stops (Ctrl-C or SIGTERM: uvicorn handles both)."""
        if self._serving is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving

    async def stop(self) -> None:
        self.state.stopping.set()  # ends the event streams, so shutdown need not wait
        self._server.should_exit = True
        if self._serving is not None and not self._serving.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._serving), 10)
            except TimeoutError:
                log.warning("console did not stop within 10 s")
        await self._tasks.close()
