"""Helpers for the dashboard's pilot tests (a plain module, imported by the test files)."""

import time


async def until(pilot, cond, timeout: float = 60.0, what: str = "") -> None:
    """Let the app run until ``cond()`` holds (the first start may compile kernels). The timeout
    only catches a hang: waits that a busy machine stretches are not a failure."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.02)


async def press(pilot, *keys: str) -> None:
    """Press keys without pilot.press's wait-for-idle: with a trainer thread busy the process
    is never idle, and pilot.press would wait ~2 s per key."""
    for k in keys:
        pilot.app.simulate_key(k)
    await pilot.pause(0)
