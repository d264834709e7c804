"""Print the README's table of predicted vs measured step-0 slopes of log10 delta_norm.

    PYTHONPATH=. python tools/theory_table.py [--depth 20] [--width 128] [--seeds 5]

Rows: every activation x {xavier_normal, he_normal, lecun_normal, normal 0.0625, normal 0.18}
(the configurations tests/test_theory.py validates); slope = least-squares decades per layer over
hidden layers 2..L (positive: the norm grows towards the output, i.e. gradients vanish towards the
input); measured = the mean over seeds 0..N-1 of one step-0 network each.
"""

import argparse

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.theory import predict
from gradtui.theory_cli import measure, slope

INITS = [("xavier_normal", None), ("he_normal", None), ("lecun_normal", None), ("normal", 0.0625), ("normal", 0.18)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--seeds", type=int, default=5)
    a = ap.parse_args()
    heads = [f"{i} {s}" if s else i for i, s in INITS]
    print("| activation | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(INITS))
    worst = 0.0
    for act in ACTIVATIONS:
        cells = []
        for init, std in INITS:
            cfg = Config(activation=act, init=init, init_std=std or 0.01, depth=a.depth, width=a.width,
                         eval_every=10 ** 6)
            pred = slope([lp.pred_delta_log10 for lp in predict(cfg).layers[:-1]])
            meas = slope(measure(cfg, a.seeds)[0][:-1])
            worst = max(worst, abs(meas - pred))
            cells.append(f"{pred:+.3f} / {meas:+.3f}")
        print(f"| {act} | " + " | ".join(cells) + " |")
    print(f"\nlargest |measured - predicted|: {worst:.4f} decades/layer")


if __name__ == "__main__":
    main()
