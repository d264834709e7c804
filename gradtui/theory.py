"""Mean-field signal propagation: what theory predicts for a freshly initialised plain MLP.

Poole et al. 2016 (arXiv:1606.05340, the variance map) and Schoenholz et al. 2017 (arXiv:1611.01232,
the backward map, depth scales, the order/chaos phase diagram), in gradtui's conventions
(``../shared/THEORY.md``). Hidden layer l = 1..L: z_l = W_l h_{l-1} + b_l, h_l = f(z_l); per input a::

    q_1 = s_1 q_0 + sb2,  q_0 = |x_a|^2 / N_0        s_l = fan_in * Var(W_l)   (the real fans)
    q_{l+1} = s_{l+1} E[f(sqrt(q_l) z)^2] + sb2      chi_l = s_{l+1} E[f'(sqrt(q_l) z)^2]
    E|delta_l|^2 = prod_{k=l}^{L} chi_k * const      E|dW_l|^2 ~ E|delta_l|^2 * E|h_{l-1}|^2

summed over the data set's inputs (the batch's Frobenius norms sum over samples), as log10 ratios to
the last hidden layer. NumPy/SciPy only: no UI, no kernels. Gaussian expectations use Gauss-Legendre
panels split at the kink (z = 0) and refined geometrically towards it, tabulated once per
activation over q in [1e-24, 1e24] and read through a cubic spline in (ln q, ln E).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq
from scipy.special import logsumexp

from gradtui.config import Config

PHASES = ("ordered", "critical", "chaotic")
CRITICAL_TOL = 1e-3  # |ln chi1| below this: "critical" (a gradient depth scale over 1000 layers)
CHI_EXACT = 1e-9  # chi within this of 1 is 1 (the tables' accuracy)
NOT_MODELLED = "not modelled"
MAX_INPUTS = 2048  # predict() sums over at most this many inputs (a 500-layer net: ~30 MB of arrays)


@dataclass(frozen=True)
class LayerPrediction:
    name: str  # the trainer's layer names (h01 .. hNN, out)
    pred_delta_log10: float  # log10(delta_norm_l / delta_norm_lastHidden); NaN for "out"
    pred_grad_log10: float  # the same for grad_norm
    q: float  # pre-activation variance q_l (mean over the inputs)
    chi: float  # chi_l = s_{l+1} E[f'(sqrt(q_l) z)^2] (mean over the inputs); NaN for "out"


@dataclass(frozen=True)
class Prediction:
    chi1: float  # chi at the fixed point q* of the hidden layers' map
    q_star: float  # 0: the signal dies out; inf: it grows without bound
    phase: str  # "ordered" (gradients vanish) | "critical" | "chaotic" (they explode)
    depth_scale_grad: float  # xi_grad = -1/ln chi1: inf at chi1 = 1, negative when gradients grow
    depth_scale_corr: float  # xi_c of the correlation map (equal to xi_grad in the ordered phase)
    critical_sigma_w: float  # sigma_w at which chi1 = 1 for this activation and bias std (nan: none)
    sigma_w2: float  # the hidden-to-hidden layers' sigma_w^2 (mean of layers 2..L; layer 1 if L = 1)
    sigma_b2: float  # bias_std^2
    modelled: bool  # False for residual / batch-norm networks: the layer predictions are NaN
    note: str
    layers: tuple[LayerPrediction, ...]


# ------------------------------------------------------------------------------- activations
def activation_fns(act: str):
    """``y -> (f(y), f'(y))`` in NumPy for activation ``act``: its registry entry's ``f_df`` (the
    kernels' formulas, held to the same accuracy bounds by the tests)."""
    from gradtui.activations import ACTIVATIONS

    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}")
    return ACTIVATIONS[act].f_df


# ---------------------------------------------------------------------- Gaussian expectations
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
Z_MAX = 12.0  # the standard normal's mass beyond 12 is ~2e-33
# Beyond 1e+-24 every expectation is a pure power of q to 1e-12 (the corrections go like sqrt(q) or
# 1/sqrt(q)), so the tables extrapolate log-log linearly without visible error
Q_MIN, Q_MAX, Q_PER_DECADE = 1e-24, 1e24, 30
_Q_GRID = 10.0 ** (np.arange(-24 * Q_PER_DECADE, 24 * Q_PER_DECADE + 1) / Q_PER_DECADE)
_I_ONE = 24 * Q_PER_DECADE  # _Q_GRID[_I_ONE] == 1.0
Q_HUGE = 1e12  # a fixed point above this is rounding noise on a map that grows without bound: q* = inf


def _half_line_nodes(first: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (standard normal density included) for the integral over z in [0, Z_MAX]:
    12-point Gauss-Legendre on [0, first] and on panels doubling from ``first``."""
    n = max(1, math.ceil(math.log2(Z_MAX / first)))
    edges = np.minimum(np.concatenate(([0.0], first * 2.0 ** np.arange(n + 1))), Z_MAX)
    edges = np.unique(edges)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    z = (mid[:, None] + half[:, None] * _GL_X).ravel()
    w = (half[:, None] * _GL_W).ravel() * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return z, w


def _first_panel(q_max: float) -> float:
    """Small enough that f(sqrt(q) z) is nearly polynomial on [0, first] for every q <= q_max."""
    return min(1e-6, 1e-3 / math.sqrt(max(q_max, 1e-300)))


def gauss_moments(act: str, q) -> tuple[np.ndarray, np.ndarray]:
    """Direct quadrature of (E[f(sqrt(q) z)^2], E[f'(sqrt(q) z)^2]), z ~ N(0, 1), split at z = 0."""
    q = np.atleast_1d(np.asarray(q, np.float64))
    z, w = _half_line_nodes(_first_panel(float(q.max())))
    fd = activation_fns(act)
    u = np.sqrt(q)[:, None] * z[None, :]
    (fp, dp), (fn, dn) = fd(u), fd(-u)
    return (fp * fp + fn * fn) @ w, (dp * dp + dn * dn) @ w


@lru_cache(maxsize=None)
def _table(act: str):
    """(E[f^2] on the grid, E[f'^2] on the grid, spline of ln E[f^2], spline of ln E[f'^2]) in ln q."""
    with np.errstate(all="ignore"):
        e2, d2 = gauss_moments(act, _Q_GRID)
    lnq = np.log(_Q_GRID)
    return e2, d2, CubicSpline(lnq, np.log(e2)), CubicSpline(lnq, np.log(d2))


def _lookup(spline: CubicSpline, q: np.ndarray) -> np.ndarray:
    """exp(spline(ln q)) inside the grid; beyond it, log-log linear from the edge's slope."""
    lnq = np.log(np.clip(q, 1e-300, 1e300))
    lo, hi = spline.x[0], spline.x[-1]
    inside = np.clip(lnq, lo, hi)
    out = spline(inside)
    edge_slope = np.where(lnq < lo, spline(lo, 1), spline(hi, 1))
    return np.exp(out + edge_slope * (lnq - inside))


def warm(acts=None) -> None:
    """Build the expectation tables now (~0.1-0.5 s each under load), e.g. in a worker thread, so that
    the first :func:`predict` for an activation on the UI thread costs only the ~20 ms of a warm one."""
    from gradtui.activations import ACTIVATIONS

    for act in acts or ACTIVATIONS:
        _table(act)
        critical_sigma_w2(act, 0.0)


def moments(act: str, q) -> tuple[np.ndarray, np.ndarray]:
    """(E[f(sqrt(q) z)^2], E[f'(sqrt(q) z)^2]) from the activation's table (fast; ~1e-8 relative)."""
    _, _, s2, sd2 = _table(act)
    q = np.asarray(q, np.float64)
    return _lookup(s2, q), _lookup(sd2, q)


# ------------------------------------------------------------------------------ fixed points
def _fixed_points(act: str, sw2: np.ndarray, sb2: np.ndarray) -> np.ndarray:
    """q* of q -> sw2 E[f^2](q) + sb2 reached from q = 1, for arrays of (sw2, sb2): the nearest
    crossing of the map with the diagonal in the direction it moves; 0 or inf when there is none."""
    e2, _, s2, _ = _table(act)
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, np.float64).ravel(), np.asarray(sb2, np.float64).ravel())
    g = sw2[:, None] * e2[None, :] + sb2[:, None] - _Q_GRID[None, :]
    # a crossing needs g beyond its rounding noise (~1e-16 q): noise alone neither stops the walk
    # towards 0 (tanh at sigma_w = 1: g = -2q^2) nor ends the growth (ELU at sigma_w^2 = 2: g ~ +1)
    noise = 1e-13 * _Q_GRID[None, :]
    sgn = np.where(g > noise, 1, np.where(g < -noise, -1, 0)).astype(np.int8)
    # the map is the identity up to rounding (ReLU at sigma_w^2 = 2, linear at 1, no bias): every q is
    # a fixed point; the signal keeps the input's scale
    identity = (sgn == 0).all(axis=1)
    n, out = len(_Q_GRID), np.empty(len(sw2))
    lo_b, hi_b, todo = np.zeros(len(sw2)), np.zeros(len(sw2)), np.zeros(len(sw2), bool)
    for p in range(len(sw2)):
        s = sgn[p]
        if identity[p] or g[p, _I_ONE] == 0:
            out[p] = 1.0
            continue
        if g[p, _I_ONE] > 0:
            hits = np.flatnonzero(s[_I_ONE + 1:] < 0)
            if not len(hits):
                out[p] = math.inf
                continue
            j = _I_ONE + 1 + hits[0]
            lo_b[p], hi_b[p] = j - 1, j
        else:
            hits = np.flatnonzero(s[:_I_ONE] > 0)
            if not len(hits):
                out[p] = 0.0
                continue
            j = hits[-1]
            lo_b[p], hi_b[p] = j, j + 1
        todo[p] = True
    if todo.any():  # bisection in ln q, vectorised: the map is above the diagonal below a stable q*
        i = np.flatnonzero(todo)
        a, b = np.log(_Q_GRID[lo_b[i].astype(int)]), np.log(_Q_GRID[np.minimum(hi_b[i], n - 1).astype(int)])
        for _ in range(45):  # the bracket is 1/30 decade wide: 45 halvings reach rounding
            m = (a + b) / 2
            above = sw2[i] * np.exp(s2(m)) + sb2[i] - np.exp(m) > 0
            a, b = np.where(above, m, a), np.where(above, b, m)
        out[i] = np.exp((a + b) / 2)
    return np.where(out > Q_HUGE, math.inf, out)


def _chi_at(act: str, sw2, q) -> np.ndarray:
    """sw2 E[f'(sqrt(q) z)^2], with q = 0 read as the limit q -> 0+ (the kink's one-sided slopes)."""
    q = np.where(np.asarray(q) == 0, 1e-300, q)
    return np.asarray(sw2) * moments(act, q)[1]


def fixed_point(act: str, sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """(q*, chi1) of the hidden-layer map with these sigma_w^2 and sigma_b^2."""
    q = float(_fixed_points(act, np.array([sigma_w2]), np.array([sigma_b2]))[0])
    return q, float(_chi_at(act, sigma_w2, q))


def phase_grid(act: str, sw2: np.ndarray, sb2: np.ndarray) -> np.ndarray:
    """chi1 at every point of ``sw2`` and ``sb2`` broadcast together (pass ``sw2[None, :]`` and
    ``sb2[:, None]`` for a (len(sb2), len(sw2)) plane). chi1 < 1: ordered, > 1: chaotic."""
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, np.float64), np.asarray(sb2, np.float64))
    q = _fixed_points(act, sw2.ravel(), sb2.ravel())
    return _chi_at(act, sw2.ravel(), q).reshape(sw2.shape)


@lru_cache(maxsize=256)
def critical_sigma_w2(act: str, sigma_b2: float) -> float:
    """The sigma_w^2 where chi1 first reaches 1 (scanning 1e-2 .. 1e4); NaN when it does not."""
    grid = np.logspace(-2, 4, 241)
    chi = phase_grid(act, grid, np.full_like(grid, sigma_b2))
    hit = np.flatnonzero(chi >= 1.0)
    if not len(hit):
        return math.nan
    k = hit[0]
    if k == 0 or chi[k] == 1.0:
        return float(grid[k]) if chi[k] == 1.0 else math.nan
    f = lambda lsw: fixed_point(act, math.exp(lsw), sigma_b2)[1] - 1.0  # noqa: E731
    return math.exp(brentq(f, math.log(grid[k - 1]), math.log(grid[k]), xtol=1e-12))


# ---------------------------------------------------------------------------- depth scales
_GL8_X, _GL8_W = np.polynomial.legendre.leggauss(8)


def _split_line(kink: np.ndarray, first: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (len(kink), m) and weights (standard normal density included) on the whole line, split at
    each ``kink`` and refined geometrically towards it (8-point Gauss-Legendre panels, |z - kink| <= 24)."""
    n = max(1, math.ceil(math.log2(24.0 / first)))
    edges = np.concatenate(([0.0], first * 2.0 ** np.arange(n + 1)))
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    t = (mid[:, None] + half[:, None] * _GL8_X).ravel()
    wt = (half[:, None] * _GL8_W).ravel()
    z = kink[:, None] + np.concatenate((-t, t))[None, :]
    return z, np.concatenate((wt, wt))[None, :] * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _pair_means(act: str, q: float, c: float) -> tuple[float, float]:
    """(E[f(u1) f(u2)], E[f'(u1) f'(u2)]) for (u1, u2) ~ N(0, q [[1, c], [c, 1]]): u1 = sqrt(q) z1,
    u2 = sqrt(q) (c z1 + r z2); z1 split at u1's kink, z2 at u2's (about 1e-9 relative)."""
    fd = activation_fns(act)
    s, r = math.sqrt(q), math.sqrt(max(0.0, 1.0 - c * c))
    first = min(1e-4, 1e-3 / s)
    z1, w1 = _split_line(np.zeros(1), first)
    z1, w1 = z1[0], w1[0]
    f1, d1 = fd(s * z1)
    if r < 1e-12:
        return float(w1 @ (f1 * f1)), float(w1 @ (d1 * d1))
    z2, w2 = _split_line(-c * z1 / r, min(first, first * r))
    f2, d2 = fd(s * (c * z1[:, None] + r * z2))
    return float(w1 @ (f1 * (w2 * f2).sum(axis=1))), float(w1 @ (d1 * (w2 * d2).sum(axis=1)))


@lru_cache(maxsize=1024)
def depth_scale_corr(act: str, sw2: float, sb2: float, q_star: float, chi1: float) -> float:
    """xi_c = -1/ln chi_c, chi_c the slope of the correlation map at its stable fixed point c*.
    Ordered (and critical) phase: c* = 1 and chi_c = chi1. Chaotic: c* < 1 by root finding; inf when
    q* = inf or c* is within 1e-4 of 1."""
    if chi1 <= 1.0 + CHI_EXACT:
        return _depth_scale(chi1)
    if math.isinf(q_star):  # q grows without bound: the normalised map tends to ReLU's arc-cosine map,
        return math.inf  # whose fixed point c* = 1 is marginal (polynomial, not exponential, approach)
    q = q_star if q_star > 0 else Q_MIN
    q_next = sw2 * float(moments(act, q)[0]) + sb2

    def excess(c):  # c-map(c) - c: positive below the stable c*, negative between it and 1
        return (sw2 * _pair_means(act, q, c)[0] + sb2) / q_next - c

    hi = 1.0 - 1e-4
    e0 = excess(0.0)
    if e0 <= 1e-12:
        c_star = 0.0
    elif excess(hi) >= 0:  # c* within 1e-4 of 1 (ReLU-like maps: c* = 1, marginal): no finite scale
        return math.inf
    else:
        c_star = brentq(excess, 0.0, hi, xtol=1e-7)
    chi_c = sw2 * _pair_means(act, q, c_star)[1] * q / q_next
    return _depth_scale(chi_c)


def _depth_scale(chi: float) -> float:
    """-1/ln chi; inf within the quadrature's error of chi = 1."""
    return math.inf if abs(math.log(chi)) <= CHI_EXACT else -1.0 / math.log(chi)


# ------------------------------------------------------------------------------- the config
def layer_sigma_w2(init: str, fan_in: int, fan_out: int, std: float, gain: float) -> float:
    """sigma_w^2 = fan_in * Var(W) of one layer for gradtui's initialisers (uniform variants have the
    variance of the normal ones)."""
    if init in ("normal", "uniform"):
        return fan_in * std * std
    if init.startswith("xavier"):
        return 2.0 * gain * gain * fan_in / (fan_in + fan_out)
    if init.startswith("he"):
        return 2.0 * gain * gain
    if init.startswith("lecun"):
        return gain * gain
    if init == "orthogonal":
        return gain * gain * fan_in / max(fan_in, fan_out)
    raise ValueError(f"unknown initialiser {init!r}")


def _phase(chi1: float) -> str:
    if chi1 > 0 and abs(math.log(chi1)) < CRITICAL_TOL:
        return "critical"
    return "ordered" if chi1 < 1.0 else "chaotic"


def _inputs(cfg: Config) -> tuple[np.ndarray, int]:
    from gradtui.data import make_dataset

    d = make_dataset(cfg.dataset, cfg.n_samples, cfg.noise, cfg.n_classes, cfg.test_fraction, cfg.seed)
    return d.x_train, d.t_train.shape[1]


def _names(n_hidden: int) -> tuple[str, ...]:
    from gradtui.mlp import layer_names  # (imports numba, calls nothing)

    return layer_names(n_hidden)


def _ratio_log10(log_terms: np.ndarray) -> np.ndarray:
    """Per layer (rows) ½ log10 of sum_a exp(term) over the inputs (columns), relative to the last row."""
    tot = logsumexp(log_terms, axis=1)
    return (tot - tot[-1]) / (2 * math.log(10))


def predict(cfg: Config, x: np.ndarray | None = None) -> Prediction:
    """The prediction for ``cfg``'s network at initialisation, over the inputs ``x`` (n, d_in); None:
    the config's training set (at most :data:`MAX_INPUTS` rows of either, evenly spaced, are used)."""
    n_out = 1  # the output layer's scale multiplies every layer alike: it cancels in the ratios
    if x is None:
        x, n_out = _inputs(cfg)
    x = np.asarray(x, np.float64)
    if len(x) > MAX_INPUTS:  # evenly spaced rows: the sums' estimate, at bounded time and memory
        x = x[np.linspace(0, len(x) - 1, MAX_INPUTS).astype(np.int64)]
    sizes = (x.shape[1], *cfg.hidden_sizes, n_out)
    L = len(sizes) - 2
    sw2 = np.array([layer_sigma_w2(cfg.init, sizes[l], sizes[l + 1], cfg.init_std, cfg.init_gain)
                    for l in range(L + 1)])
    sb2 = cfg.bias_std ** 2
    act = cfg.activation
    with np.errstate(all="ignore"):
        h0 = np.einsum("ij,ij->i", x, x)
        q = np.empty((L + 1, len(x)))  # q[l-1] = q_l, l = 1..L+1
        log_h = np.empty((L + 1, len(x)))  # log E|h_k|^2, k = 0..L
        log_chi = np.empty((L, len(x)))  # log chi_l, l = 1..L (chi_L uses the output layer's scale)
        log_h[0] = np.log(h0)
        q[0] = sw2[0] * h0 / sizes[0] + sb2
        for l in range(1, L + 1):
            e2, d2 = moments(act, q[l - 1])
            log_h[l] = math.log(sizes[l]) + np.log(e2)
            log_chi[l - 1] = math.log(sw2[l]) + np.log(d2)
            q[l] = sw2[l] * e2 + sb2
        log_d = np.cumsum(log_chi[::-1], axis=0)[::-1]  # log prod_{k=l}^{L} chi_k, rows l = 1..L
        r_delta = _ratio_log10(log_d)
        r_grad = _ratio_log10(log_d + log_h[:L])
        chi_mean = np.exp(log_chi).mean(axis=1)
        q_mean = q.mean(axis=1)
    sw2_eff = float(sw2[1:L].mean()) if L >= 2 else float(sw2[0])
    q_star, chi1 = fixed_point(act, sw2_eff, sb2)
    modelled = not (cfg.residual or cfg.batchnorm)
    note = "mean-field theory of the plain MLP at initialisation"
    if not modelled:
        what = " and ".join(w for w, on in (("residual connections", cfg.residual),
                                             ("batch norm", cfg.batchnorm)) if on)
        note = (f"{NOT_MODELLED}: {what} are outside the plain-MLP theory; chi1, q* and the phase are those "
                f"of the same network without them")
        r_delta = r_grad = np.full(L, math.nan)
    names = _names(L)
    layers = [LayerPrediction(names[l], float(r_delta[l]), float(r_grad[l]), float(q_mean[l]), float(chi_mean[l]))
              for l in range(L)]
    layers.append(LayerPrediction(names[L], math.nan, math.nan, float(q_mean[L]), math.nan))
    crit = critical_sigma_w2(act, sb2)
    return Prediction(
        chi1=chi1, q_star=q_star, phase=_phase(chi1),
        depth_scale_grad=_depth_scale(chi1),
        depth_scale_corr=depth_scale_corr(act, sw2_eff, sb2, q_star, chi1),
        critical_sigma_w=math.sqrt(crit) if crit == crit else math.nan,
        sigma_w2=sw2_eff, sigma_b2=sb2, modelled=modelled, note=note, layers=tuple(layers))
