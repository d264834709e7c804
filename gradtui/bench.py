"""``gradtui bench [--quick] [--json FILE]``: gradtui's trainer against NumPy and PyTorch, honestly.

Workload per step (every implementation): forward + backward + SGD update + the per-layer
statistics, on a sigmoid MLP (``xavier_normal``, softmax cross-entropy, 2-D spiral data, 3 classes).

* **gradtui**: ``Trainer.run_steps`` in chunks of ~30 ms (the dashboard's and headless mode's path;
  the test-set evaluation is switched off with ``eval_every``).
* **numpy**: :class:`gradtui.reference.ReferenceNet` (plain NumPy, same statistics).
* **torch** (when ``import torch`` works; never a dependency): CPU eager ``nn.Sequential`` of
  ``Linear`` + ``Sigmoid``, ``CrossEntropyLoss``, ``optim.SGD``; the per-layer gradient norms and
  the loss leave torch once per step (one ``.numpy()``), as the dashboard needs them.

Honesty rules: every implementation starts from gradtui's initial weights and runs the same batches;
before any speed is compared, the losses of their first 10 steps must agree within 1e-9 (float64) /
1e-4 (float32); a peer that disagrees gets no ratio. Each figure is the median steps/s of >= 5 timed
windows of >= 0.5 s after a warm-up, the implementations' windows taken in turn (gradtui, NumPy,
PyTorch, gradtui, ...) so that all see the same machine, on 1 and 2 BLAS threads
(``kernels.set_blas_threads``, threadpoolctl, ``torch.set_num_threads``). Ratios compare each
implementation at its better thread count; GFLOP/s and the share of the 1-thread peak use gradtui's
1-thread figure (the dashboard pins BLAS to one thread so the UI keeps its core). Every figure
also records its windows' spread, (max - min) / median: how much the machine moved under it.

Statistics cost: the same trainer timed with the kernels' ``I_STATS`` switch on and off, in
short interleaved pairs timed in the thread's CPU time; reports the median of
``1 - rate_with / rate_without``.
"""

