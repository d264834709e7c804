"""The prediction and the diagnosis travel up in the snapshots: computed in the trainer's thread,
once per configuration (prediction) and on the boundary's beat (findings)."""

import threading

from gradtui.commands import SetFields
from gradtui.config import Config
from gradtui.drive import Runner
from gradtui.explain import Explainer
from gradtui.trainer import Trainer

CFG = Config(depth=8, width=16, n_samples=256, batch_size=32, activation="sigmoid", init="xavier_normal")


def test_the_prediction_follows_the_configuration_and_is_computed_once_per_config():
    tr = Trainer(CFG)
    tr.run_steps(5)
    ex = Explainer()
    a = ex.annotate(tr, tr.snapshot())
    assert a.prediction is ex.annotate(tr, tr.snapshot()).prediction  # cached
    assert a.prediction.phase == "ordered" and a.findings and a.findings[0].regime == "vanishing"
    tr.apply(SetFields.of(activation="relu", init="he_normal"))
    b = ex.annotate(tr, tr.snapshot())
    assert b.prediction is not a.prediction and b.prediction.chi1 > a.prediction.chi1


def test_the_runner_publishes_prediction_and_findings_and_the_switch_shows():
    tr = Trainer(CFG)
    snaps, done = [], threading.Event()
    sent = []

    def publish(snap):
        snaps.append(snap)
        if snap.findings and snap.findings[0].regime == "vanishing" and not sent:  # (diagnosed on a slow beat)
            sent.append(1)
            tr.submit(SetFields.of(activation="tanh"))
        if sent and snap.config.activation == "tanh" and snap.prediction is not None \
                and snap.prediction.layers and snap.step > 100:
            done.set()
            runner.stop()

    runner = Runner(tr, publish)
    t = threading.Thread(target=runner.run)
    t.start()
    assert done.wait(180)
    t.join(60)
    assert snaps[0].status == "compiling" and snaps[0].prediction is None
    live = [s for s in snaps if s.status != "compiling"]
    assert all(s.prediction is not None for s in live)
    sig = [s for s in live if s.config.activation == "sigmoid" and s.findings[0].regime == "vanishing"]
    assert sig and sig[0].step > 0
    assert live[-1].prediction.chi1 > sig[-1].prediction.chi1  # tanh at Xavier: near critical
