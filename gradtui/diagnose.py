"""Diagnosis in words: what a snapshot's numbers mean, why, and which key to press.

:func:`diagnose` turns one :class:`gradtui.stats.Snapshot` (and, optionally, the theory's prediction
for its config: anything with ``chi1``, ``phase``, ``modelled`` and ``layers`` of ``name``,
``pred_delta_log10``, ``pred_grad_log10``) into :class:`Finding` s, most important first. Numeric
side: no textual or rich here, and no kernel is called.

Each layer's regime is the one rule of :mod:`gradtui.regimes` (``snap.regimes``, computed once per
snapshot); the thresholds below decide only what that rule does not (step size, chance level,
clipping rate). Mechanism numbers come from the snapshot (weight norms give sigma_w) and the
registries (an activation's largest slope), never from a preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradtui import regimes as R
from gradtui import remedies as rm
from gradtui.activations import ACTIVATIONS
from gradtui.data import n_outputs
from gradtui.numfmt import num, pct
from gradtui.remedies import ACT_FOR_INIT, ADAPTIVE, Remedy

# --- thresholds the regime rule does not decide (the only ones here) --------------------------
HEALTHY_UPDATE_RATIO = 1e-3  # Karpathy's rule of thumb for |dW|/|W| per step
UPDATE_RATIO_FAR = 100.0  # "far" = two decades off: the healthy presets spread over one (1e-4..4e-3)
RECENT = 100  # steps averaged for loss, accuracy and clipping rate (the headless summary's window)
MIN_STEPS = 20  # fewest recent steps for a rate (clipping, update ratio)
MIN_STEPS_CHANCE = 200  # every fresh net starts at chance: "stuck" only after this many steps
CHANCE_LOSS_TOL = 0.05  # a mean loss within 5% of the chance loss is at chance
CONVERGED_LOSS_FRAC = 0.05  # loss under 5% of chance: learnt, so small updates are expected
CLIP_ALWAYS_FRAC = 0.9  # clipping changed >= 90% of the recent steps
REGRESSION_CHANCE_LOSS = 1.0  # data.py standardises the targets: predicting their mean gives MSE 1

ORDER = ("diverged", "exploding_growing", "exploding", "dead", "saturated", "vanishing", "chance",
         "clipping_always", "update_ratio_high", "update_ratio_low", "healthy", "no_data")


@dataclass(frozen=True)
class Finding:
    regime: str
    title: str
    evidence: str
    mechanism: str
    remedies: tuple[Remedy, ...] = ()
    not_helping: str = ""
    layers: tuple[str, ...] = ()  # the layers it is about


def diagnose(snap, prediction=None) -> tuple[Finding, ...]:
    """Findings for ``snap``, most important first; ``healthy`` when nothing is wrong."""
    if len(snap.steps) == 0:
        return (Finding("no_data", "No steps yet: nothing to diagnose", "0 steps", ""),)
    with np.errstate(all="ignore"):
        f = _Facts(snap, prediction)
        found = [x for rule in _RULES if (x := rule(f)) is not None]
        found = [_chance(f, found)] + found if f.at_chance() else found
        if not found:
            found = [_healthy(f)]
    return tuple(sorted(found, key=lambda x: ORDER.index(x.regime)))


class _Facts:
    """The numbers every rule reads, taken once: the judged row is the newest one, or after a
    divergence the newest finite one (its regimes by the same rule)."""

    def __init__(self, snap, prediction):
        self.snap, self.cfg, self.names = snap, snap.config, snap.layer_names
        self.n_hidden = snap.n_layers - 1
        self.act = ACTIVATIONS[self.cfg.activation]
        self.pred = prediction if prediction is not None and getattr(prediction, "modelled", False) else None
        status = snap.global_series("status")
        grad = snap.layer_series("grad_norm")
        ok = np.flatnonzero((status == 0) & np.isfinite(grad).all(1))
        self.diverged = snap.status == "diverged" or status[-1] != 0 or not np.isfinite(grad[-1]).all()
        self.k = len(grad) - 1 if not self.diverged else (int(ok[-1]) if len(ok) else None)
        row = self.k if self.k is not None else len(grad) - 1
        self.row = {s: snap.layer_series(s)[row] for s in ("grad_norm", "delta_norm", "weight_norm",
                                                            "update_ratio", "saturated", "dead", "act_std")}
        self.regimes = snap.regimes if not self.diverged or self.k is None else R.classify(
            grad[self.k], grad[0], self.row["saturated"], self.row["dead"])
        self.recent = snap.glob[-RECENT:]
        self.task = getattr(snap, "task", "classify")
        self.k_classes = n_outputs(self.cfg.dataset, self.cfg.n_classes)

    def where(self, regime: str) -> list[int]:
        return [i for i, r in enumerate(self.regimes) if r == regime]

    def glob_mean(self, name: str) -> float:
        v = self.snap.global_series(name)[-RECENT:]
        v = v[np.isfinite(v)]
        return float(v.mean()) if len(v) else math.nan

    def chance_loss(self) -> float:
        return math.log(self.k_classes) if self.task == "classify" else REGRESSION_CHANCE_LOSS

    def at_chance(self) -> bool:
        loss = self.glob_mean("loss")
        return (self.snap.step >= MIN_STEPS_CHANCE and not self.diverged
                and abs(loss - self.chance_loss()) <= CHANCE_LOSS_TOL * self.chance_loss())

    def converged(self) -> bool:
        return self.glob_mean("loss") < CONVERGED_LOSS_FRAC * self.chance_loss()

    def sigma_w(self) -> float:
        """sigma_w of the hidden-to-hidden weights, sqrt(fan_in Var W) = |W|_F / sqrt(fan_out),
        from this step's weight norms (median over layers 2..L; layer 1 if there is no other)."""
        sizes = self.cfg.hidden_sizes
        w = self.row["weight_norm"][: self.n_hidden] / np.sqrt(np.asarray(sizes, float))
        w = w[1:] if len(w) > 1 else w
        w = w[np.isfinite(w)]
        return float(np.median(w)) if len(w) else math.nan

    def delta_factor(self) -> tuple[float, float]:
        """(per-layer factor, whole ratio) of the back-propagated signal, first hidden layer over
        the last hidden one (NaN with fewer than two hidden layers)."""
        d = self.row["delta_norm"][: self.n_hidden]
        if len(d) < 2 or not (np.isfinite(d[[0, -1]]).all() and d[0] > 0 and d[-1] > 0):
            return math.nan, math.nan
        ratio = float(d[0] / d[-1])
        return ratio ** (1 / (len(d) - 1)), ratio

    def predicted(self, layer: str, key: str) -> float:
        for p in getattr(self.pred, "layers", ()) or ():
            if p.name == layer:
                return float(getattr(p, key))
        return math.nan

    def plain_mlp(self) -> bool:
        return not (self.cfg.residual or self.cfg.batchnorm)


