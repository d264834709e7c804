"""The one regime rule: the state of each layer's gradient, from a snapshot's statistics.

Every view (gradient rows, depth profile) and any consumer of an export uses :func:`classify`
(or :func:`of_snapshot`, which a :class:`gradtui.stats.Snapshot` caches as ``snap.regimes``), so
one layer has one regime everywhere. Numeric side: no textual or rich here.

For a layer with gradient norm ``g`` (this step), ``gmax`` = the largest finite ``g`` of the
network, ``g0`` = its norm at the oldest step of the window, ``dead``/``saturated`` = its
statistics of the same names, the first rule that holds wins:

=========== ==========================================================================================
``nan``       g is NaN or inf: the run diverged.
``dead``      >= 50% of its units have f' = 0 on the whole batch (dead ReLUs), or g is exactly 0
              while some layer is that dead (no gradient gets through the dead units).
``exploding`` g > 1e2, or g > 1 after growing more than 100x over the window (g / g0 > 100).
``saturated`` >= 50% of its (sample, unit) pairs sit in a flat tail, |f'| < 1% of the largest f'
              (sigmoid, tanh): the gradient through them is cut to almost nothing.
``vanishing`` g < 1e-7, or g < 1e-3 * gmax: this layer learns 1000x slower than the fastest.
``ok``        everything else.
=========== ==========================================================================================

Why this order: NaN/inf makes every other number meaningless. Dead units stay dead whatever the
gradient does next (a huge gradient can be clipped, a dead unit does not come back), and in a dead
layer the gradient norm no longer describes the layer. Exploding comes before saturated and
vanishing because it is the urgent one (the next steps can diverge). Saturation is the *cause* of
the vanishing gradient below a saturated layer, so it is named before the symptom.
"""

from __future__ import annotations

import numpy as np

NAN, DEAD, EXPLODING, SATURATED, VANISHING, OK = "nan", "dead", "exploding", "saturated", "vanishing", "ok"
PRECEDENCE = (NAN, DEAD, EXPLODING, SATURATED, VANISHING, OK)  # the first that applies wins

VANISH_ABS, VANISH_REL = 1e-7, 1e-3
EXPLODE_ABS, EXPLODE_GROWTH, EXPLODE_GROWN_MIN = 1e2, 1e2, 1.0
DEAD_FRAC = 0.5
SATURATED_FRAC = 0.5

# One line per regime, for the help screen and the README (the thresholds come from above).
RULES = {
    NAN: "not a finite number: the run diverged (the last finite value stays on screen as 'last …')",
    DEAD: f">= {DEAD_FRAC:.0%} of the layer's units have f' = 0 on the whole batch (dead ReLUs), "
          "or its gradient is exactly 0 while a layer is that dead",
    EXPLODING: f"g > {EXPLODE_ABS:g}, or g > {EXPLODE_GROWN_MIN:g} after growing more than "
               f"{EXPLODE_GROWTH:g}x over the visible window",
    SATURATED: f">= {SATURATED_FRAC:.0%} of (sample, unit) in a flat tail, |f'| < 1% of max f' "
               "(sigmoid, tanh): the gradient through them is almost cut",
    VANISHING: f"g < {VANISH_ABS:g}, or g < {VANISH_REL:g} x gmax (this layer learns 1000x slower "
               "than the fastest)",
    OK: "everything else",
}


def classify(grad, first=None, saturated=None, dead=None) -> tuple[str, ...]:
    """Regime of every layer (input side first).

    ``grad``: this step's gradient norms (NaN/inf allowed); ``first``: the norms at the oldest step
    of the window (growth check; None skips it); ``saturated`` / ``dead``: this step's fractions
    (None or NaN counts as 0)."""
    g = np.asarray(grad, np.float64)
    n = g.shape[0]
    fin = np.isfinite(g)
    gmax = float(g[fin].max()) if fin.any() else 0.0
    g0 = np.full(n, np.nan) if first is None else np.asarray(first, np.float64)
    sat = _fractions(saturated, n)
    dead_frac = _fractions(dead, n)
    some_dead = bool((dead_frac >= DEAD_FRAC).any())
    with np.errstate(all="ignore"):
        grew = (g > EXPLODE_GROWN_MIN) & np.isfinite(g0) & (g0 > 0) & (g / g0 > EXPLODE_GROWTH)
    out = []
    for i in range(n):
        if not fin[i]:
            out.append(NAN)
        elif dead_frac[i] >= DEAD_FRAC or (g[i] == 0 and some_dead):
            out.append(DEAD)
        elif g[i] > EXPLODE_ABS or grew[i]:
            out.append(EXPLODING)
        elif sat[i] >= SATURATED_FRAC:
            out.append(SATURATED)
        elif g[i] < VANISH_ABS or g[i] < VANISH_REL * gmax:
            out.append(VANISHING)
        else:
            out.append(OK)
    return tuple(out)


def _fractions(values, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n)
    v = np.asarray(values, np.float64)
    return np.where(np.isfinite(v), v, 0.0)


def of_snapshot(snap) -> tuple[str, ...]:
    """Regime of every layer of a snapshot (duck-typed: anything with ``layer_series`` and
    ``n_layers``, e.g. :class:`gradtui.stats.Snapshot`). Before the first step: all ``ok``.

    After a divergence the newest row is NaN: those layers are ``nan``; a layer still finite is
    judged on its newest values."""
    series = snap.layer_series("grad_norm")
    if len(series) == 0:
        return (OK,) * snap.n_layers
    return classify(series[-1], series[0], snap.layer_series("saturated")[-1], snap.layer_series("dead")[-1])


def of_export_row(row: dict, first: dict | None = None) -> tuple[str, ...]:
    """Regimes from rows of a ``--export`` JSON Lines file (``json.loads`` of a line; ``null`` means
    not finite): ``row`` is the step to judge, ``first`` an older row for the growth check (the
    dashboard uses the oldest of its ~1000-step window)."""
    def col(r, key):
        return [np.nan if layer.get(key) is None else layer[key] for layer in r["layers"]]

    return classify(col(row, "grad_norm"), None if first is None else col(first, "grad_norm"),
                    col(row, "saturated"), col(row, "dead"))


def worst(regimes, groups) -> list[str]:
    """The regime that wins (by :data:`PRECEDENCE`) within each contiguous [start, stop) group."""
    rank = {r: k for k, r in enumerate(PRECEDENCE)}
    return [min(regimes[a:b], key=rank.__getitem__) for a, b in groups]
