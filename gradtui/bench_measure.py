"""The in-process measurements of ``gradtui bench`` (see :mod:`gradtui.bench` for the method): the
plans, timed windows, BLAS threads, the machine, the GEMM peak, the three peers and one row of the
table, with the statistics cost."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

FULL_CONFIGS = (  # name, depth, width, batch
    ("C1", 10, 32, 64),
    ("C2", 20, 64, 128),
    ("C3", 50, 32, 64),
    ("C4", 6, 256, 256),
    ("C5", 4, 512, 512),
)
QUICK_CONFIGS = (("Q1", 6, 32, 64),)
AGREE_STEPS = 10
AGREE_TOL = {"float64": 1e-9, "float32": 1e-4}


@dataclass
class Plan:
    configs: tuple
    dtypes: tuple
    window: float  # seconds per timed window
    n_windows: int
    warmup: float
    threads: tuple
    gemm_n: int
    stats_cost: bool
    cold_compile: bool
    startup: bool


FULL = Plan(FULL_CONFIGS, ("float64", "float32"), 0.5, 5, 0.3, (1, 2), 1024, True, True, True)
QUICK = Plan(QUICK_CONFIGS, ("float64",), 0.04, 5, 0.03, (1,), 256, False, False, False)


# ------------------------------------------------------------------------------------ helpers
def bench_config(depth: int, width: int, batch: int, dtype: str):
    from gradtui.config import Config

    return Config(name=f"bench-d{depth}-w{width}", dataset="spiral", n_classes=3, noise=0.1,
                  n_samples=max(2000, 4 * batch), batch_size=batch, depth=depth, width=width,
                  activation="sigmoid", init="xavier_normal", optimizer="sgd", lr=0.01, dtype=dtype,
                  eval_every=10**9, seed=0)


def _window(run, window: float, clock=time.perf_counter) -> float:
    """Steps/s of one window of at least ``window`` seconds of ``clock``."""
    n = 0
    t0 = clock()
    while True:
        n += run()
        dt = clock() - t0
        if dt >= window:
            return n / dt


def timed_windows(run, window: float, n_windows: int, warmup: float) -> float:
    """Median steps/s of ``n_windows`` windows; ``run()`` does some steps and returns how many."""
    return statistics.median(interleaved_windows({"run": run}, window, n_windows, warmup)["run"])


def interleaved_windows(runs: dict, window: float, n_windows: int, warmup: float) -> dict:
    """Steps/s of every window of each of ``runs`` (name -> run()), the windows taken in turn: on
    a shared machine whose spare capacity drifts over seconds, every implementation then sees the
    same conditions, and the ratios do not depend on which one happened to run in a quiet spell."""
    for run in runs.values():
        t_end = time.perf_counter() + warmup
        while time.perf_counter() < t_end:
            run()
    rates = {name: [] for name in runs}
    for _ in range(n_windows):
        for name, run in runs.items():
            rates[name].append(_window(run, window))
    return rates


def spread(rates) -> float:
    """(max - min) / median of one figure's windows: how much the machine moved under it."""
    return (max(rates) - min(rates)) / statistics.median(rates)


class Threads:
    """Set BLAS (all loaded libraries, including the SciPy copy numba calls) and torch threads."""

    def __init__(self, torch_mod):
        import scipy.linalg  # noqa: F401  (load every BLAS the kernels use before limiting)
        from threadpoolctl import threadpool_limits

        self.torch = torch_mod
        self._orig = threadpool_limits(limits=None)  # remembers the current limits
        self._torch_orig = torch_mod.get_num_threads() if torch_mod else None

    def set(self, n: int) -> None:
        from gradtui import kernels as K

        K.set_blas_threads(n)
        if self.torch is not None:
            self.torch.set_num_threads(n)

    def restore(self) -> None:
        self._orig.restore_original_limits()
        if self.torch is not None:
            self.torch.set_num_threads(self._torch_orig)


def _try_torch():
    try:
        import torch
    except Exception:  # noqa: BLE001 - any failure simply means "no torch column"
        return None
    return torch