# ------------------------------------------------------------------------------ helpers
def _span(f: _Facts, idx) -> str:
    """Layer names compressed into runs: ``h01-h16, out``."""
    runs, names = [], f.names
    for i in idx:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(names[a] if a == b else f"{names[a]}-{names[b]}" for a, b in runs)


def _range(values) -> str:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return "nan"
    lo, hi = num(v.min()), num(v.max())
    return lo if lo == hi else f"{lo} .. {hi}"


def _ratios(f: _Facts) -> str:
    """The measured delta_norm (and, with a prediction, grad_norm) ratio of the first hidden layer to
    the last, each with the theory's prediction beside it when a modelled one is given."""
    d, g = f.row["delta_norm"], f.row["grad_norm"]
    first, last = f.names[0], f.names[f.n_hidden - 1]
    out = []
    for stat, v, key in (("delta_norm", d, "pred_delta_log10"), ("grad_norm", g, "pred_grad_log10")):
        p = f.predicted(first, key)
        if f.n_hidden < 2 or (stat == "grad_norm" and not math.isfinite(p)):
            continue
        theory = f", theory {num(10 ** p)}" if math.isfinite(p) else ""
        out.append(f"{stat} {first}/{last} = {num(v[0] / v[f.n_hidden - 1])}{theory}")
    if out and f.pred is not None:
        out[-1] += f" ({f.pred.phase} phase, chi1 = {num(f.pred.chi1)})"
    return "; ".join(out)


