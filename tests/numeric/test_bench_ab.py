"""The benchmark's A/B dashboard probe (gradtui/bench_ab.py): both ways of training two runs are
measured in the real dashboard, and the report line says what was measured."""

from gradtui.bench_ab import ab_dashboard_probe, efficiency, report_line


def test_ab_probe_measures_both_runs_in_both_modes():
    d = ab_dashboard_probe(seconds=1.0)
    assert d["headless"] > 0 and 0 < d["headless_cpu"] <= 1.05
    for mode in ("threads", "alternating"):
        m = d[mode]
        assert len(m["runs"]) == 2 and all(r > 0 for r in m["runs"])  # both runs advanced
        assert m["ratios"] == [r / d["headless"] for r in m["runs"]]
        assert 0 < m["ui_cpu"] and m["busiest_threads_cpu"]
    assert "threads: A" in report_line(d) and "alternating: A" in report_line(d)


def test_efficiency_compares_steps_per_cpu_second():
    d = {"headless": 1000.0, "headless_cpu": 0.5, "load_avg_1m": 1.0,
         "threads": {"runs": [300.0, 100.0], "busiest_threads_cpu": [0.2, 0.2, 0.1], "ui_cpu": 0.1,
                     "process_cpu": 0.6, "ratios": [0.3, 0.1]},
         "alternating": {"runs": [100.0, 100.0], "busiest_threads_cpu": [0.2, 0.01], "ui_cpu": 0.1,
                         "process_cpu": 0.3, "ratios": [0.1, 0.1]}}
    assert efficiency(d, "threads") == 0.5  # 400 steps / 0.4 cpu-s vs 2000 per cpu-s
    assert efficiency(d, "alternating") == 0.5  # one thread: 200 / 0.2
    line = report_line(d)
    assert "A 300 + B 100 steps/s = 30% / 10% of 1,000 headless" in line and "50% of headless" in line
    assert report_line({"error": "boom"}) == "A/B dashboard cost not measured: boom"
