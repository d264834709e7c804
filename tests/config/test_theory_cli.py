"""``gradtui theory``: the table, --measure, the --json schema, and one-line errors for bad input."""

import json
import math

import pytest

from gradtui.cli import main


def run(argv, capsys):
    rc = main(["theory", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_and_summary(capsys):
    rc, out, err = run(["--preset", "deep-sigmoid"], capsys)
    assert rc == 0 and err == ""
    assert "h01" in out and "h20" in out and "phase ordered" in out and "chi1 0.05572" in out
    assert "critical sigma_w 10.15" in out and "meas" not in out


def test_measure_puts_step0_ratios_beside_the_prediction(capsys):
    rc, out, _ = run(["--preset", "relu-he", "--set", "width=128", "--measure", "--seeds", "2"], capsys)
    assert rc == 0 and "meas dz" in out and "measured" in out


KEYS = {"chi1", "q_star", "phase", "depth_scale_grad", "depth_scale_corr", "critical_sigma_w", "modelled", "note",
        "layers"}
LAYER_KEYS = {"name", "pred_delta_log10", "pred_grad_log10", "meas_delta_log10", "meas_grad_log10"}


def test_json_schema_to_stdout_and_file(capsys, tmp_path):
    rc, out, err = run(["--preset", "deep-tanh", "--set", "bias_std=0.1", "--json"], capsys)
    doc = json.loads(out)
    assert rc == 0 and err == "" and KEYS <= set(doc) and doc["phase"] in ("ordered", "critical", "chaotic")
    assert all(LAYER_KEYS <= set(layer) for layer in doc["layers"])
    assert doc["layers"][-1]["name"] == "out" and doc["layers"][-1]["pred_delta_log10"] is None
    assert doc["layers"][-2]["pred_delta_log10"] == 0 and doc["layers"][0]["meas_delta_log10"] is None
    assert doc["sigma_b2"] == pytest.approx(0.01)
    path = tmp_path / "t.json"
    rc, out, _ = run(["--preset", "relu-he", "--json", str(path), "--measure", "--seeds", "2"], capsys)
    doc = json.loads(path.read_text())
    assert rc == 0 and out == "" and doc["depth_scale_grad"] == "inf" and doc["phase"] == "critical"
    assert all(isinstance(layer["meas_delta_log10"], float) for layer in doc["layers"])
    assert math.isfinite(doc["chi1"])


def test_not_modelled_in_json(capsys):
    rc, out, _ = run(["--preset", "batchnorm", "--json", "-"], capsys)
    doc = json.loads(out)
    assert rc == 0 and doc["modelled"] is False and "not modelled" in doc["note"]
    assert all(layer["pred_delta_log10"] is None for layer in doc["layers"])


BAD = [
    (["--preset", "deep-sigmod"], "did you mean 'deep-sigmoid'"),
    (["--set", "bias_std=-1"], "bias_std"),
    (["--set", "activation=swish"], "activation"),
    (["--measure", "--seeds", "0"], "--seeds"),
    (["--measure", "--seeds", "1000"], "--seeds"),
    (["--seeds", "3"], "--seeds needs --measure"),
    (["--measure", "--seeds", "x"], "--seeds"),
    (["--json", "/nonexistent-dir/t.json"], "does not exist"),
    (["--frobnicate"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv,needle", BAD)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys, tmp_path):
    rc, out, err = run(argv, capsys)
    assert rc == 2 and out == ""
    assert err.startswith("gradtui: error: ") and err.count("\n") == 1 and needle in err


def test_bad_json_path_leaves_no_file(capsys, tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    rc, _, err = run(["--json", str(d)], capsys)
    assert rc == 2 and "is a directory" in err and list(d.iterdir()) == []