def _per_layer(f: _Facts) -> str:
    """The mechanism's arithmetic: what each layer multiplies the back-propagated signal by."""
    per, ratio = f.delta_factor()
    if not math.isfinite(per):
        return ""
    n = f.n_hidden - 1
    act, sw = f.cfg.activation, f.sigma_w()
    p = f.predicted(f.names[0], "pred_delta_log10")
    if math.isfinite(p):  # the theory's layer-by-layer product (the transient included, not chi1 alone)
        est = 10 ** (p / n)
        head = (f"Each {act} layer multiplies the back-propagated signal by about sigma_w*sqrt(E[f'^2])"
                f" = {num(est)} (theory), so {n} layers give {num(10 ** p)}")
    elif f.plain_mlp() and math.isfinite(sw):
        est = sw * f.act.max_slope
        head = (f"Each {act} layer multiplies the back-propagated signal by at most sigma_w*max|f'| = "
                f"{num(sw)}*{num(f.act.max_slope)} = {num(est)}, so {n} layers give at most {num(est ** n)}")
    else:
        head = "The back-propagated signal changes by a factor at every layer"
    return f"{head}; measured {num(per)} per layer, {num(ratio)} from {f.names[f.n_hidden - 1]} to {f.names[0]}."


CLIP_NO_HELP = "Clipping (c) only caps large gradients, so it does nothing for small ones"
DECAY_NO_HELP = ("L1/L2 penalties and learning-rate decay shrink weights or steps: they do not "
                 "cure it, and + scales every layer alike, so the gap between layers stays.")


# ------------------------------------------------------------------------------ the rules
def _diverged(f: _Facts) -> Finding | None:
    if not f.diverged:
        return None
    snap, k = f.snap, f.k
    steps, gn = snap.steps, snap.global_series("grad_norm")
    bad = k + 1 if k is not None and k + 1 < len(steps) else len(steps) - 1
    ev = f"step {int(steps[bad])}: loss {num(snap.global_series('loss')[bad])}, gradient norm {num(gn[bad])}"
    mech = ("Each step made the weights larger and the next gradient larger still, until the numbers "
            "left floating-point range: the weights are now NaN/inf.")
    if k is not None:
        ur = f.row["update_ratio"]
        top = float(np.nanmax(ur)) if np.isfinite(ur).any() else math.nan
        ev += (f"; last finite step {int(steps[k])}: gradient norm {num(gn[k])}, "
               f"update:weight ratio up to {num(top)} (healthy ~{HEALTHY_UPDATE_RATIO:g})")
        if top > HEALTHY_UPDATE_RATIO * UPDATE_RATIO_FAR:
            mech += f" A ratio of {num(top)}: one step changed the weights by {num(top)}x their size."
    rem = rm.ranked(
        rm.matched_init(f.cfg, f"re-initialises now, with sigma_w matched to {f.cfg.activation}: the blown-up "
                         "weights are gone and the new ones do not explode"),
        rm.clip_norm(f.cfg, "caps every layer's step, so no single step can blow the weights up"),
        rm.lr_change(f.cfg, 0.5, "smaller steps (repeat until it no longer diverges)", reset=True))
    return Finding("diverged", "Diverged: the loss or a gradient is NaN/inf", ev, mech, rem,
                   "A switch alone (c, -, a) keeps the blown-up weights, so the next step diverges "
                   "again: press r after it (i re-initialises by itself). Learning-rate decay comes "
                   "too late.", f.names)