def machine_info(torch_mod) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "loadavg": load,
            "numpy": np.__version__, "numba": importlib.metadata.version("numba"),  # only kernels imports numba
            "torch": torch_mod.__version__ if torch_mod else None}


def gemm_peak(n: int, dtype: str, plan: Plan) -> float:
    """GFLOP/s of a square NumPy GEMM (2 n^3 flops)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype)

    def run():
        np.dot(a, b, out=c)
        return 1

    return timed_windows(run, plan.window, plan.n_windows, plan.warmup) * 2.0 * n ** 3 / 1e9


# ------------------------------------------------------------------------------ the three peers
class TorchNet:
    """PyTorch eager copy of a gradtui network (weights copied from gradtui's theta)."""

    def __init__(self, torch, trainer):
        self.torch = torch
        tdt = torch.float64 if trainer.mlp.dtype == np.float64 else torch.float32
        mods = []
        n_layers = trainer.mlp.n_layers
        for l in range(n_layers):
            fi, fo, p = (int(v) for v in trainer.mlp.geo[l, :3])
            lin = torch.nn.Linear(fi, fo, dtype=tdt)
            with torch.no_grad():
                w = trainer.mlp.theta[p: p + fi * fo].reshape(fi, fo)
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # torch computes x @ W^T
                lin.bias.copy_(torch.from_numpy(trainer.mlp.theta[p + fi * fo: p + fi * fo + fo].copy()))
            mods.append(lin)
            if l < n_layers - 1:
                mods.append(torch.nn.Sigmoid())
        self.model = torch.nn.Sequential(*mods)
        self.weights = [m.weight for m in mods if isinstance(m, torch.nn.Linear)]
        self.crit = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=trainer.cfg.lr)
        self.x = torch.from_numpy(trainer.x)
        self.y = torch.from_numpy(trainer.t.argmax(1).astype(np.int64))

    def step(self, rows) -> np.ndarray:
        """One step; returns [loss, per-layer grad norms...] (one transfer out of torch)."""
        torch = self.torch
        r = torch.from_numpy(rows)
        self.opt.zero_grad(set_to_none=True)
        loss = self.crit(self.model(self.x[r]), self.y[r])
        loss.backward()
        norms = torch.stack([torch.linalg.vector_norm(w.grad) for w in self.weights])
        out = torch.cat([loss.detach().reshape(1), norms]).numpy()
        self.opt.step()
        return out


def _stepper(fn, idx):
    """run() for timed_windows: one step per call over a cycle of batches."""
    k = [0]

    def run():
        fn(idx[k[0] % len(idx)])
        k[0] += 1
        return 1

    return run


# --------------------------------------------------------------------------- statistics cost
def stats_cost(tr, plan: Plan) -> tuple[float | None, str]:
    """Share of a step spent on the per-layer statistics (1 thread): the same trainer, the same
    code path, timed with the kernels' ``I_STATS`` switch on and off (the switch changes no
    numerics; tests/test_trainer.py checks that bit for bit)."""
    from gradtui import kernels as K

    n = tr.chunk_size()  # the timed windows' chunk (drive.CHUNK_SECONDS)

    def runner(flag):
        def run():
            tr.icfg[K.I_STATS] = flag
            return tr.run_steps(n)
        return run

    on, off = runner(1), runner(0)
    # many short interleaved pairs, median of the per-pair cost: a change in the machine hits both
    # halves of a pair alike (a difference of two medians was too noisy). Timed in this thread's CPU
    # time, which holds all the work on one BLAS thread: time the core spends on another process is
    # not the statistics' (wall-clock pairs moved C3 float32 between 7% and 10% from run to run)
    costs = []
    try:
        for _ in range(3 * plan.n_windows):
            r_on = _window(on, plan.window / 2, time.thread_time)
            r_off = _window(off, plan.window / 2, time.thread_time)
            costs.append(1.0 - r_on / r_off)
    finally:
        tr.icfg[K.I_STATS] = 1
    return statistics.median(costs), "kernel I_STATS switch, thread CPU time"


