"""Fake sources for the dashboard's tests: the App without a trainer thread to race."""

from __future__ import annotations

import dataclasses

from gradtui.commands import Command
from gradtui.config import Config
from gradtui.stats import Snapshot
from gradtui.trainer import Trainer
from gradtui.ui.messages import SnapshotMessage
from gradtui.ui.sources import StaticSource


def snapshot_of(cfg: Config, steps: int = 3) -> Snapshot:
    tr = Trainer(cfg)
    tr.run_steps(steps)
    return tr.snapshot()


class EchoSource(StaticSource):
    """Answers every command at once with a snapshot whose config is the one the command leads to
    (as a trainer would, minus the training). ``commands``: every command received, in order."""

    def __init__(self, snap: Snapshot, run_id: str = "run") -> None:
        super().__init__([snap], run_id)
        self._post = None
        self._cfg = snap.config

    def start(self, app) -> None:
        self._post = app.post_message

    def submit(self, cmd: Command) -> None:
        super().submit(cmd)
        self._cfg = cmd.after(self._cfg)
        snap = dataclasses.replace(self.snaps[-1], config=self._cfg, commands_taken=len(self.commands),
                                   pace=self.pace)
        self._post(SnapshotMessage(self.run_id, snap))
