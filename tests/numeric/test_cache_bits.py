"""Bit-exact replay must not depend on numba's cache: kernels compiled in this process and kernels
loaded from the on-disk cache give the same bits for every statistic and every weight.

(numba 0.68 gave a caller that inlined a 'reassoc' reduction one result when freshly compiled
and another when loaded from the cache; the kernels now spell every summation order out.)
Slow: one cold compile of both dtypes in a subprocess (about a minute on 2 busy cores)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(cache: Path, out: Path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, str(ROOT / "tests" / "cache_bits_run.py"), str(out)], env=env,
                   check=True, timeout=1800, cwd=ROOT)


def test_fresh_and_cached_kernels_give_identical_bits(tmp_path):
    cache = tmp_path / "numba-cache"
    _run(cache, tmp_path / "fresh.bin")  # empty cache: everything compiled in that process
    assert any(cache.rglob("*.nbi")), "the first run should have filled the cache"
    _run(cache, tmp_path / "cached.bin")  # everything loaded from the cache
    fresh, cached = (tmp_path / "fresh.bin").read_bytes(), (tmp_path / "cached.bin").read_bytes()
    assert len(fresh) > 0 and fresh == cached