def _exploding(f: _Facts) -> Finding | None:
    idx = f.where(R.EXPLODING)
    if not idx:
        return None
    g, g0 = f.row["grad_norm"], f.snap.layer_series("grad_norm")[0]
    grew = [i for i in idx if np.isfinite(g0[i]) and g0[i] > 0 and g[i] > R.EXPLODE_GROWN_MIN
            and g[i] / g0[i] > R.EXPLODE_GROWTH]
    span, n = _span(f, idx), len(f.snap.steps)
    when = " (before it diverged)" if f.diverged else " (since initialisation)" if f.snap.steps[0] == 0 else ""
    ev = (f"gradient norm {_range(g[idx])} in {span} (rule: > {R.EXPLODE_ABS:g}, or > "
          f"{R.EXPLODE_GROWN_MIN:g} after growing > {R.EXPLODE_GROWTH:g}x)")
    if grew:
        i = grew[0]
        ev += f"; {f.names[i]} grew from {num(g0[i])} to {num(g[i])} over the last {n} steps"
    per, _ = f.delta_factor()
    ev += "; " + _ratios(f) if f.n_hidden > 1 else ""
    mech = _per_layer(f) if per > 1 and not f.diverged else ""
    sw = f.sigma_w()
    if f.diverged:
        mech = (f"At step {int(f.snap.steps[0])} the gradient norms were already {_range(g0)} (init "
                f"{f.cfg.init}, gain {num(f.cfg.init_gain)}, std {num(f.cfg.init_std)}).")
    elif f.plain_mlp() and sw * f.act.max_slope > 1:
        mech += (f" sigma_w = {num(sw)} (from the weight norms; init {f.cfg.init}, gain "
                 f"{num(f.cfg.init_gain)}, std {num(f.cfg.init_std)}) is above what {f.cfg.activation} keeps level.")
    if grew:
        mech += " Larger weights give larger gradients, which grow the weights: left alone this diverges."
    if f.cfg.clip != "none":
        mech += (f" Clipping ({f.cfg.clip}) is on: it caps each step, so training survives, but the "
                 "gradients themselves stay large.")
    rem = rm.ranked(
        rm.matched_init(f.cfg, f"re-initialises with sigma_w matched to {f.cfg.activation}: the signal keeps its size"),
        rm.clip_norm(f.cfg, "caps every layer's step at lr*c, whatever the gradient"),
        rm.lr_change(f.cfg, 0.5, "smaller steps keep the weights from running away", reset=True))
    title = (f"Gradients growing in {_span(f, grew)}: >{R.EXPLODE_GROWTH:g}x in {n} steps" if grew
             else f"Exploding gradients in {span}{when}")
    return Finding("exploding_growing" if grew else "exploding", title, ev.strip(), mech.strip(), rem,
                   "Learning-rate decay comes too late (the first steps already blow up); clip = value "
                   "caps each entry at c, so a big layer's step can still be sqrt(n)*c: the norm modes "
                   "cap the whole step.", tuple(f.names[i] for i in idx))


def _dead(f: _Facts) -> Finding | None:
    idx = f.where(R.DEAD)
    if not idx:
        return None
    dead = [i for i in idx if f.row["dead"][i] >= R.DEAD_FRAC]
    zero = [i for i in idx if i not in dead]
    ev = (f"{_range(100 * f.row['dead'][dead])}% of the units of {_span(f, dead)} have f' = 0 on the whole "
          f"batch (rule: >= {pct(R.DEAD_FRAC, 0)})" if dead else "")
    if zero:
        ev += f"{'; ' if dead else ''}{_span(f, zero)}: gradient exactly 0, nothing gets through the dead units"
    mech = ("A unit whose pre-activation is negative for every input outputs 0 and passes no gradient "
            "back (f' = 0), so its incoming weights never change again, and the layers below get "
            "nothing through it. Large steps push units there.")
    leaky = "leaky_relu" if f.cfg.activation == "relu" else None
    rem = rm.ranked(
        leaky and rm.cycle(f.cfg, "activation", ACTIVATIONS, leaky, "keeps a small slope for z < 0, so "
                                "no unit can die", reset=True),
        rm.lr_change(f.cfg, 0.5, "smaller steps knock fewer units into the dead zone", reset=True),
        rm.matched_init(f.cfg, "re-initialises the weights: every unit starts alive"))
    return Finding("dead", f"Dead units in {_span(f, idx)}", ev, mech, rem,
                   "More steps, clipping or Adam do not revive a dead unit: no gradient reaches its "
                   "weights.", tuple(f.names[i] for i in idx))