# ------------------------------------------------------------------------------------ a row
def bench_row(name, depth, width, batch, dtype, plan: Plan, threads: Threads, torch_mod, peak1) -> dict:
    from gradtui.mlp import flops_per_sample
    from gradtui.optimizers import schedule_lrs
    from gradtui.reference import ReferenceNet
    from gradtui.reference_compare import peek_batches
    from gradtui.trainer import Trainer

    cfg = bench_config(depth, width, batch, dtype)
    tr = Trainer(cfg)
    sizes = tr.mlp.sizes
    theta0 = tr.mlp.theta.copy()
    threads.set(1)

    # --- agreement: same weights, same batches, 10 steps
    idx10 = peek_batches(tr, AGREE_STEPS)
    lrs10 = schedule_lrs(cfg.schedule, cfg.lr, 0, AGREE_STEPS, cfg.schedule_steps, cfg.lr_gamma)
    tr.run_steps(AGREE_STEPS)
    loss_g = tr.ring.last(AGREE_STEPS)[1][:, 0]
    gnorm_g = tr.ring.last(1)[2][0, :, 0]
    ref = ReferenceNet(sizes, cfg, tr.data.task, theta0)
    loss_n = np.array([r.loss for r in ref.run(tr.x, tr.t, idx10, lrs10)])
    tol = AGREE_TOL[dtype]
    agree = {"steps": AGREE_STEPS, "tol": tol,
             "numpy_loss_diff": float(np.max(np.abs(loss_n - loss_g)))}
    agree["numpy"] = bool(agree["numpy_loss_diff"] <= tol)
    tnet = None
    if torch_mod is not None:
        tr_t = Trainer(cfg)  # fresh copy of the initial weights
        tnet = TorchNet(torch_mod, tr_t)
        outs = np.array([tnet.step(idx10[k]) for k in range(AGREE_STEPS)])
        agree["torch_loss_diff"] = float(np.max(np.abs(outs[:, 0] - loss_g)))
        agree["torch"] = bool(agree["torch_loss_diff"] <= tol)
        rel = np.abs(outs[-1, 1:] - gnorm_g) / np.maximum(np.abs(gnorm_g), 1e-300)
        agree["torch_grad_norm_rel_diff"] = float(np.max(rel))
    else:
        agree["torch"] = None

    # --- speed
    idx_cycle = tr._batches(64)  # batches for the peers' timing (gradtui draws its own)
    windows = {"gradtui": {}, "numpy": {}, "torch": {}}  # implementation -> threads -> steps/s
    lr = cfg.lr
    ref_t = ReferenceNet(sizes, cfg, tr.data.task, theta0)
    runs = {"gradtui": lambda: tr.run_steps(tr.chunk_size()),
            "numpy": _stepper(lambda r: ref_t.step(tr.x[r], tr.t[r], lr), idx_cycle)}
    if tnet is not None:
        runs["torch"] = _stepper(tnet.step, idx_cycle)
    for n_thr in plan.threads:
        threads.set(n_thr)
        for impl, rates in interleaved_windows(runs, plan.window, plan.n_windows, plan.warmup).items():
            windows[impl][n_thr] = rates
    threads.set(1)
    res = {k: {t: statistics.median(r) for t, r in d.items()} for k, d in windows.items()}
    g1 = res["gradtui"][1]
    g_best = max(res["gradtui"].values())  # ratios: every implementation at its better thread count
    np_best = max(res["numpy"].values())
    th_best = max(res["torch"].values()) if res["torch"] else None
    gflops = g1 * batch * flops_per_sample(sizes) / 1e9
    if plan.stats_cost:
        cost, how = stats_cost(tr, plan)
    else:
        cost, how = None, "skipped (--quick)"
    return {
        "config": name, "depth": depth, "width": width, "batch": batch, "dtype": dtype,
        "gradtui": g_best, "gradtui_1t": g1, "numpy": np_best, "torch": th_best,
        "ratio_numpy": g_best / np_best if agree["numpy"] else None,
        "ratio_torch": g_best / th_best if (th_best and agree["torch"]) else None,
        "gflops": gflops, "peak_share": gflops / peak1, "stats_cost": cost, "stats_cost_method": how,
        "threads": {k: {str(t): v for t, v in d.items()} for k, d in res.items()},
        "spread": {k: {str(t): spread(r) for t, r in d.items()} for k, d in windows.items() if d},
        "flops_per_step": batch * flops_per_sample(sizes), "agree": agree,
    }


