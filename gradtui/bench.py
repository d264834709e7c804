"""``gradtui bench [--quick] [--json FILE]``: gradtui's trainer against NumPy and PyTorch, honestly.

Workload per step (every implementation): forward + backward + SGD update + the per-layer
statistics, on a sigmoid MLP (``xavier_normal``, softmax cross-entropy, 2-D spiral data, 3 classes).

* **gradtui**: ``Trainer.run_steps`` in chunks of ``drive.CHUNK_SECONDS`` (the dashboard's and
  headless mode's path; the test-set evaluation is switched off with ``eval_every``).
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
import subprocess
import sys
import tempfile
import time

from gradtui.bench_measure import (AGREE_STEPS, FULL, QUICK, Plan, Threads, _try_torch, bench_config, bench_row,
                                   first_minute, gemm_peak, machine_info, render_first_minute)


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


from gradtui.bench_ab import ab_dashboard_probe  # noqa: E402,F401  (run by _probe, by name)


PROBE_TIMEOUT_S = 600


def _probe(fn: str, *args) -> dict:
    """Run ``gradtui.bench.<fn>(*args)`` in a fresh process (no torch, no bench threads around) and
    return the JSON it prints."""
    code = f"import json, gradtui.bench as b; print(json.dumps(b.{fn}(*{args!r})))"
    try:  # a probe that hangs must not hang the benchmark
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"{fn} did not finish in {PROBE_TIMEOUT_S} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def dashboard_probe(seconds: float = 8.0) -> dict:
    """deep-sigmoid: trainer steps/s alone (the headless CLI's loop) and with the real dashboard
    running (headless ``run_test``, snapshots at 10 Hz, the depth panel on the |dL/dW| histograms:
    the costliest view), plus the UI thread's share of a core; then paused for ``seconds``: the
    UI thread's and the whole process's share of a core."""
    import asyncio

    from gradtui import drive
    from gradtui import kernels as K
    from gradtui.presets import load_preset
    from gradtui.trainer import Trainer
    from gradtui.ui.sources import LiveSource, make_app

    cfg = load_preset("deep-sigmoid")
    tr = Trainer(cfg)
    tr.warm_up()
    K.set_blas_threads(1)
    t0, n0 = time.perf_counter(), tr.total_steps
    drive.run(tr, should_stop=lambda: time.perf_counter() - t0 >= seconds, seconds=drive.CHUNK_SECONDS)
    out = {"headless": (tr.total_steps - n0) / (time.perf_counter() - t0), "ui_hz": drive.UI_HZ}
    source = LiveSource(cfg)
    app = make_app(source)
    frames = []
    accept = source.accept

    def counting_accept(snap):  # every snapshot the UI thread takes
        frames.append(time.perf_counter())
        accept(snap)

    source.accept = counting_accept

    async def watch():
        async with app.run_test(size=(100, 30)) as pilot:
            while not (app.snap and app.snap.status == "running" and app.snap.step > 0):
                await pilot.pause(0.05)
            from gradtui.ui.views import DEPTH_MODES
            from gradtui.ui.widgets import DepthProfile

            while DEPTH_MODES[app.query_one(DepthProfile).mode].name != "dL/dW histogram":
                await pilot.press("v")
            await asyncio.sleep(1.0)
            # (steps from the snapshots: the UI thread reads no trainer field)
            t0, c0, n0, f0 = time.perf_counter(), time.thread_time(), app.snap.total_steps, len(frames)
            await asyncio.sleep(seconds)
            dt = time.perf_counter() - t0
            out["dashboard"] = (app.snap.total_steps - n0) / dt
            out["ui_cpu"] = (time.thread_time() - c0) / dt  # this coroutine runs on the UI thread
            out["snapshots_per_s"] = (len(frames) - f0) / dt
            await pilot.press("space")  # paused: nothing new to show, nothing redrawn
            while app.snap.status != "paused":
                await pilot.pause(0.05)
            await asyncio.sleep(1.0)
            t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
            await asyncio.sleep(seconds)
            dt = time.perf_counter() - t0
            out["paused_ui_cpu"] = (time.thread_time() - c0) / dt
            out["paused_cpu"] = (time.process_time() - p0) / dt
            app.exit()

    asyncio.run(watch())
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
    from gradtui import drive
    from gradtui.presets import load_preset
    from gradtui.trainer import Trainer

    tr = Trainer(load_preset("relu-he", ["depth=2", "width=16"]))
    tr.warm_up()
    marks, t0 = {}, time.perf_counter()
    for mark in (10_000, 100_000, steps):
        drive.run(tr, mark, seconds=drive.CHUNK_SECONDS)  # (the headless loop)
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
    if report.get("first_minute"):
        lines.append(render_first_minute(report["first_minute"]))
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
        if "paused_cpu" in d:
            lines.append(f"dashboard paused: UI thread {100 * d['paused_ui_cpu']:.1f}% of a core, whole process "
                         f"{100 * d['paused_cpu']:.1f}%")
    elif d:
        lines.append(f"dashboard cost not measured: {d['error']}")
    if report.get("ab_dashboard"):
        from gradtui.bench_ab import report_line

        lines.append(report_line(report["ab_dashboard"]))
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
            log("first minute: the dashboard on an empty and on a warm numba cache...")
            report["first_minute"] = first_minute()
            report["startup"] = headless_startup()
            log("dashboard cost (deep-sigmoid, 2 x 8 s)...")
            report["dashboard"] = _probe("dashboard_probe", 8.0)
            log("A/B dashboard cost (deep-sigmoid x 2, 2 x 8 s)...")
            report["ab_dashboard"] = _probe("ab_dashboard_probe", 8.0)
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
    ap.add_argument("--first-minute", action="store_true",
                    help="only the dashboard's cold and warm start (time to first frame and first step)")
    try:
        args = ap.parse_args(argv)
        if args.json:  # before the minutes of measuring, not after
            check_writable(args.json, "--json")
    except UsageError as e:
        return _fail(str(e))
    plan = QUICK if args.quick else FULL
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if args.verbose else (lambda s: None)
    if args.first_minute:
        fm = first_minute()
        report = {"first_minute": fm}
        text = render_first_minute(fm)
    else:
        report = run(plan, log)
        text = render(report)
    from gradtui.outputs import OutputError, emit, write_whole

    try:
        emit(text)
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