def _saturated(f: _Facts) -> Finding | None:
    idx = f.where(R.SATURATED)
    if not idx:
        return None
    act, sw = f.cfg.activation, f.sigma_w()
    ev = (f"{_range(100 * f.row['saturated'][idx])}% of (sample, unit) pairs of {_span(f, idx)} in "
          f"{act}'s flat tails, |f'| < 1% of {num(f.act.max_slope)} (rule: >= {pct(R.SATURATED_FRAC, 0)}); "
          f"sigma_w {num(sw)} (from the weight norms)")
    mech = (f"In the tails f' < {num(0.01 * f.act.max_slope)}, so delta_l = (W^T delta_l+1) * f'(z_l) "
            "passes almost nothing through those units and the layers below stop learning. The "
            "pre-activations are that large because the weights are.")
    rem = rm.ranked(
        rm.toggle(f.cfg, "batchnorm", "normalises the pre-activations back into the slope; no restart needed"),
        rm.clip_norm(f.cfg, "caps each layer's step, so SGD does not throw the units into the tails again"),
        rm.lr_change(f.cfg, 0.5, "smaller steps grow the weights more slowly", reset=True))
    nope = "Clipping after the fact does not pull units out of the tails: restart (r) with it."
    if sw > math.sqrt(2):  # ReLU's critical sigma_w (THEORY.md): above it the signal grows
        nope += f" Switching to ReLU (a) keeps these weights, and without {act}'s bound the signal explodes."
    return Finding("saturated", f"Saturated units in {_span(f, idx)}", ev, mech, rem, nope,
                   tuple(f.names[i] for i in idx))


def _vanishing(f: _Facts) -> Finding | None:
    idx = f.where(R.VANISHING)
    if not idx:
        return None
    g = f.row["grad_norm"]
    top = int(np.nanargmax(np.where(np.isfinite(g), g, -np.inf)))
    ev = (f"gradient norm {_range(g[idx])} in {_span(f, idx)}; the largest is {f.names[top]}'s "
          f"{num(g[top])} (rule: < {R.VANISH_ABS:g}, or < {R.VANISH_REL:g} x the largest); "
          f"{f.names[0]}/{f.names[-1]} = {num(g[0] / g[-1])}")
    ev += "; " + _ratios(f) if f.n_hidden > 1 else ""
    mech = _per_layer(f)
    a = f.row["act_std"][: f.n_hidden]
    if len(a) > 1 and a[-1] < R.VANISH_REL * a[0]:
        mech += (f" The forward signal fades as well (activation std {f.names[0]} {num(a[0])} -> "
                 f"{f.names[f.n_hidden - 1]} {num(a[-1])}), so even the last layers get small gradients.")
    if f.cfg.optimizer in ADAPTIVE:
        mech += (f" {f.cfg.optimizer} scales each weight's step by its own gradient size, so these layers "
                 f"still move (update ratio {_range(f.row['update_ratio'][idx])}).")
    act, sw = f.cfg.activation, f.sigma_w()
    target = ACT_FOR_INIT.get(f.cfg.init, "relu")
    a_rem = None
    if f.act.max_slope < 1 and ACTIVATIONS[target].max_slope >= 1:
        a_rem = rm.cycle(f.cfg, "activation", ACTIVATIONS, target,
                              f"{target}'s slope reaches {num(ACTIVATIONS[target].max_slope)} ({act}'s "
                              f"only {num(f.act.max_slope)}), so with {f.cfg.init} the signal keeps its size")
    i_rem = rm.matched_init(f.cfg, f"sets sigma_w so that each {act} layer keeps the signal's size (now {num(sw)})")
    b_rem = rm.toggle(f.cfg, "batchnorm", "normalises every layer's pre-activations, so each works in the slope")
    r_rem = rm.toggle(f.cfg, "residual", "h + f(h) carries the gradient around each layer's small factor")
    o_rem = rm.adam(f.cfg, "per-weight step sizes make tiny gradients count; it treats the symptom, the "
                     "gradients stay small (enough for a moderately deep net)")
    rem = rm.ranked(i_rem, a_rem, b_rem, r_rem, o_rem) if f.act.max_slope >= 1 else \
        rm.ranked(a_rem, b_rem, i_rem, r_rem, o_rem)
    return Finding("vanishing", f"Vanishing gradients in {_span(f, idx)}", ev, mech.strip(), rem,
                   f"{CLIP_NO_HELP}. {DECAY_NO_HELP}", tuple(f.names[i] for i in idx))