# ------------------------------------------------------------------------------ the first minute
# The dashboard (headless, 100x30) in a fresh process: when its first frame was drawn, when the first
# snapshot with a step went to the UI, on which backend, and when the kernels took over (absolute times).
FIRST_MINUTE = r"""
import json, sys, time
from gradtui.presets import load_preset
cfg, fast = load_preset(sys.argv[1]), sys.argv[2] == "fast"
try:  # the dashboard as the CLI builds it (gradtui.ui after the UI's move, else gradtui.app)
    from gradtui.ui.sources import LiveSource, make_app
    app = make_app(LiveSource(cfg, fast_start=fast))
except ImportError:
    from gradtui.app import GradApp
    app = GradApp(cfg, fast_start=fast)
marks = {"banner": False}
display, post = app._display, app.post_message
def on_display(screen, renderable):  # a frame the compositor drew
    if renderable is not None:
        marks.setdefault("frame", time.time())
    display(screen, renderable)
def on_post(msg):  # a snapshot the trainer thread hands to the UI
    snap = getattr(msg, "snap", None)
    if snap is not None:
        marks["banner"] = marks["banner"] or snap.status == "compiling"
        if snap.total_steps > 0:
            marks.setdefault("step", time.time())
            marks.setdefault("step_backend", snap.backend)
            if snap.backend == "kernels":
                marks.setdefault("kernels", time.time())
    return post(msg)
app._display, app.post_message = on_display, on_post
async def pilot(p):
    t0 = time.monotonic()
    while "kernels" not in marks and time.monotonic() - t0 < 900:
        await p.pause(0.05)
    app.exit()
app.run(headless=True, size=(100, 30), auto_pilot=pilot)
print(json.dumps(marks))
"""


def first_minute(preset: str = "deep-sigmoid", fast: bool = True) -> dict:
    """Time to the dashboard's first frame and first training step, counted from launching a fresh
    ``python`` (interpreter start-up included), with an empty ``NUMBA_CACHE_DIR`` ("cold") and
    then with the cache that run left ("warm"); plus when the fast kernels took over and whether a
    "compiling" status was shown. ``fast=False``: the dashboard's start without the NumPy phase
    (compile first), for comparison."""
    out: dict = {"preset": preset, "fast_start": fast}
    with tempfile.TemporaryDirectory(prefix="gradtui-bench-cache-") as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        for key in ("cold", "warm"):
            t0 = time.time()
            p = subprocess.run([sys.executable, "-c", FIRST_MINUTE, preset, "fast" if fast else "slow"], env=env,
                               capture_output=True, text=True)
            if p.returncode != 0:
                return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:200]}
            m = json.loads(p.stdout.strip().splitlines()[-1])
            out[key] = {"first_frame_s": m["frame"] - t0, "first_step_s": m["step"] - t0,
                        "first_step_on": m["step_backend"], "kernels_s": m["kernels"] - t0,
                        "compiling_status": m["banner"]}
    return out


def render_first_minute(fm: dict) -> str:
    if "error" in fm:
        return f"first minute not measured: {fm['error']}"

    def one(k):
        r = fm[k]
        s = (f"{k} cache: first frame {r['first_frame_s']:.2f} s, first step {r['first_step_s']:.2f} s "
             f"({r['first_step_on']})")
        if r["first_step_on"] != "kernels":
            s += f", fast kernels from {r['kernels_s']:.1f} s"
        return s + (", 'compiling' shown" if r["compiling_status"] else "")
    return (f"first minute (dashboard, {fm['preset']}, from launching python{'' if fm['fast_start'] else ', compile first'}): "
            + one("cold") + "; " + one("warm"))
