"""TaskSet: the owner of tasks started from callbacks."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from dialguard.tasks import TaskSet


async def test_a_failing_task_is_logged_when_it_fails_not_at_exit() -> None:
    tasks = TaskSet("test owner")

    async def boom() -> None:
        raise ValueError("bad reload")

    with capture_logs() as logs:
        t = tasks.spawn(boom(), name="reload")
        with pytest.raises(ValueError):
            await t
        await asyncio.sleep(0)
    failed = [e for e in logs if e["event"] == "background_task_failed"]
    assert len(failed) == 1 and failed[0]["owner"] == "test owner"
    assert failed[0]["task"] == "reload" and "bad reload" in failed[0]["error"]
    assert tasks.failed == 1 and len(tasks) == 0


async def test_close_cancels_and_awaits_what_is_left() -> None:
    tasks = TaskSet("test owner")
    finished: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            finished.append("cleaned up")

    async def quick() -> None:
        finished.append("quick")

    tasks.spawn(slow())
    done = tasks.spawn(quick())
    await done
    await asyncio.sleep(0)  # done callbacks run one loop turn later
    assert len(tasks) == 1
    with capture_logs() as logs:
        await tasks.close()
    assert finished == ["quick", "cleaned up"]
    assert len(tasks) == 0 and tasks.failed == 0
    # a cancelled task is not a failed one
    assert not [e for e in logs if e["event"] == "background_task_failed"]
