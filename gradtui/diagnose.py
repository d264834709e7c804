"""Diagnosis in words: what a snapshot's numbers mean, why, and which key to press.

:func:`diagnose` turns one :class:`gradtui.stats.Snapshot` (and, optionally, the theory's prediction
for its config: anything with ``chi1``, ``phase``, ``modelled`` and ``layers`` of ``name``,
``pred_delta_log10``, ``pred_grad_log10``) into :class:`Finding` s, most important first. Numeric
side: no textual or rich here, and no kernel is called.

Each layer's regime is the one rule of :mod:`gradtui.regimes` (``snap.regimes``, computed once per
snapshot); the thresholds of :mod:`gradtui.evidence` decide only what that rule does not (step
size, chance level, clipping rate). Mechanism numbers come from the snapshot (weight norms give sigma_w) and the
registries (an activation's largest slope), never from a preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradtui import regimes as R
from gradtui import remedies as rm
from gradtui.activations import ACTIVATIONS
from gradtui.evidence import (CLIP_ALWAYS_FRAC, HEALTHY_UPDATE_RATIO, MIN_STEPS, RECENT,
                              REGRESSION_CHANCE_LOSS, UPDATE_RATIO_FAR, Facts, layer_span, per_layer,
                              ratios, value_range)
from gradtui.numfmt import num, pct
from gradtui.remedies import ACT_FOR_INIT, ADAPTIVE, Remedy

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
        f = Facts(snap, prediction)
        found = [x for rule in _RULES if (x := rule(f)) is not None]
        found = [_chance(f, found)] + found if f.at_chance() else found
        if not found:
            found = [_healthy(f)]
    return tuple(sorted(found, key=lambda x: ORDER.index(x.regime)))


CLIP_NO_HELP = "Clipping (c) only caps large gradients, so it does nothing for small ones"
DECAY_NO_HELP = ("L1/L2 penalties and learning-rate decay shrink weights or steps: they do not "
                 "cure it, and + scales every layer alike, so the gap between layers stays.")


# ------------------------------------------------------------------------------ the rules
def _diverged(f: Facts) -> Finding | None:
    if not f.diverged:
        return None
    snap, k = f.snap, f.k
    steps, gn = snap.steps, snap.global_series("grad_norm")
    bad = k + 1 if k is not None and k + 1 < len(steps) else len(steps) - 1
    ev = f"step {int(steps[bad])}: loss {num(snap.global_series('loss')[bad])}, gradient norm {num(gn[bad])}"
    mech = ("The loss or a gradient left floating-point range (typically each step made the weights "
            "larger and the next gradient larger still); that update was skipped, but the weights "
            "before it are blown up, so every step from them diverges again.")
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


def _exploding(f: Facts) -> Finding | None:
    idx = f.where(R.EXPLODING)
    if not idx:
        return None
    g, g0 = f.row["grad_norm"], f.snap.layer_series("grad_norm")[0]
    grew = [i for i in idx if np.isfinite(g0[i]) and g0[i] > 0 and g[i] > R.EXPLODE_GROWN_MIN
            and g[i] / g0[i] > R.EXPLODE_GROWTH]
    span, n = layer_span(f, idx), len(f.snap.steps)
    when = " (before it diverged)" if f.diverged else " (since initialisation)" if f.snap.steps[0] == 0 else ""
    ev = (f"gradient norm {value_range(g[idx])} in {span} (rule: > {R.EXPLODE_ABS:g}, or > "
          f"{R.EXPLODE_GROWN_MIN:g} after growing > {R.EXPLODE_GROWTH:g}x)")
    if grew:
        i = grew[0]
        ev += f"; {f.names[i]} grew from {num(g0[i])} to {num(g[i])} over the last {n} steps"
    per, _ = f.delta_factor()
    ev += "; " + ratios(f) if f.n_hidden > 1 else ""
    mech = per_layer(f) if per > 1 and not f.diverged else ""
    sw = f.sigma_w()
    if f.diverged:
        mech = (f"At step {int(f.snap.steps[0])} the gradient norms were already {value_range(g0)} (init "
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
    title = (f"Gradients growing in {layer_span(f, grew)}: >{R.EXPLODE_GROWTH:g}x in {n} steps" if grew
             else f"Exploding gradients in {span}{when}")
    return Finding("exploding_growing" if grew else "exploding", title, ev.strip(), mech.strip(), rem,
                   "Learning-rate decay comes too late (the first steps already blow up); clip = value "
                   "caps each entry at c, so a big layer's step can still be sqrt(n)*c: the norm modes "
                   "cap the whole step.", tuple(f.names[i] for i in idx))


def _dead(f: Facts) -> Finding | None:
    idx = f.where(R.DEAD)
    if not idx:
        return None
    dead = [i for i in idx if f.row["dead"][i] >= R.DEAD_FRAC]
    zero = [i for i in idx if i not in dead]
    ev = (f"{value_range(100 * f.row['dead'][dead])}% of the units of {layer_span(f, dead)} have f' = 0 on the whole "
          f"batch (rule: >= {pct(R.DEAD_FRAC, 0)})" if dead else "")
    if zero:
        ev += f"{'; ' if dead else ''}{layer_span(f, zero)}: gradient exactly 0, nothing gets through the dead units"
    mech = ("A unit whose pre-activation is negative for every input outputs 0 and passes no gradient "
            "back (f' = 0), so its incoming weights never change again, and the layers below get "
            "nothing through it. Large steps push units there.")
    leaky = "leaky_relu" if f.cfg.activation == "relu" else None
    rem = rm.ranked(
        leaky and rm.cycle(f.cfg, "activation", leaky, "keeps a small slope for z < 0, so "
                                "no unit can die", reset=True),
        rm.lr_change(f.cfg, 0.5, "smaller steps knock fewer units into the dead zone", reset=True),
        rm.matched_init(f.cfg, "re-initialises the weights: every unit starts alive"))
    return Finding("dead", f"Dead units in {layer_span(f, idx)}", ev, mech, rem,
                   "More steps, clipping or Adam do not revive a dead unit: no gradient reaches its "
                   "weights.", tuple(f.names[i] for i in idx))


def _saturated(f: Facts) -> Finding | None:
    idx = f.where(R.SATURATED)
    if not idx:
        return None
    act, sw = f.cfg.activation, f.sigma_w()
    ev = (f"{value_range(100 * f.row['saturated'][idx])}% of (sample, unit) pairs of {layer_span(f, idx)} in "
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
    return Finding("saturated", f"Saturated units in {layer_span(f, idx)}", ev, mech, rem, nope,
                   tuple(f.names[i] for i in idx))


def _vanishing(f: Facts) -> Finding | None:
    idx = f.where(R.VANISHING)
    if not idx:
        return None
    g = f.row["grad_norm"]
    top = int(np.nanargmax(np.where(np.isfinite(g), g, -np.inf)))
    ev = (f"gradient norm {value_range(g[idx])} in {layer_span(f, idx)}; the largest is {f.names[top]}'s "
          f"{num(g[top])} (rule: < {R.VANISH_ABS:g}, or < {R.VANISH_REL:g} x the largest); "
          f"{f.names[0]}/{f.names[-1]} = {num(g[0] / g[-1])}")
    ev += "; " + ratios(f) if f.n_hidden > 1 else ""
    mech = per_layer(f)
    a = f.row["act_std"][: f.n_hidden]
    if len(a) > 1 and a[-1] < R.VANISH_REL * a[0]:
        mech += (f" The forward signal fades as well (activation std {f.names[0]} {num(a[0])} -> "
                 f"{f.names[f.n_hidden - 1]} {num(a[-1])}), so even the last layers get small gradients.")
    if f.cfg.optimizer in ADAPTIVE:
        mech += (f" {f.cfg.optimizer} scales each weight's step by its own gradient size, so these layers "
                 f"still move (update ratio {value_range(f.row['update_ratio'][idx])}).")
    act, sw = f.cfg.activation, f.sigma_w()
    target = ACT_FOR_INIT.get(f.cfg.init, "relu")
    a_rem = None
    if f.act.max_slope < 1 and ACTIVATIONS[target].max_slope >= 1:
        a_rem = rm.cycle(f.cfg, "activation", target,
                              f"{target}'s slope reaches {num(ACTIVATIONS[target].max_slope)} ({act}'s "
                              f"only {num(f.act.max_slope)}), so with {f.cfg.init} the signal keeps its size")
    i_rem = rm.matched_init(f.cfg, f"sets sigma_w so that each {act} layer keeps the signal's size (now {num(sw)})")
    b_rem = rm.toggle(f.cfg, "batchnorm", "normalises every layer's pre-activations, so each works in the slope")
    r_rem = rm.toggle(f.cfg, "residual", "h + f(h) carries the gradient around each layer's small factor")
    o_rem = rm.adam(f.cfg, "per-weight step sizes make tiny gradients count; it treats the symptom, the "
                     "gradients stay small (enough for a moderately deep net)")
    rem = rm.ranked(i_rem, a_rem, b_rem, r_rem, o_rem) if f.act.max_slope >= 1 else \
        rm.ranked(a_rem, b_rem, i_rem, r_rem, o_rem)
    return Finding("vanishing", f"Vanishing gradients in {layer_span(f, idx)}", ev, mech.strip(), rem,
                   f"{CLIP_NO_HELP}. {DECAY_NO_HELP}", tuple(f.names[i] for i in idx))


def _clipping(f: Facts) -> Finding | None:
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


def _update_ratio(f: Facts) -> Finding | None:
    ok = f.where(R.OK)
    if f.diverged or not ok or len(f.snap.steps) < MIN_STEPS:
        return None
    ur = f.snap.layer_series("update_ratio")[-RECENT:, ok]
    means = np.array([float(np.mean(c[np.isfinite(c)])) if np.isfinite(c).any() else np.nan for c in ur.T])
    if not np.isfinite(means).any():
        return None
    med = float(np.nanmedian(means))
    ev = (f"update:weight ratio |dW|/|W| {num(med)} (median over the ok layers {layer_span(f, ok)} of "
          f"the last {len(ur)} steps; per layer {value_range(means)}; healthy ~{HEALTHY_UPDATE_RATIO:g})")
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
CAUSES = ("exploding_growing", "exploding", "dead", "saturated", "vanishing", "update_ratio_low",
          "update_ratio_high", "clipping_always")  # what can keep a net at chance, in that order


def _chance(f: Facts, found: list[Finding]) -> Finding:
    loss, n = f.glob_mean("loss"), len(f.recent)
    if f.task == "classify":
        k = f.k_classes
        ev = (f"loss {num(loss, 4)} (mean of the last {n} steps), test loss {num(f.test_loss(), 4)}, chance "
              f"ln {k} = {num(math.log(k), 4)}; train accuracy {pct(f.glob_mean('train_acc'), 0)} (chance "
              f"{pct(1 / k, 0)})")
        mech = (f"A cross-entropy of ln {k} means the net gives every class about 1/{k}: after "
                f"{f.snap.step} steps it has learnt almost nothing it can use.")
    else:  # the targets are standardised: predicting their mean is the regression's chance level
        ev = (f"loss {num(loss, 4)} (mean squared error of the last {n} steps), test loss "
              f"{num(f.test_loss(), 4)}, chance {num(REGRESSION_CHANCE_LOSS)}")
        mech = (f"A mean squared error of {num(REGRESSION_CHANCE_LOSS)}, the variance of the standardised "
                f"targets, means the net predicts about their mean after {f.snap.step} steps.")
    cause = min((x for x in found if x.regime in CAUSES), key=lambda x: CAUSES.index(x.regime), default=None)
    if cause is not None:
        mech += f" It is a consequence of the {cause.regime} finding: the same remedies apply."
        rem, nope = cause.remedies, ""
    else:
        rem = rm.ranked(rm.adam(f.cfg, "per-weight step sizes, often faster out of a plateau"),
                        rm.lr_change(f.cfg, 2.0, "larger steps"))
        nope = ""
    return Finding("chance", f"Stuck at chance after {f.snap.step} steps", ev, mech, rem, nope)


def _healthy(f: Facts) -> Finding:
    g = f.row["grad_norm"]
    g = g[np.isfinite(g) & (g > 0)]
    spread = f"{num(g.max() / g.min())}x" if len(g) else "nan"
    acc = f"; train accuracy {pct(f.glob_mean('train_acc'), 0)}" if f.task == "classify" else ""
    ur, act = f.row["update_ratio"], f.row["act_std"][: f.n_hidden]
    ev = (f"gradient norms {value_range(g)} (largest/smallest {spread}); update ratio {value_range(ur)}; "
          f"activation std {value_range(act)}; loss {num(f.glob_mean('loss'), 3)}{acc}")
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
            lines += para("try " if j == 0 else "or ", f"{r.action}: {r.why}")
        lines += para("does not help: ", x.not_helping)
    return "\n".join(lines)
