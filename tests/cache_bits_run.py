"""Train a few seeded configurations (every reduction path of the kernels: both dtypes, penalties,
every clipping mode, batch norm, residual, adaptive optimisers) and write every statistic's bytes
to the file named by argv[1]. test_cache_bits runs it on an empty and then on a warm numba cache."""

import sys

import numpy as np

from gradtui.config import Config
from gradtui.trainer import Trainer

CONFIGS = [
    dict(activation="sigmoid", depth=12, init="xavier_normal", lr=0.1),
    dict(activation="sigmoid", depth=12, dtype="float32", clip="global_norm", clip_value=0.05),
    dict(activation="tanh", depth=8, optimizer="adam", l2=1e-3, clip="value", clip_value=0.01),
    dict(activation="gelu", depth=6, batchnorm=True, optimizer="momentum", l1=1e-4),
    dict(activation="elu", depth=8, residual=True, optimizer="rmsprop", clip="layer_norm", clip_value=0.1),
    dict(activation="selu", depth=8, init="lecun_normal", dtype="float32", optimizer="adamw", weight_decay=0.01),
    dict(activation="relu", depth=5, dataset="regression", optimizer="nesterov"),
]


def main(path: str) -> None:
    with open(path, "wb") as out:
        for fields in CONFIGS:
            tr = Trainer(Config(seed=3, width=24, batch_size=32, eval_every=25, **fields))
            tr.run_steps(120)
            for a in (tr.ring.glob, tr.ring.layers, tr.mlp.theta):
                out.write(np.ascontiguousarray(a).tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