from __future__ import annotations

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
    import numba

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "loadavg": load,
            "numpy": np.__version__, "numba": numba.__version__,
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

    n = int(max(1, min(tr.ring.capacity // 2, 0.03 / (tr._sec_per_step or 1e-4))))

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
    from gradtui.reference import ReferenceNet, peek_batches
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


# ------------------------------------------------------------------------ compile and start-up
def cold_compile() -> dict:
    """Kernel compile seconds per dtype in a fresh process with an empty numba cache, then again
    from that (now warm) cache."""
    code = ("import time, json\nfrom gradtui.trainer import Trainer\nfrom gradtui.config import Config\n"
            "out = {}\nfor dt in ('float64', 'float32'):\n"
            "    out[dt] = Trainer(Config(dtype=dt)).warm_up()\nprint(json.dumps(out))\n")
    res = {}
    with tempfile.TemporaryDirectory(prefix="gradtui-bench-cache-") as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        for key in ("cold", "cached"):
            p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            if p.returncode != 0:
                return {"error": p.stderr.strip().splitlines()[-1:] or ["failed"]}
            res[key] = json.loads(p.stdout.strip().splitlines()[-1])
    return res


def headless_startup() -> dict:
    """Wall time of ``gradtui --preset deep-sigmoid --headless --steps 1`` (second run: warm cache)."""
    cmd = [sys.executable, "-m", "gradtui", "--preset", "deep-sigmoid", "--headless", "--steps", "1"]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            tail = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
            return {"seconds": None, "error": tail[:200]}
    return {"seconds": min(times[1:]), "first_s": times[0], "command": "gradtui " + " ".join(cmd[3:])}


def _probe(fn: str, *args) -> dict:
    """Run ``gradtui.bench.<fn>(*args)`` in a fresh process (no torch, no bench threads around) and
    return the JSON it prints."""
    code = f"import json, gradtui.bench as b; print(json.dumps(b.{fn}(*{args!r})))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def dashboard_probe(seconds: float = 8.0) -> dict:
    """deep-sigmoid: trainer steps/s alone (the headless CLI's loop) and with the real dashboard
    running (headless ``run_test``, snapshots at 10 Hz), plus the UI thread's share of a core."""
    import asyncio

    from gradtui import kernels as K
    from gradtui.ui.sources import UI_HZ, LiveSource, make_app
    from gradtui.presets import load_preset
    from gradtui.trainer import Trainer

    cfg = load_preset("deep-sigmoid")
    tr = Trainer(cfg)
    tr.warm_up()
    K.set_blas_threads(1)
    t0, n0 = time.perf_counter(), tr.total_steps
    while time.perf_counter() - t0 < seconds:
        tr.run_chunk(seconds=0.05)
    out = {"headless": (tr.total_steps - n0) / (time.perf_counter() - t0), "ui_hz": UI_HZ}
    source = LiveSource(cfg)
    app = make_app(source)
    frames = []
    accept = source.accept

    def counting_accept(snap):  # every snapshot the UI thread takes
        frames.append(time.perf_counter())
        accept(snap)

    source.accept = counting_accept

    async def drive():
        async with app.run_test(size=(100, 30)) as pilot:
            while not (app.snap and app.snap.status == "running" and app.snap.step > 0):
                await pilot.pause(0.05)
            await asyncio.sleep(1.0)
            t0, c0, n0, f0 = time.perf_counter(), time.thread_time(), source.trainer.total_steps, len(frames)
            await asyncio.sleep(seconds)
            dt = time.perf_counter() - t0
            out["dashboard"] = (source.trainer.total_steps - n0) / dt
            out["ui_cpu"] = (time.thread_time() - c0) / dt  # this coroutine runs on the UI thread
            out["snapshots_per_s"] = (len(frames) - f0) / dt
            app.exit()

    asyncio.run(drive())
    out["ratio"] = out["dashboard"] / out["headless"]
    return out


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best available
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(steps: int = 1_000_000) -> dict:
    """Resident size of a headless run of a small preset at 1e4, 1e5 and ``steps`` steps."""
    from gradtui.presets import load_preset
    from gradtui.trainer import Trainer

    tr = Trainer(load_preset("relu-he", ["depth=2", "width=16"]))
    tr.warm_up()
    marks, t0 = {}, time.perf_counter()
    for mark in (10_000, 100_000, steps):
        while tr.step_count < mark and not tr.diverged:
            tr.run_chunk(max_steps=mark - tr.step_count, seconds=0.05)
        marks[str(mark)] = _rss_bytes()
    first, last = marks["10000"], marks[str(steps)]
    return {"preset": "relu-he --set depth=2 --set width=16", "rss_bytes": marks,
            "growth": last / first - 1.0, "seconds": time.perf_counter() - t0, "steps": tr.step_count}


# ------------------------------------------------------------------------------------- output
def _fmt_rate(v):
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _fmt_ratio(r, agreed):
    if agreed is False:
        return "DISAGREE"
    return "—" if r is None else f"{r:.2f}×"


def render(report: dict) -> str:
    lines = []
    m = report["machine"]
    lines.append(f"gradtui bench — {m['cpu']} ({m['cores']} cores), Python {m['python']}, NumPy {m['numpy']}, "
                 f"Numba {m['numba']}, torch {m['torch'] or 'not installed'}")
    if m.get("loadavg_start") and m.get("loadavg"):
        lines.append(f"load average (1 min) at start {m['loadavg_start'][0]:.2f}, at end {m['loadavg'][0]:.2f} "
                     f"(anything above ~1 on {m['cores']} cores means another process competed for a core)")
    pk = report["peak_gflops"]
    lines.append("GEMM peak (NumPy, GFLOP/s): " + ", ".join(f"{k} {v:.1f}" for k, v in pk.items()))
    lines.append(f"kernel compile (Trainer.warm_up, this process): {report['compile_s']:.2f} s")
    if report.get("compile_detail"):
        cd = report["compile_detail"]
        if "cold" in cd:
            lines.append("  fresh process, empty cache: " + ", ".join(f"{k} {v:.2f} s" for k, v in cd["cold"].items())
                         + "; from cache: " + ", ".join(f"{k} {v:.2f} s" for k, v in cd["cached"].items()))
        else:
            lines.append(f"  cold compile not measured: {cd.get('error')}")
    if report.get("startup"):
        s = report["startup"]
        lines.append(f"headless start-up ({s.get('command', 'gradtui --preset deep-sigmoid --headless --steps 1')}): "
                     + (f"{s['seconds']:.2f} s (warm cache)" if s.get("seconds") is not None else f"failed: {s.get('error')}"))
    lines.append("steps/s: gradtui on 1 and 2 BLAS threads; numpy, torch = better of 1 and 2 threads; ratios = "
                 "better vs better, only where the losses agreed; GFLOP/s and %peak1 from gradtui's 1-thread run")
    hdr = (f"{'config':<18}{'dtype':<8}{'gradtui1':>9}{'2 thr':>9}{'numpy':>8}{'torch':>8}{'×numpy':>9}"
           f"{'×torch':>9}{'GFLOP/s':>9}{'%peak1':>8}{'stats':>7}")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for r in report["rows"]:
        a = r["agree"]
        label = f"{r['config']} {r['depth']}×{r['width']} b{r['batch']}"
        g2 = r["threads"]["gradtui"].get("2")
        stats = "—" if r["stats_cost"] is None else f"{100 * r['stats_cost']:.1f}%"
        lines.append(f"{label:<18}{r['dtype']:<8}{_fmt_rate(r.get('gradtui_1t', r['gradtui'])):>9}{_fmt_rate(g2):>9}"
                     f"{_fmt_rate(r['numpy']):>8}{_fmt_rate(r['torch']):>8}"
                     f"{_fmt_ratio(r['ratio_numpy'], a['numpy']):>9}{_fmt_ratio(r['ratio_torch'], a['torch']):>9}"
                     f"{r['gflops']:>9.1f}{100 * r['peak_share']:>7.0f}%{stats:>7}")
    for r in report["rows"]:
        a = r["agree"]
        if a["numpy"] is False or a["torch"] is False:
            lines.append(f"  {r['config']} {r['dtype']}: losses after {a['steps']} steps disagree "
                         f"(numpy Δ {a['numpy_loss_diff']:.2g}, torch Δ {a.get('torch_loss_diff', float('nan')):.2g}, "
                         f"tolerance {a['tol']:g}): no ratio printed")
    worst = {}  # implementation -> (spread, where)
    for r in report["rows"]:
        for impl, d in r.get("spread", {}).items():
            for thr, v in d.items():
                if v > worst.get(impl, (-1.0,))[0]:
                    worst[impl] = (v, f"{r['config']} {r['dtype']}, {thr} thr")
    if worst:
        lines.append("window spread, (max - min) / median of a figure's windows, largest: "
                     + "; ".join(f"{k} {100 * v:.0f}% ({where})" for k, (v, where) in worst.items()))
    methods = sorted({r["stats_cost_method"] for r in report["rows"]})
    lines.append("stats = share of a gradtui step spent on the per-layer statistics; method: " + "; ".join(methods))
    d = report.get("dashboard")
    if d and "error" not in d:
        lines.append(f"dashboard (deep-sigmoid, {d['snapshots_per_s']:.1f} snapshots/s): {d['dashboard']:,.0f} steps/s "
                     f"vs {d['headless']:,.0f} headless = {100 * d['ratio']:.0f}%; UI thread {100 * d['ui_cpu']:.1f}% of a core")
    elif d:
        lines.append(f"dashboard cost not measured: {d['error']}")
    mem = report.get("memory")
    if mem and "error" not in mem:
        r = mem["rss_bytes"]
        lines.append(f"memory ({mem['preset']}, {mem['steps']:,} steps in {mem['seconds']:.0f} s): resident "
                     + ", ".join(f"{int(k):.0e} steps {v / 2**20:.1f} MiB" for k, v in r.items())
                     + f"; growth {100 * mem['growth']:+.1f}%")
    elif mem:
        lines.append(f"memory not measured: {mem['error']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- main
def run(plan: Plan, log=print) -> dict:
    torch_mod = _try_torch()
    threads = Threads(torch_mod)
    try:
        from gradtui.trainer import Trainer

        load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
        compile_s = 0.0
        for dt in plan.dtypes:
            compile_s += Trainer(bench_config(2, 4, 8, dt)).warm_up()
        peak = {}
        for dt in ("float64", "float32"):
            for n_thr in (1, 2):
                threads.set(n_thr)
                peak[f"{dt}_{n_thr}t"] = gemm_peak(plan.gemm_n, dt, plan)
        threads.set(1)
        log("peak " + ", ".join(f"{k} {v:.1f}" for k, v in peak.items()))
        rows = []
        for dt in plan.dtypes:
            for name, depth, width, batch in plan.configs:
                row = bench_row(name, depth, width, batch, dt, plan, threads, torch_mod, peak[f"{dt}_1t"])
                rows.append(row)
                log(f"{name} {dt}: gradtui {row['gradtui']:.0f}/s numpy {row['numpy']:.0f}/s "
                    f"torch {row['torch'] or 0:.0f}/s stats {row['stats_cost']}")
        report = {"machine": {**machine_info(torch_mod), "loadavg_start": load0}, "peak_gflops": peak, "gemm_n": plan.gemm_n,
                  "compile_s": compile_s, "rows": rows,
                  "method": {"window_s": plan.window, "windows": plan.n_windows, "threads": list(plan.threads),
                             "agree_steps": AGREE_STEPS}}
        if plan.cold_compile:
            report["compile_detail"] = cold_compile()
        if plan.startup:
            report["startup"] = headless_startup()
            log("dashboard cost (deep-sigmoid, 2 x 8 s)...")
            report["dashboard"] = _probe("dashboard_probe", 8.0)
            log("memory over a 1e6-step headless run...")
            report["memory"] = _probe("memory_probe", 1_000_000)
        return report
    finally:
        threads.restore()


def main(argv: list[str]) -> int:
    from gradtui.cli import UsageError, _Parser, _fail, check_writable

    ap = _Parser(prog="gradtui bench", description=__doc__.split("\n")[0])  # errors: one line
    ap.add_argument("--quick", action="store_true", help="one small configuration, short windows (seconds)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--verbose", action="store_true", help="progress lines while measuring")
    try:
        args = ap.parse_args(argv)
        if args.json:  # before the minutes of measuring, not after
            check_writable(args.json, "--json")
    except UsageError as e:
        return _fail(str(e))
    plan = QUICK if args.quick else FULL
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if args.verbose else (lambda s: None)
    report = run(plan, log)
    from gradtui.outputs import OutputError, emit, write_whole

    try:
        emit(render(report))
        if args.json:  # whole or not at all: an older report of that name stays if this fails
            try:
                write_whole(args.json, json.dumps(report, indent=2) + "\n")
            except OSError as e:
                raise OutputError(f"--json {args.json}: write failed ({e.strerror or e})") from None
            emit(f"JSON written to {args.json}")
    except OutputError as e:  # a full disk after minutes of measuring: one line, exit 1
        return _fail(str(e), 1)
    return 0


if __name__ == "__main__":  # python -m gradtui.bench
    raise SystemExit(main(sys.argv[1:]))
