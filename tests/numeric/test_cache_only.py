"""Two runs starting together (A/B) both ask whether the kernels are cached: the cache-only check
is one block at a time (it patches numba's dispatchers process-wide)."""

import threading

from gradtui.config import Config
from gradtui.trainer import Trainer

SMALL = Config(depth=2, width=8, n_samples=64, batch_size=16)


def test_two_threads_can_check_the_cache_at_once():
    trainers = [Trainer(SMALL) for _ in range(2)]
    trainers[0].warm_up()  # the kernels are in the cache
    results, errors = [], []
    go = threading.Barrier(2)

    def check(tr):
        go.wait()
        try:
            for _ in range(30):
                results.append(tr.kernels_cached())
        except Exception as e:  # noqa: BLE001 - the race raised AttributeError before
            errors.append(e)

    threads = [threading.Thread(target=check, args=(t,)) for t in trainers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and len(results) == 60 and all(results)
