"""``gradtui theory``: the mean-field prediction for a preset, optionally beside step-0 measurements.

    gradtui theory [--preset NAME|PATH] [--set k=v ...] [--seed N] [--json [PATH|-]] [--measure] [--seeds N]

Per layer: log10(norm_l / norm_lastHidden) of ``delta_norm`` and ``grad_norm`` as predicted by
:mod:`gradtui.theory` and, with ``--measure``, as measured at step 0 (mean over ``--seeds`` seeds
from the config's seed on); then chi1, q*, the phase, the depth scales and the critical sigma_w.
"""

from __future__ import annotations

import json
import math

import numpy as np

from gradtui.config import Config

JSON_KEYS = ("chi1", "q_star", "phase", "depth_scale_grad", "depth_scale_corr", "critical_sigma_w", "modelled",
             "note", "layers")
MAX_SEEDS = 100
DEFAULT_SEEDS = 5


def measure(cfg: Config, seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """Step-0 log10 ratios to the last hidden layer of (delta_norm, grad_norm) per layer (output last),
    the mean over ``seeds`` networks (seeds cfg.seed, cfg.seed + 1, ...). NaN where a norm was not
    finite and positive for every seed."""
    from gradtui.stats import LAYER_COL
    from gradtui.trainer import Trainer

    runs = []
    for k in range(seeds):
        tr = Trainer(cfg.replace(seed=cfg.seed + k), ring_capacity=4)
        tr.run_steps(1)
        layers = tr.ring.last(1)[2][0]
        with np.errstate(all="ignore"):
            logs = np.log10([layers[:, LAYER_COL["delta_norm"]], layers[:, LAYER_COL["grad_norm"]]])
            runs.append(logs - logs[:, -2:-1])  # relative to the last hidden layer
    with np.errstate(all="ignore"):
        mean = np.mean(runs, axis=0)
    mean[~np.isfinite(mean)] = np.nan
    return mean[0], mean[1]


def slope(values) -> float:
    """Least-squares slope (decades per layer) of log10 ratios over hidden layers 2..L (NaN: too few)."""
    y = np.asarray(values, np.float64)[1:]
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.arange(len(y))[ok], y[ok], 1)[0])


def _num(v):
    """JSON number or null (NaN), infinities as the strings "inf" / "-inf" (JSON has none)."""
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def report(pred, meas=None) -> dict:
    """The --json document (schema in the README)."""
    md, mg = meas if meas is not None else (None, None)
    layers = [{"name": lp.name, "pred_delta_log10": _num(lp.pred_delta_log10),
               "pred_grad_log10": _num(lp.pred_grad_log10),
               "meas_delta_log10": None if md is None else _num(md[i]),
               "meas_grad_log10": None if mg is None else _num(mg[i]),
               "q": _num(lp.q), "chi": _num(lp.chi)} for i, lp in enumerate(pred.layers)]
    doc = {k: getattr(pred, k) for k in JSON_KEYS[:-1]}
    doc = {k: (_num(v) if isinstance(v, float) else v) for k, v in doc.items()}
    doc.update(sigma_w2=_num(pred.sigma_w2), sigma_b2=_num(pred.sigma_b2), layers=layers)
    return doc


def _fmt(v, width=9) -> str:
    return f"{'-':>{width}}" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:>{width}.3f}"


def render(cfg: Config, pred, meas=None) -> str:
    head = (f"{cfg.name}: {cfg.activation}, {cfg.init}, depth {len(cfg.hidden_sizes)}, "
            f"bias_std {cfg.bias_std:g}")
    lines = [head, "log10(norm / norm at the last hidden layer), at initialisation"]
    cols = "layer      pred dW  pred dz" + ("   meas dW  meas dz" if meas is not None else "")
    lines.append(cols)
    for i, lp in enumerate(pred.layers):
        row = f"{lp.name:<6}{_fmt(lp.pred_grad_log10)}{_fmt(lp.pred_delta_log10)}"
        if meas is not None:
            row += f" {_fmt(meas[1][i])}{_fmt(meas[0][i])}"
        lines.append(row)
    s_pred = slope([lp.pred_delta_log10 for lp in pred.layers[:-1]])
    lines.append(f"slope of dz over layers 2..L: predicted {_fmt(s_pred, 0)} decades/layer"
                 + (f", measured {_fmt(slope(meas[0][:-1]), 0)}" if meas is not None else ""))
    lines += [f"chi1 {pred.chi1:.4g}  q* {pred.q_star:.4g}  phase {pred.phase}  "
              f"(sigma_w^2 {pred.sigma_w2:.4g}, sigma_b^2 {pred.sigma_b2:.4g})",
              f"depth scales: gradient {pred.depth_scale_grad:.4g}, correlation {pred.depth_scale_corr:.4g} layers; "
              f"critical sigma_w {pred.critical_sigma_w:.4g}",
              pred.note]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from gradtui.cli import (DEFAULT_PRESET, UsageError, _fail, _Parser, _positive_int, _seed, check_fits,
                             check_writable, quiet_numerics)
    from gradtui.outputs import OutputError, emit, write_whole
    from gradtui.presets import PresetError, load_preset

    ap = _Parser(prog="gradtui theory",
                 description="The signal-propagation (mean-field) prediction of per-layer gradient ratios at "
                             "initialisation, optionally beside step-0 measurements.")
    ap.add_argument("-p", "--preset", metavar="NAME|PATH", default=DEFAULT_PRESET,
                    help=f"preset name or path to a .toml file (default: {DEFAULT_PRESET})")
    ap.add_argument("-s", "--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                    help="override a config field (repeatable)")
    ap.add_argument("--seed", type=_seed, default=None, help="random seed (overrides the preset's)")
    ap.add_argument("--json", nargs="?", const="-", metavar="PATH|-", default=None,
                    help="write the result as JSON to PATH, or to stdout with - (the default)")
    ap.add_argument("--measure", action="store_true", help="also measure the ratios at step 0")
    ap.add_argument("--seeds", type=_positive_int, default=None, help="networks to average with --measure (default 5)")
    try:
        args = ap.parse_args(argv)
        if args.seeds is not None and not args.measure:
            raise UsageError("--seeds needs --measure")
        args.seeds = args.seeds or DEFAULT_SEEDS
        if args.seeds > MAX_SEEDS:
            raise UsageError(f"--seeds {args.seeds}: at most {MAX_SEEDS}")
        cfg = load_preset(args.preset, args.overrides, args.seed)
        if args.json not in (None, "-"):
            check_writable(args.json, "--json")
        if args.measure:
            check_fits(cfg)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except (UsageError, PresetError) as e:
        return _fail(str(e))
    from gradtui.theory import predict

    with quiet_numerics():
        pred = predict(cfg)
        meas = measure(cfg, args.seeds) if args.measure else None
    try:
        if args.json is None:
            emit(render(cfg, pred, meas))
        else:
            text = json.dumps(report(pred, meas), indent=2) + "\n"
            if args.json == "-":
                emit(text.rstrip("\n"))
            else:
                try:
                    write_whole(args.json, text)
                except OSError as e:
                    raise OutputError(f"--json {args.json}: write failed ({e.strerror or e})") from None
    except OutputError as e:
        return _fail(str(e), 1)
    return 0
