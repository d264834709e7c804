"""Key storm: hundreds of random bindings as fast as possible; nothing lost, nothing doubled, and
the final configuration is exactly what the sequence implies."""

from __future__ import annotations

import random
import time

import pytest

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.data import DATASETS
from gradtui.initializers import INITIALIZERS
from gradtui.optimizers import CLIPPING, OPTIMIZERS
from gradtui.ui.sources import LiveSource, make_app
from gradtui.ui.widgets import StatusBar

CFG = Config(name="storm", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
             init="xavier_normal", lr=0.1)
COMMAND_KEYS = ["a", "A", "i", "c", "o", "plus", "minus", "R", "b", "d", "space", "n", "r"]
VIEW_KEYS = ["v", "l"]  # change the view only: no command


def expected(keys: list[str], cfg: Config) -> tuple[dict, bool]:
    """The configuration (and paused state) the sequence implies, computed independently."""
    def shift(table, start, k):
        names = list(table)
        return names[(names.index(start) + k) % len(names)]

    lr = cfg.lr
    for k in keys:
        if k == "plus":
            lr = min(1e6, lr * 2.0)
        elif k == "minus":
            lr = max(1e-12, lr * 0.5)
    want = {
        "activation": shift(ACTIVATIONS, cfg.activation, keys.count("a") - keys.count("A")),
        "init": shift(INITIALIZERS, cfg.init, keys.count("i")),
        "clip": shift(CLIPPING, cfg.clip, keys.count("c")),
        "optimizer": shift(OPTIMIZERS, cfg.optimizer, keys.count("o")),
        "dataset": shift(DATASETS, cfg.dataset, keys.count("d")),
        "residual": cfg.residual ^ (keys.count("R") % 2 == 1),
        "batchnorm": cfg.batchnorm ^ (keys.count("b") % 2 == 1),
        "lr": lr,
    }
    return want, keys.count("space") % 2 == 1


@pytest.mark.parametrize("seed", [0, 1])
async def test_key_storm_applies_every_command_exactly_once(seed):
    rng = random.Random(seed)
    keys = [rng.choice(COMMAND_KEYS + VIEW_KEYS) for _ in range(600)]
    want, paused = expected(keys, CFG)
    n_commands = sum(k in COMMAND_KEYS for k in keys)
    src = LiveSource(CFG)  # a live trainer: the storm is about the thread boundary
    app = make_app(src)
    trainer = src.trainer  # read by the test only (the UI reads snapshots)
    async with app.run_test(size=(100, 30)) as pilot:
        t0 = time.monotonic()
        while not (app.snap and app.snap.status == "running" and app.snap.step > 0):
            assert time.monotonic() - t0 < 60, "trainer never started"
            await pilot.pause(0.02)
        base = trainer.commands_taken
        t0 = time.monotonic()
        for k in keys:
            app.simulate_key(k)
        await pilot.pause(0)
        while trainer.commands_taken < base + n_commands or app.snap.commands_taken < base + n_commands:
            assert time.monotonic() - t0 < 60, (  # a hang bound, not a speed target
                f"only {trainer.commands_taken - base} of {n_commands} commands reached the trainer")
            await pilot.pause(0.02)
        await pilot.pause(0.3)
        assert trainer.commands_taken == base + n_commands  # none lost, none doubled
        cfg = trainer.cfg
        got = {k: getattr(cfg, k) for k in want}
        assert got == {**want, "lr": pytest.approx(want["lr"])}
        assert trainer.paused == paused
        assert app.snap.config == cfg  # the screen shows what the trainer runs
        assert f"a:{want['activation']}" in app.query_one(StatusBar).text
        n_act = sum(1 for e in trainer.events if e.text.startswith("activation="))
        assert n_act == keys.count("a") + keys.count("A")
        await pilot.press("q")