def _clipping(f: _Facts) -> Finding | None:
    c = f.snap.global_series("clipped")[-RECENT:]
    c = c[np.isfinite(c)]
    if f.cfg.clip == "none" or f.diverged or len(c) < MIN_STEPS or c.mean() < CLIP_ALWAYS_FRAC:
        return None
    gn = f.snap.global_series("grad_norm")[-RECENT:]
    med = float(np.nanmedian(gn)) if np.isfinite(gn).any() else math.nan
    ev = (f"clipping ({f.cfg.clip}, c = {num(f.cfg.clip_value)}) changed {pct(c.mean(), 0)} of the last "
          f"{len(c)} steps; gradient norm before clipping: median {num(med)}")
    mech = ("When every step is clipped, the step size is set by lr and c, not by the gradient: "
            "clipping keeps the run alive, but the gradients it caps are too large and their cause "
            "is still there.")
    rem = rm.ranked(rm.matched_init(f.cfg, f"fixes the cause: with sigma_w matched to {f.cfg.activation} the "
                                   "gradients are no longer large"),
                  rm.lr_change(f.cfg, 0.5, "smaller steps let the weights settle"))
    return Finding("clipping_always", f"Clipping on {pct(c.mean(), 0)} of the steps", ev, mech, rem,
                   "Turning clipping off (c) would let these gradients through unchanged.")


def _update_ratio(f: _Facts) -> Finding | None:
    ok = f.where(R.OK)
    if f.diverged or not ok or len(f.snap.steps) < MIN_STEPS:
        return None
    ur = f.snap.layer_series("update_ratio")[-RECENT:, ok]
    means = np.array([float(np.mean(c[np.isfinite(c)])) if np.isfinite(c).any() else np.nan for c in ur.T])
    if not np.isfinite(means).any():
        return None
    med = float(np.nanmedian(means))
    ev = (f"update:weight ratio |dW|/|W| {num(med)} (median over the ok layers {_span(f, ok)} of "
          f"the last {len(ur)} steps; per layer {_range(means)}; healthy ~{HEALTHY_UPDATE_RATIO:g})")
    if med > HEALTHY_UPDATE_RATIO * UPDATE_RATIO_FAR:
        return Finding("update_ratio_high", f"Steps too large: update ratio {num(med)}", ev,
                       f"Each step changes the weights by {pct(med, 0)} of their size; much above "
                       "~1e-3 the steps overshoot, the loss jumps and the net can diverge.",
                       rm.ranked(rm.lr_change(f.cfg, HEALTHY_UPDATE_RATIO / med, "brings the ratio near 1e-3")),
                       "Adam does not fix a learning rate that is too large: its step is ~lr per weight.")
    # small steps matter only once the gradients reach every layer and the net has not learnt yet
    causes = f.where(R.VANISHING) + f.where(R.DEAD) + f.where(R.SATURATED)
    if med < HEALTHY_UPDATE_RATIO / UPDATE_RATIO_FAR and not f.converged() and not causes:
        return Finding("update_ratio_low", f"Steps too small: update ratio {num(med)}", ev,
                       f"Each step changes the weights by only {num(med)} of their size: at this rate "
                       f"training needs ~{num(HEALTHY_UPDATE_RATIO / med)}x the steps it would at 1e-3.",
                       rm.ranked(rm.lr_change(f.cfg, HEALTHY_UPDATE_RATIO / med, "brings the ratio near 1e-3"),
                               rm.adam(f.cfg, "steps of ~lr per weight, whatever the gradient's size")),
                       "Learning-rate decay makes the steps smaller still.")
    return None


