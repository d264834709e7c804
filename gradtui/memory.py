"""How much memory a configuration needs, estimated from the config before anything is allocated,
and how much the machine has: a run that cannot fit is refused with one line instead of ending in
a ``MemoryError`` traceback or pushing a shared machine into swap.

The estimate counts what :class:`gradtui.trainer.Trainer` and :class:`gradtui.mlp.MLP` allocate
(see there): parameters and four arrays like them (gradient, two optimiser moments, the update),
the batch's activation buffers (``kernels.work_shape``), the evaluation buffers, the data set, the
statistics ring with a full copy of it (summary, export) and a few snapshot windows, and the batch
indices of the largest kernel call (a replay asks for 2048 steps at once). No NumPy array is made.

``check_memory(cfg)`` is what the CLI calls before a run and what the dashboard can call before a
live change (``fresh_process=False``: the interpreter is already counted in what is available).
"""

from __future__ import annotations

import os

from gradtui.config import Config
from gradtui.data import DATASETS

MIB = 1 << 20
# Interpreter, NumPy, Numba/LLVM and Textual: peak RSS of a small run measured at 176 MB (headless)
# and 196 MB (screenshot) from the kernel cache, 332 MB while compiling the kernels.
RUNTIME_BYTES = 320 * MIB
RING_CAPACITY = 8192  # Trainer's default ring_capacity
SNAPSHOT_WINDOW = 1024  # rows a dashboard snapshot copies
SNAPSHOTS_HELD = 4  # the worker's, the UI's and queued ones
STEPS_PER_CALL = 2048  # the most steps one kernel call gets (session replay's chunk)


class MemoryLimitError(ValueError):
    """The configuration does not fit in the memory available; ``str()`` is one line."""


def _sizes(cfg: Config) -> tuple[int, ...]:
    """Layer sizes ``(d_in, h_1, ..., d_out)``."""
    return (2, *cfg.hidden_sizes, DATASETS[cfg.dataset].n_out(cfg.n_classes))


def estimate(cfg: Config) -> dict[str, int]:
    """Bytes by part, for the run ``cfg`` describes (excluding the interpreter itself)."""
    from gradtui import kernels as K
    from gradtui.mlp import EVAL_ROWS

    item = 4 if cfg.dtype == "float32" else 8
    sizes = _sizes(cfg)
    n_layers, wmax, units = len(sizes) - 1, max(sizes), sum(sizes[1:])
    params = sum(fi * fo + fo + (2 * fo if l < n_layers - 1 else 0)
                 for l, (fi, fo) in enumerate(zip(sizes, sizes[1:])))
    rows, cols = K.work_shape(cfg.batch_size, sizes)
    batch = (rows * cols + cfg.batch_size * (sizes[0] + sizes[-1])) * item + 2 * cfg.batch_size * wmax * 8
    ring_row = 8 + 8 * K.N_GSTATS + 8 * n_layers * K.N_LSTATS
    data_row = (sizes[0] + sizes[-1]) * 8 * 3 + (sizes[0] + sizes[-1]) * item + 16  # make, split, cast
    return {
        "parameters and optimiser state": 5 * params * item,
        f"activations for batch {cfg.batch_size}": batch,
        "evaluation buffers": 4 * EVAL_ROWS * wmax * item + 2 * EVAL_ROWS * wmax * 8 + 4 * units * 8,
        "statistics history": ring_row * (2 * RING_CAPACITY + SNAPSHOTS_HELD * SNAPSHOT_WINDOW),
        "data set": data_row * cfg.n_samples,
        "batch indices": STEPS_PER_CALL * cfg.batch_size * 8,
    }


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read(64).strip()
        return int(text) if text.isdigit() else None  # "max": no limit
    except (OSError, ValueError):
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def available_bytes() -> int | None:
    """Memory this process can still take: the kernel's MemAvailable (fallback: free pages), and no
    more than a cgroup v2/v1 limit leaves; None when nothing can be found out."""
    avail = _meminfo_available()
    for limit_f, used_f in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                            ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                             "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, used = _read_int(limit_f), _read_int(used_f)
        if limit is not None and used is not None and limit < 1 << 60:
            avail = max(0, limit - used) if avail is None else min(avail, max(0, limit - used))
    return avail


def fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def check_memory(cfg: Config, fresh_process: bool = True, available: int | None = None) -> int:
    """Raise :class:`MemoryLimitError` (one line: what it needs, what there is, the largest part)
    when ``cfg`` cannot fit; else return the estimated bytes. ``available`` defaults to
    :func:`available_bytes`; unknown availability never refuses."""
    parts = estimate(cfg)
    need = sum(parts.values()) + (RUNTIME_BYTES if fresh_process else 0)
    have = available_bytes() if available is None else available
    if have is not None and need > have:
        big = max(parts, key=parts.get)
        raise MemoryLimitError(
            f"this configuration needs about {fmt_bytes(need)} of memory but {fmt_bytes(have)} is "
            f"available (largest part: {big}, {fmt_bytes(parts[big])}); "
            "reduce width, depth, batch_size or n_samples")
    return need
