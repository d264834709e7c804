"""What theory predicts and what the diagnosis says, attached to the snapshots the views read.

Runs in the thread that drives the trainer (never the UI's): the prediction is computed once per
configuration (10-40 ms; the first call per activation builds its tables), the findings on the
slower beat of the decision boundary; every snapshot carries the latest of both.
"""

from __future__ import annotations

import dataclasses

from gradtui import theory
from gradtui.config import Config
from gradtui.diagnose import diagnose
from gradtui.stats import Snapshot


class Explainer:
    """Attach ``prediction`` and ``findings`` to a trainer's snapshots (one per trainer)."""

    def __init__(self) -> None:
        self._cfg: Config | None = None
        self._data = None
        self.prediction: theory.Prediction | None = None
        self.findings: tuple = ()

    def predict(self, trainer) -> theory.Prediction:
        """The prediction for the trainer's current network (recomputed when its config or data change)."""
        if trainer.cfg != self._cfg or trainer.data is not self._data:
            self.prediction = theory.predict(trainer.cfg, trainer.data.x_train)
            self._cfg, self._data = trainer.cfg, trainer.data
        return self.prediction

    def annotate(self, trainer, snap: Snapshot, refresh: bool = True) -> Snapshot:
        """``snap`` with the prediction and the findings (re-diagnosed when ``refresh``)."""
        pred = self.predict(trainer)
        if refresh or not self.findings:
            self.findings = tuple(diagnose(snap, pred))
        return dataclasses.replace(snap, prediction=pred, findings=self.findings)