_RULES = (_diverged, _exploding, _dead, _saturated, _vanishing, _clipping, _update_ratio)
CAUSES = ("exploding_growing", "exploding", "dead", "saturated", "vanishing")


def _chance(f: _Facts, found: list[Finding]) -> Finding:
    loss, n = f.glob_mean("loss"), len(f.recent)
    if f.task == "classify":
        k = f.k_classes
        ev = (f"loss {num(loss, 4)} (mean of the last {n} steps), chance ln {k} = {num(math.log(k), 4)}; "
              f"train accuracy {pct(f.glob_mean('train_acc'), 0)} (chance {pct(1 / k, 0)})")
        mech = (f"A cross-entropy of ln {k} means the net gives every class about 1/{k}: after "
                f"{f.snap.step} steps it has learnt almost nothing it can use.")
    else:  # the targets are standardised: predicting their mean is the regression's chance level
        ev = f"loss {num(loss, 4)} (mean squared error of the last {n} steps), chance {num(REGRESSION_CHANCE_LOSS)}"
        mech = (f"A mean squared error of {num(REGRESSION_CHANCE_LOSS)}, the variance of the standardised "
                f"targets, means the net predicts about their mean after {f.snap.step} steps.")
    cause = next((x for x in found if x.regime in CAUSES), None)
    if cause is not None:
        mech += f" It is a consequence of the {cause.regime} finding: the same remedies apply."
        rem, nope = cause.remedies, ""
    else:
        rem = rm.ranked(rm.lr_change(f.cfg, 2.0, "larger steps, if the update ratio is small"),
                      rm.adam(f.cfg, "per-weight step sizes"))
        nope = ""
    return Finding("chance", f"Stuck at chance after {f.snap.step} steps", ev, mech, rem, nope)


def _healthy(f: _Facts) -> Finding:
    g = f.row["grad_norm"]
    g = g[np.isfinite(g) & (g > 0)]
    spread = f"{num(g.max() / g.min())}x" if len(g) else "nan"
    acc = f"; train accuracy {pct(f.glob_mean('train_acc'), 0)}" if f.task == "classify" else ""
    ev = f"gradient norms {_range(g)} (largest/smallest {spread}); loss {num(f.glob_mean('loss'), 3)}{acc}"
    return Finding("healthy", "Healthy: gradients balanced across the layers", ev,
                   "No layer is vanishing, exploding, dead or saturated by the regime rule, and the "
                   "steps are a sensible size.")


# ------------------------------------------------------------------------------ text
def format_findings(findings, width: int = 80, top: int = 3) -> str:
    """The findings as text for a terminal of ``width`` columns (the headless summary's
    ``diagnosis:`` section): title, evidence, mechanism, the ``top`` remedies with their keys."""
    import textwrap

    def para(label: str, text: str, indent: str = "    ") -> list[str]:
        return textwrap.wrap(text, width, initial_indent=f"{indent}{label}",
                             subsequent_indent=indent + "  ", break_on_hyphens=False) if text else []

    lines, shown = ["diagnosis:"], []
    for x in findings:
        lines += textwrap.wrap(x.title, width, initial_indent="  * ", subsequent_indent="    ")
        lines += para("evidence: ", x.evidence) + para("why: ", x.mechanism)
        if x.remedies in shown:  # (chance: its cause's remedies, already listed)
            continue
        shown.append(x.remedies)
        for j, r in enumerate(x.remedies[:top]):
            lines += para(f"{'try' if j == 0 else 'or'} [{r.key}] ", f"{r.action}: {r.why}")
        lines += para("does not help: ", x.not_helping)
    return "\n".join(lines)
