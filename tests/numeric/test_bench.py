"""``gradtui bench``: the report's schema, the agreement check and the statistics-cost switch (no
timing asserted)."""

import json

import numpy as np
import pytest

from gradtui import bench, bench_measure


def test_quick_bench_writes_the_schema_and_the_implementations_agree(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["machine"]) >= {"cpu", "cores", "python", "numpy", "numba", "torch"}
    assert report["peak_gflops"] and all(v > 0 for v in report["peak_gflops"].values())
    assert report["compile_s"] >= 0
    assert len(report["rows"]) == 1
    row = report["rows"][0]
    assert row["config"] == "Q1" and (row["depth"], row["width"], row["batch"]) == (6, 32, 64)
    assert set(row) >= {"config", "depth", "width", "batch", "dtype", "gradtui", "numpy", "torch", "gflops",
                        "peak_share", "stats_cost"}
    assert row["gradtui"] > 0 and row["numpy"] > 0 and row["gflops"] > 0 and row["peak_share"] > 0
    assert row["agree"]["numpy"] is True, row["agree"]
    if report["machine"]["torch"] is None:
        assert row["torch"] is None and row["agree"]["torch"] is None
    else:
        assert row["torch"] > 0 and row["agree"]["torch"] is True, row["agree"]
    assert row["ratio_numpy"] is not None
    for impl, by_threads in row["spread"].items():  # every measured figure has its windows' spread
        assert by_threads.keys() == row["threads"][impl].keys()
        assert all(v >= 0 for v in by_threads.values())
    text = capsys.readouterr().out
    assert "gradtui" in text and "DISAGREE" not in text and "window spread" in text


def test_stats_cost_times_the_kernels_statistics_switch_and_leaves_it_on():
    """``stats_cost`` (the figure of the full bench's last column) on a tiny plan: a cost share
    below 1 and its method, with the trainer's statistics switched back on afterwards, also when a
    step raises halfway."""
    import math

    from gradtui import kernels as K
    from gradtui.trainer import Trainer

    tr = Trainer(bench_measure.bench_config(3, 8, 16, "float64"))
    tr.run_steps(4)
    plan = bench_measure.Plan((), ("float64",), 0.002, 2, 0.0, (1,), 16, True, False, False)
    cost, how = bench_measure.stats_cost(tr, plan)
    assert math.isfinite(cost) and cost < 1 and "I_STATS" in how
    assert tr.icfg[K.I_STATS] == 1
    count = tr.ring.count
    tr.run_steps(1)
    assert np.all(np.isfinite(tr.ring.last(1)[2][0])) and tr.ring.count == count + 1  # stats written

    real = tr.run_steps
    calls = []

    def fail_on_the_off_half(n):  # the second runner of a pair is the switched-off one
        calls.append(tr.icfg[K.I_STATS])
        if tr.icfg[K.I_STATS] == 0:
            raise RuntimeError("boom")
        return real(n)

    tr.run_steps = fail_on_the_off_half
    with pytest.raises(RuntimeError):
        bench_measure.stats_cost(tr, plan)
    assert calls[-1] == 0 and tr.icfg[K.I_STATS] == 1


def test_render_marks_disagreement_and_prints_no_ratio():
    row = {"config": "C1", "depth": 10, "width": 32, "batch": 64, "dtype": "float64", "gradtui": 1000.0,
           "numpy": 100.0, "torch": 50.0, "ratio_numpy": None, "ratio_torch": 20.0, "gflops": 1.0,
           "peak_share": 0.1, "stats_cost": 0.05, "stats_cost_method": "m",
           "threads": {"gradtui": {"1": 1000.0}}, "agree": {"steps": 10, "tol": 1e-9, "numpy": False,
                                                           "numpy_loss_diff": 1e-3, "torch": True}}
    report = {"machine": {"cpu": "x", "cores": 2, "python": "3", "numpy": "2", "numba": "0", "torch": None},
              "peak_gflops": {"float64_1t": 10.0}, "compile_s": 1.0, "rows": [row]}
    text = bench.render(report)
    assert "DISAGREE" in text and "10.00×" not in text and "20.00×" in text


def test_windows_of_the_implementations_are_taken_in_turn():
    from gradtui.bench_measure import interleaved_windows

    log = []

    def runner(name):
        def run():
            log.append(name)
            return 1
        return run

    rates = interleaved_windows({"a": runner("a"), "b": runner("b")}, window=0.0, n_windows=3, warmup=0.0)
    assert log == ["a", "b"] * 3  # a window of 0 s is one call: a, b, a, b, ...
    assert set(rates) == {"a", "b"} and all(len(r) == 3 and min(r) > 0 for r in rates.values())


def test_window_spread_is_the_range_over_the_median():
    assert bench_measure.spread([90.0, 100.0, 120.0]) == (120.0 - 90.0) / 100.0
    assert bench_measure.spread([5.0] * 5) == 0.0
