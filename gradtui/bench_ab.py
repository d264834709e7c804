"""The benchmark's A/B dashboard probe: two deep-sigmoid runs in the real dashboard (headless
``run_test``, snapshots at 10 Hz each), each run's steps/s against one run's headless steps/s, and
the UI thread's share of a core; for two ways of training them:

- ``threads``: one trainer thread per run (what the dashboard does: two :class:`LiveSource`);
- ``alternating``: one thread running a chunk of A, then a chunk of B (half the chunk each), and
  publishing both runs' snapshots on the same 10 Hz beat.

Called by ``gradtui bench`` (in a fresh process, :func:`gradtui.bench._probe`).
"""

from __future__ import annotations

import os
import threading
import time


def _headless_rate(cfg, seconds: float) -> tuple[float, float]:
    """Steps/s of one run driven in this thread, and the share of a core this thread got."""
    from gradtui import drive
    from gradtui.trainer import Trainer

    tr = Trainer(cfg)
    tr.warm_up()
    t0, c0, n0 = time.perf_counter(), time.thread_time(), tr.total_steps
    drive.run(tr, should_stop=lambda: time.perf_counter() - t0 >= seconds, seconds=drive.CHUNK_SECONDS)
    dt = time.perf_counter() - t0
    return (tr.total_steps - n0) / dt, (time.thread_time() - c0) / dt


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of every live thread but the calling one, by name (Linux; else empty)."""
    out = {}
    for t in threading.enumerate():
        if t is threading.current_thread() or t.ident is None:
            continue
        try:
            out[f"{t.name}#{t.ident}"] = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        except (AttributeError, OSError):
            pass
    return out


def _alternate(trainers, post, stop: threading.Event, hz: float) -> None:
    """One thread: a chunk of each run in turn; both runs' snapshots every 1/hz s."""
    from gradtui import drive
    from gradtui.ui.messages import SnapshotMessage

    period, next_pub = 1.0 / hz, time.perf_counter()
    rate_t, rate_n = next_pub, [t.total_steps for t in trainers]
    sps = [0.0] * len(trainers)
    while not stop.is_set():
        for tr in trainers:
            tr.run_chunk(seconds=min(drive.CHUNK_SECONDS, period / 2) / len(trainers))
        now = time.perf_counter()
        if now >= next_pub:
            if now - rate_t > drive.RATE_SECONDS:
                sps = [(t.total_steps - n) / (now - rate_t) for t, n in zip(trainers, rate_n)]
                rate_t, rate_n = now, [t.total_steps for t in trainers]
            for run_id, tr, r in zip(("A", "B"), trainers, sps):
                post(SnapshotMessage(run_id, tr.snapshot(steps_per_sec=r)))
            next_pub = max(next_pub + period, now + period / 2)


START_TIMEOUT_S = 300  # both runs must have stepped by then (a cold compile included)


def ab_dashboard_probe(seconds: float = 8.0) -> dict:
    import asyncio

    from gradtui import drive
    from gradtui import kernels as K
    from gradtui.presets import load_preset
    from gradtui.trainer import Trainer
    from gradtui.ui.sources import LiveSource, StaticSource, make_app

    cfg = load_preset("deep-sigmoid")
    K.set_blas_threads(1)
    rate, share = _headless_rate(cfg, seconds)
    out: dict = {"headless": rate, "headless_cpu": share, "ui_hz": drive.UI_HZ,
                 "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}

    def measure(app, counts) -> dict:
        res: dict = {}

        async def watch():
            async with app.run_test(size=(120, 40)) as pilot:
                give_up = time.perf_counter() + START_TIMEOUT_S
                while not all(c() > 0 for c in counts):  # (a run that failed never steps: say so)
                    if time.perf_counter() > give_up:
                        raise RuntimeError(f"a run did not step within {START_TIMEOUT_S} s")
                    await pilot.pause(0.05)
                await asyncio.sleep(1.0)
                t0, c0, n0 = time.perf_counter(), time.thread_time(), [c() for c in counts]
                p0, th0 = time.process_time(), _thread_cpu()
                await asyncio.sleep(seconds)
                dt = time.perf_counter() - t0
                th1 = _thread_cpu()
                busy = sorted(((th1[k] - th0[k]) / dt for k in th1 if k in th0), reverse=True)
                res["busiest_threads_cpu"] = busy[:2]  # the trainer threads (one, alternating)
                res["runs"] = [(c() - n) / dt for c, n in zip(counts, n0)]
                res["ui_cpu"] = (time.thread_time() - c0) / dt  # this coroutine runs on the UI thread
                # cores this process got: below 2 (on 2 cores), other processes had the rest
                res["process_cpu"] = (time.process_time() - p0) / dt
                app.exit()

        asyncio.run(watch())
        res["ratios"] = [r / out["headless"] for r in res["runs"]]
        return res

    # one thread per run (the dashboard's way); steps read from the snapshots the UI took
    sources = [LiveSource(cfg, run_id="A"), LiveSource(cfg, run_id="B")]
    app = make_app(sources)
    out["threads"] = measure(app, [lambda s=s: s.snap.total_steps if s.snap else 0 for s in sources])

    # one thread alternating chunks of A and B
    trainers = [Trainer(cfg), Trainer(cfg)]
    statics = [StaticSource([t.snapshot()], run_id) for t, run_id in zip(trainers, ("A", "B"))]
    app = make_app(statics)
    stop = threading.Event()
    th = threading.Thread(target=_alternate, args=(trainers, app.post_message, stop, drive.UI_HZ), daemon=True)
    th.start()
    try:
        out["alternating"] = measure(app, [lambda s=s: s.snap.total_steps for s in statics])
    finally:
        stop.set()
        th.join(5)
    return out


def efficiency(d: dict, mode: str) -> float:
    """Steps per CPU-second of the trainer thread(s) in ``mode`` over the headless run's: the
    comparison that holds on a loaded machine, where wall-clock rates follow the share the OS gives."""
    m = d[mode]
    busy = m["busiest_threads_cpu"][:2 if mode == "threads" else 1]
    per_cpu = sum(m["runs"]) / max(sum(busy), 1e-9)
    return per_cpu / max(d["headless"] / max(d["headless_cpu"], 1e-9), 1e-9)


def report_line(d: dict) -> str:
    """The bench report's line for :func:`ab_dashboard_probe`."""
    if "error" in d:
        return f"A/B dashboard cost not measured: {d['error']}"
    parts = []
    for mode in ("threads", "alternating"):
        m = d[mode]
        parts.append(f"{mode}: A {m['runs'][0]:,.0f} + B {m['runs'][1]:,.0f} steps/s = "
                     f"{100 * m['ratios'][0]:.0f}% / {100 * m['ratios'][1]:.0f}% of {d['headless']:,.0f} headless, "
                     f"UI thread {100 * m['ui_cpu']:.1f}% of a core, process {m['process_cpu']:.2f} cores")
    load = f" (load average {d['load_avg_1m']:.1f})" if d.get("load_avg_1m") is not None else ""
    parts = [p + f"; trainer thread(s) {' + '.join(f'{c:.2f}' for c in d[m]['busiest_threads_cpu'])} cores, "
             f"{100 * efficiency(d, m):.0f}% of headless steps per CPU-second"
             for p, m in zip(parts, ("threads", "alternating"))]
    load += f"; headless thread got {d['headless_cpu']:.2f} of a core"
    return f"A/B dashboard (deep-sigmoid x 2, 10 Hz each){load}: " + "; ".join(parts)
