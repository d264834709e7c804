"""Every Numba kernel of gradtui, in one module.

One module on purpose: numba's on-disk cache hashes only the caller's own source file, so a kernel
calling an njit function from another file can keep a stale copy of it.

Design
------
* All parameters live in one flat array ``theta`` (and ``grad``, ``m1``, ``m2`` alongside it).
  Layer ``l`` owns ``theta[geo[l, G_POFF]:geo[l, G_PEND]]``: ``W (fan_in, fan_out)`` row-major, then
  ``b (fan_out)``, then for hidden layers ``gamma, beta (fan_out)`` of batch norm (always allocated,
  so toggling batch norm never reallocates).
* Per-unit activations live in ``work`` (``work_shape``): layer ``l``'s block of row ``r`` is
  ``work[r, nb*u : nb*(u+fan_out)]`` viewed as ``(nb, fan_out)``, ``u`` = units of the layers below.
  Backward needs dL/da of one layer at a time: ``work[W_GA]`` holds two ping-pong blocks of
  ``nb * max_width`` (they stay in cache), and Wᵀ copies go to the start of ``work[W_Z]``.
* Activation, optimiser, clipping, residual and batch norm are selected by named ids in ``icfg``
  (``A_*``, ``OPT_*``, ``CLIP_*``; the registries name them, an unknown id raises); hyper-parameters
  and the activation's saturation threshold sit in ``fcfg``. Changing any of them never recompiles.
* Arguments travel grouped in named tuples of arrays (``Net``, ``Bufs``, ``Data``, ``Ring``); a
  phase of a step leaves later phases its per-layer sums in ``Bufs.sums``, never in a statistic.
* ``train_chunk`` runs K steps in one call (no GIL held) and writes every step's statistics into
  preallocated ring buffers.  Statistics are accumulated in float64 even for a float32 network.

Forward, hidden layer l (input h, output a; ``@`` is ``np.dot``)::

    z  = h @ W + b                       # (nb, fo), work[W_A] (work[W_Z] with batch norm)
    xh = (z - mean_batch) / sqrt(var_batch + eps)    # batch norm   work[W_XH]
    y  = gamma * xh + beta  (or y = z without BN)
    a  = f(y) (+ h if residual and fan_in == fan_out) # work[W_A], f'(y) in work[W_D]

After the GEMM, one sweep over row blocks of ~_LBLK elements does the bias, the activation, the
residual and the activation statistics (``_act_layer``): each pass after the first finds its block
in cache.

Output layer: ``z = h @ W + b``; softmax + cross-entropy (mean over batch) or MSE (mean over
batch and outputs). Penalties: ``l1 * sum|W| + l2/2 * sum W^2`` over weight matrices.
"""

from __future__ import annotations

import math
import threading
from collections import namedtuple
from contextlib import contextmanager

from gradtui.numba_cache import prepare as _prepare_numba_cache

_prepare_numba_cache(__file__)  # a safe, undamaged NUMBA_CACHE_DIR before numba reads it

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402
from numba.core.dispatcher import Dispatcher  # noqa: E402

# ---------------------------------------------------------------- plain-data selectors and columns
# icfg (int64)
I_ACT, I_OPT, I_CLIP, I_RESID, I_BN, I_TASK, I_EVAL_EVERY, I_STATS, I_SATURATING = range(9)
N_ICFG = 9  # I_STATS = 0 skips the per-layer statistics (the bench measures their cost with it)
TASK_CLASSIFY, TASK_REGRESS = 0, 1
# fcfg (float64). F_SLOPE_THR: |f'| below it counts as saturated (an activation with I_SATURATING;
# both come from its registry entry) or, for the others, as a slope of 0 (dead units)
(F_MOMENTUM, F_BETA1, F_BETA2, F_RHO, F_EPS, F_WD, F_L1, F_L2, F_CLIP, F_BN_EPS, F_BN_MOM,
 F_SLOPE_THR) = range(12)
N_FCFG = 12
# geo (int64, one row per layer)
G_FIN, G_FOUT, G_POFF, G_UOFF, G_PEND = range(5)
N_GEO = 5
# work rows
W_Z, W_XH, W_A, W_D, W_GA = range(5)  # W_D holds f'(y), then (in place) dL/dy in backward
N_WORK = 5


def work_shape(nb: int, sizes) -> tuple[int, int]:
    """Shape of ``work`` for a batch of ``nb`` and layer sizes ``(d_in, h_1, ..., d_out)``: a block
    per unit for the per-layer rows, and at least the two ping-pong blocks that W_GA holds."""
    return N_WORK, nb * max(sum(sizes[1:]), 2 * max(sizes[1:]))


def scratch_shape(nb: int, sizes) -> tuple[int, int]:
    """Shape of the float64 ``scratch``: activate()'s two rows of exponentials (_ABLK each, or a
    layer's block) and, past _ABLK in row 0, three per-column accumulators of the widest layer."""
    return 2, max(nb * max(sizes), _ABLK + 3 * max(sizes))


# per-layer statistics columns (documented in gradtui.stats)
(L_GRAD_NORM, L_GRAD_MEAN_ABS, L_DELTA_NORM, L_WEIGHT_NORM, L_UPDATE_RATIO,
 L_ACT_MEAN, L_ACT_STD, L_SATURATED, L_DEAD) = range(9)
N_LSTATS = 9
# global statistics columns
S_LOSS, S_TRAIN_ACC, S_TEST_ACC, S_TEST_LOSS, S_LR, S_GRAD_NORM, S_CLIPPED, S_STATUS = range(8)
N_GSTATS = 8
STATUS_OK, STATUS_DIVERGED = 0, 1

# Branch ids. The registries (gradtui.activations, gradtui.optimizers) name these constants: an
# entry there is the one place a name users type maps to a branch here. An id outside these ranges
# is an error (_check_ids), never some other branch.
A_SIGMOID, A_TANH, A_RELU, A_LEAKY, A_ELU, A_SELU, A_GELU, A_LINEAR = range(8)
N_ACT = 8
OPT_SGD, OPT_MOMENTUM, OPT_NESTEROV, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADAM, OPT_ADAMW = range(7)
N_OPT = 7
CLIP_NONE, CLIP_VALUE, CLIP_LAYER_NORM, CLIP_GLOBAL_NORM = range(4)
N_CLIP = 4
_LEAKY = 0.01
_SELU_L = 1.0507009873554805
_SELU_A = 1.6732632423543772
_GELU_C = 0.7978845608028654  # sqrt(2/pi)

# Per-layer sums one phase of a step leaves for a later one (plain SGD: backward measures |W|^2 and
# |grad W|^2 while they are in cache; the update turns them into its statistics): ``sums``
# (n_layers, N_SUMS) float64
SUM_W2, SUM_G2 = range(2)
N_SUMS = 2
_WT_COPY_MAX = 96 * 96  # largest W (fan_in * fan_out) whose transpose backward copies first

# The kernels' arguments, grouped (numba takes named tuples of arrays and writes through them)
Net = namedtuple("Net", "theta grad m1 m2 delta geo")  # flat parameters, gradient, optimiser state
Bufs = namedtuple("Bufs", "work xb tb bnbuf bnrun scratch sums ebuf escratch")  # preallocated buffers
Data = namedtuple("Data", "x t xte tte eout")  # training and test sets (eout: the test outputs)
Ring = namedtuple("Ring", "step glob layers")  # statistics ring: step numbers, global, per-layer

_OPTS = dict(cache=True, nogil=True, error_model="numpy")
# No 'reassoc' anywhere: a reassociated reduction inlined into a strict caller gave one result when
# freshly compiled and another when the caller was loaded from numba's cache (numba 0.68), which
# broke bit-exact replay. Every sum spells its order out (fixed lanes, per-column accumulators).

# The exp polynomials may use fused multiply-adds ('contract'): rounding changes below 1 ulp.
_EXP = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0 + 1023.0  # 1.5 * 2^52 rounds to an integer; + the exponent bias
_EXP_LO = -746.0  # below, e^v < 2^-1075 rounds to 0
_EXP_SUB = -708.0  # below, 2^k is subnormal: built as 2^(k+54), then scaled by 2^-54
_TWO_M54 = 2.0 ** -54

# Every exponential the activations need is of a non-positive argument (-|y|, -2|y|, min(y, 0),
# -2|u(y)|): nothing overflows, and the tails underflow gradually to the true subnormal.
_GELU_K = 0.044715


@njit(**_EXP)
def _exp_q(x):
    """Cody-Waite reduction of x <= 0, x = k ln2 + r, |r| <= ln2/2: returns q = expm1(r) (degree-13
    Taylor polynomial without its constant term) and 2^k's bits to come (adding _SHIFT leaves
    k + 1023 in the low mantissa bits; below 2^-1022 it is k + 1023 + 54, and 2048 flags it:
    shifted left by 52 that bit lands in the sign). A NaN stays NaN."""
    x = _EXP_LO if x < _EXP_LO else x  # (a NaN compares false and passes through)
    kd = x * _LOG2E + _SHIFT
    k = kd - _SHIFT
    r = x - k * _LN2_HI - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    return p * r, kd + (2102.0 if x < _EXP_SUB else 0.0)  # 2102 = 54 + the flag 2048


@njit(**_EXP)
def _exp_finish(e, em, n, want_em):
    """e[:n] holds q and em[:n] the bits of _exp_q: e = 2^k (1 + q), em = 2^k q + (2^k - 1)."""
    kb = em[:n]
    bits = kb.view(np.int64)
    for i in range(n):
        bits[i] = bits[i] << 52
    if want_em:
        for i in range(n):
            s = kb[i]
            s = abs(s) * (_TWO_M54 if s < 0.0 else 1.0)
            q = e[i]
            e[i] = s * q + s
            em[i] = s * q + (s - 1.0)
    else:
        for i in range(n):
            s = kb[i]
            f = _TWO_M54 if s < 0.0 else 1.0
            s = abs(s)
            e[i] = (s * e[i] + s) * f


@njit(**_EXP)
def exp_neg(v, em, want_em):
    """In place: v[i] (<= 0, float64) becomes exp(v[i]); with ``want_em``, em[i] = expm1(v[i]);
    both within a few ulp and without cancellation (expm1 near 0 is the polynomial itself), and
    results below 2^-1022 underflow gradually (or to 0). ``em``: float64 scratch >= len(v), not
    aliasing ``v``."""
    n = v.shape[0]
    for i in range(n):
        v[i], em[i] = _exp_q(v[i])
    _exp_finish(v, em, n, want_em)


@njit(**_EXP)
def exp_nabs(x, scale, e, em, want_em):
    """e[i] = exp(-scale |x[i]|) (and em[i] its expm1) as exp_neg, reading ``x`` directly (any
    float dtype): no pass to write the exponents first."""
    n = x.shape[0]
    for i in range(n):
        e[i], em[i] = _exp_q(-scale * abs(np.float64(x[i])))
    _exp_finish(e, em, n, want_em)


# float32 twin for the float32 sigmoid: exp(-|x|), cephes expf minimax polynomial, 2^k from an
# int32 view (below 2^-126 as 2^(k+24), flagged by bit 8, scaled by 2^-24); < 1 ulp when normal
_F = np.float32
_L2E_F, _SHIFT_F = _F(1.4426950408889634), _F(12582912.0 + 127.0)
_LN2_HI_F, _LN2_LO_F = _F(0.693359375), _F(-2.12194440e-4)
_E5, _E4, _E3 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_E2, _E1, _E0 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_LO_F, _SUB_F, _ONE_F = _F(-104.0), _F(-87.0), _F(1.0)
_TWO_M24_F, _ADJ_F, _ZERO_F = _F(2.0 ** -24), _F(24.0 + 256.0), _F(0.0)


@njit(**_EXP)
def exp_neg32(x, out, kb):
    """out[i] = exp(-|x[i]|) for float32 ``x``/``out``/``kb`` (kb: scratch)."""
    n = x.shape[0]
    for i in range(n):
        v = -abs(x[i])
        v = _LO_F if v < _LO_F else v
        kd = v * _L2E_F + _SHIFT_F
        k = kd - _SHIFT_F
        r = v - k * _LN2_HI_F - k * _LN2_LO_F
        p = _E5
        p = p * r + _E4
        p = p * r + _E3
        p = p * r + _E2
        p = p * r + _E1
        p = p * r + _E0
        kb[i] = kd + (_ADJ_F if v < _SUB_F else _ZERO_F)
        out[i] = p * r * r + r + _ONE_F
    bits = kb[:n].view(np.int32)
    for i in range(n):
        bits[i] = bits[i] << 23
    for i in range(n):
        s = kb[i]
        f = _TWO_M24_F if s < _ZERO_F else _ONE_F
        out[i] = (out[i] * abs(s)) * f


# ------------------------------------------------------------------------------ reductions
# Strict float64 sums in a fixed order (lanes by index mod 4). np.float64(x), not float(x):
# inside numba float() of a float32 stays float32, and its squares underflow and overflow.
@njit(**_OPTS)
def _sum_sq(x):
    n = x.shape[0]
    m = n - n % 4
    s0 = s1 = s2 = s3 = 0.0
    for i in range(0, m, 4):
        v0 = np.float64(x[i])
        v1 = np.float64(x[i + 1])
        v2 = np.float64(x[i + 2])
        v3 = np.float64(x[i + 3])
        s0 += v0 * v0
        s1 += v1 * v1
        s2 += v2 * v2
        s3 += v3 * v3
    for i in range(m, n):
        v = np.float64(x[i])
        s0 += v * v
    return (s0 + s1) + (s2 + s3)


@njit(**_OPTS)
def _norm(x, sq):
    """The L2 norm of ``x`` whose sum of squares is ``sq``: sqrt(sq), or, where the squares
    overflowed float64 (a norm past ~1e154) though every entry is finite, m * |x / m| with
    m = max |x| (a rare second pass). Non-finite only if an entry is."""
    if sq < math.inf:
        return math.sqrt(sq)
    m = 0.0
    for i in range(x.shape[0]):
        m = max(m, abs(np.float64(x[i])))
    if not m < math.inf:
        return m
    s = 0.0
    for i in range(x.shape[0]):
        v = np.float64(x[i]) / m
        s += v * v
    return m * math.sqrt(s)


# ------------------------------------------------------------------------------- activations
_ABLK = 512  # activate() works in blocks: exp's scratch (2 x 4 KB) stays in L1 between its passes
_LBLK = 4096  # _act_layer's row blocks (elements): big enough that slicing costs nothing


@njit(**_OPTS)
def activate(y, a, d, act, scratch):
    """a = f(y), d = f'(y), elementwise over 1-D arrays (``a`` may be ``y``).
    ``scratch``: float64 (2, >= min(len(y), _ABLK)) work space."""
    if a is not y:
        a[:] = y
    activate_inplace(a, d, act, scratch)


@njit(**_OPTS)
def activate_inplace(a, d, act, scratch):
    """a = f(a), d = f'(a) in place. In place on purpose: a loop that reads y and writes an ``a``
    that is the same memory fails LLVM's runtime overlap check and runs scalar (3x slower)."""
    n = a.shape[0]
    for s in range(0, n, _ABLK):
        e = min(s + _ABLK, n)
        _activate_block(a[s:e], d[s:e], act, scratch)


@njit(**_OPTS)
def _activate_block(a, d, act, scratch):
    """In place over ``a``. Every exponential is of a non-positive argument (no overflow, exact
    tails) and every difference that would cancel near 0 comes from expm1: relative accuracy at
    every scale."""
    n = a.shape[0]
    y = a  # the input, read at index i before a[i] is written
    if act == A_SIGMOID and a.itemsize == 4:  # float32 arithmetic throughout
        e32 = scratch[0].view(np.float32)[:n]
        exp_neg32(y, e32, scratch[1].view(np.float32))
        for i in range(n):
            z = y[i]
            e = e32[i]  # e^-|z|
            r = _ONE_F / (_ONE_F + e)
            a[i] = r if z >= 0 else e * r
            d[i] = (e * r) * r
    elif act == A_SIGMOID:  # s = 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below
        e = scratch[0, :n]
        exp_nabs(y, 1.0, e, scratch[1], False)
        for i in range(n):
            z = y[i]
            r = 1.0 / (1.0 + e[i])
            a[i] = r if z >= 0 else e[i] * r
            d[i] = (e[i] * r) * r
    elif act == A_TANH:  # tanh|z| = -m / (2 + m), m = expm1(-2|z|) = E - 1; tanh' = 4E / (1 + E)^2
        e = scratch[0, :n]
        em = scratch[1, :n]
        exp_nabs(y, 2.0, e, em, True)
        for i in range(n):
            z = y[i]
            w = 1.0 / (1.0 + e[i])  # 1 + E = 2 + m: one division serves both
            t = -em[i] * w
            a[i] = t if z >= 0 else -t
            d[i] = (4.0 * e[i]) * w * w
    elif act == A_RELU:  # (an explicit 0: slope 0 times -inf would be NaN)
        for i in range(n):
            z = y[i]
            if z > 0:
                a[i] = z
                d[i] = 1.0
            else:
                a[i] = 0.0
                d[i] = 0.0
    elif act == A_LEAKY:
        for i in range(n):
            z = y[i]
            if z > 0:
                a[i] = z
                d[i] = 1.0
            else:
                a[i] = _LEAKY * z
                d[i] = _LEAKY
    elif act == A_ELU or act == A_SELU:  # lam * (z if z > 0 else alpha * expm1(z))
        lam = 1.0 if act == A_ELU else _SELU_L
        la = 1.0 if act == A_ELU else _SELU_L * _SELU_A
        e = scratch[0, :n]
        em = scratch[1, :n]
        for i in range(n):
            e[i] = min(np.float64(y[i]), 0.0)
        exp_neg(e, em, True)
        for i in range(n):
            z = y[i]
            if z > 0:
                a[i] = lam * z
                d[i] = lam
            else:
                a[i] = la * em[i]
                d[i] = la * e[i]
    elif act == A_GELU:  # tanh approximation: 0.5 z (1 + tanh u), u = c (z + 0.044715 z^3)
        e = scratch[0, :n]
        for i in range(n):
            z = np.float64(y[i])
            e[i] = -2.0 * abs(_GELU_C * (z + _GELU_K * z * z * z))  # e^-2|u|; u has z's sign
        exp_neg(e, scratch[1], False)
        for i in range(n):
            z = y[i]
            w = 1.0 / (1.0 + e[i])
            big = 2.0 * w  # 1 + tanh|u|
            small = 2.0 * e[i] * w  # 1 - tanh|u|, exact in the tail
            op = big if z >= 0 else small  # 1 + tanh u
            om = small if z >= 0 else big  # 1 - tanh u
            zc = min(max(z, -1e3), 1e3)  # beyond, op * om underflows to 0: keep z^2 finite
            a[i] = 0.5 * z * op
            d[i] = 0.5 * op + 0.5 * zc * (op * om) * _GELU_C * (1.0 + 3.0 * _GELU_K * zc * zc)
    elif act == A_LINEAR:
        for i in range(n):
            a[i] = y[i]
            d[i] = 1.0
    else:  # an unknown id is an error, not some activation
        for i in range(n):
            a[i] = np.nan
            d[i] = np.nan


# ----------------------------------------------------------------------------- layer helpers
@njit(**_OPTS)
def _block(row, nb, u, fo):
    """Layer block of a work row as a flat (nb * fo,) view."""
    return row[nb * u: nb * (u + fo)]


@njit(**_OPTS)
def _transpose(w, wt):
    """wt = w.T."""
    fi, fo = w.shape
    for i in range(fi):
        for j in range(fo):
            wt[j, i] = w[i, j]


@njit(**_OPTS)
def _ga_block(work, nb, gstride, l, fo):
    """dL/da of hidden layer ``l`` as a flat (nb * fo,) view: ping-pong blocks in work[W_GA]."""
    o = (l % 2) * gstride
    return work[W_GA, o: o + nb * fo]


@njit(**_OPTS)
def _acc(scratch, k, fo):
    """``k`` float64 per-column accumulators (k, fo), zeroed, past activate()'s part of scratch."""
    acc = scratch[0, _ABLK: _ABLK + k * fo].reshape(k, fo)
    acc[:, :] = 0.0
    return acc


@njit(**_OPTS)
def _sum_rows(acc, r):
    """Sum of acc[r, :], in order."""
    s = 0.0
    for j in range(acc.shape[1]):
        s += acc[r, j]
    return s


@njit(**_OPTS)
def _norms2(x, acc, want_abs):
    """(|x|^2, sum |x|) of a 2-D array in float64, one pass: per-column accumulators (they
    vectorise across columns with the order of every sum fixed; rows four at a time, summed in a
    fixed order before they reach the accumulator), then the columns in order."""
    rows, fo = x.shape
    m = rows - rows % 4
    for i in range(0, m, 4):
        for j in range(fo):
            v0 = np.float64(x[i, j])
            v1 = np.float64(x[i + 1, j])
            v2 = np.float64(x[i + 2, j])
            v3 = np.float64(x[i + 3, j])
            acc[0, j] += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
            if want_abs:
                acc[1, j] += (abs(v0) + abs(v1)) + (abs(v2) + abs(v3))
    for i in range(m, rows):
        for j in range(fo):
            v = np.float64(x[i, j])
            acc[0, j] += v * v
            if want_abs:
                acc[1, j] += abs(v)
    return _sum_rows(acc, 0), (_sum_rows(acc, 1) if want_abs else 0.0)


@njit(**_OPTS)
def _act_col_stats(ab, db, thr, k, acc):
    """Per-column float64 sums of a block (rows, fo) of activations ``ab`` and slopes ``db``:
    acc[0] += a - k, acc[1] += (a - k)^2 (``k``, a shift near the data, keeps a tiny std from
    cancelling against a large mean), acc[2] += (|f'| < thr). Rows four at a time, added in a
    fixed order before they reach the accumulators."""
    rows, fo = ab.shape
    m = rows - rows % 4
    for i in range(0, m, 4):
        for j in range(fo):
            v0 = np.float64(ab[i, j]) - k
            v1 = np.float64(ab[i + 1, j]) - k
            v2 = np.float64(ab[i + 2, j]) - k
            v3 = np.float64(ab[i + 3, j]) - k
            acc[0, j] += (v0 + v1) + (v2 + v3)
            acc[1, j] += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)
            c01 = (1.0 if abs(db[i, j]) < thr else 0.0) + (1.0 if abs(db[i + 1, j]) < thr else 0.0)
            c23 = (1.0 if abs(db[i + 2, j]) < thr else 0.0) + (1.0 if abs(db[i + 3, j]) < thr else 0.0)
            acc[2, j] += c01 + c23
    for i in range(m, rows):
        for j in range(fo):
            v = np.float64(ab[i, j]) - k
            acc[0, j] += v
            acc[1, j] += v * v
            acc[2, j] += 1.0 if abs(db[i, j]) < thr else 0.0


@njit(**_OPTS)
def _dead_units(d2, small):
    """Units with f' = 0 on every row of ``d2`` (nb, fo); only columns whose count of small
    |f'| (``small``) covers every row can be dead, and only those are read (strided)."""
    nb, fo = d2.shape
    dead = 0
    for j in range(fo):
        if small[j] == nb:
            zero = True
            for i in range(nb):
                if d2[i, j] != 0:
                    zero = False
                    break
            dead += zero
    return dead


@njit(**_OPTS)
def _write_act_stats(acc, k, nb, saturating, lrow):
    """Mean/std of a layer's output and its saturated fraction, from _act_col_stats' sums, into
    the layer's statistics row."""
    fo = acc.shape[1]
    n = nb * fo
    mu = _sum_rows(acc, 0) / n
    lrow[L_ACT_MEAN] = k + mu
    lrow[L_ACT_STD] = math.sqrt(max(_sum_rows(acc, 1) / n - mu * mu, 0.0))
    lrow[L_SATURATED] = _sum_rows(acc, 2) / n if saturating else 0.0


@njit(**_OPTS)
def _shift(x):
    """A finite value of the data to subtract before summing squares (0 if x[0] is not finite)."""
    k = np.float64(x[0])
    return k if math.isfinite(k) else 0.0


@njit(**_OPTS)
def _act_layer(af, df, b, h, icfg, fcfg, add_bias, resid, scratch, lrow):
    """One hidden layer after its GEMM, in place in ``af`` (flat, batch x ``b.shape[0]`` units), in
    one sweep over row blocks of about _LBLK elements: ``a = f(a + b) (+ h if resid)``
    (``add_bias``; batch norm's output comes without), ``d = f'``, and (``icfg[I_STATS]``) the
    layer's activation statistics into ``lrow``: mean/std of ``a``, saturated and dead fractions,
    summed per column in float64 while the block is in cache.
    (Slices, not index offsets, inside: numba can vectorise only indices it knows are >= 0.)"""
    nb = h.shape[0]
    fo = b.shape[0]
    act = icfg[I_ACT]
    stats = icfg[I_STATS] != 0
    a2 = af.reshape(nb, fo)
    d2 = df.reshape(nb, fo)
    saturating = icfg[I_SATURATING] != 0
    # |f'| < thr counts saturated entries, or for the others near-zero slopes: a dead unit
    # (f' = 0 on the whole batch) has nothing but small slopes in its column
    thr = fcfg[F_SLOPE_THR]
    acc = _acc(scratch, 3, fo)
    k = 0.0
    rows = max(1, _LBLK // fo)
    for r0 in range(0, nb, rows):
        r1 = min(r0 + rows, nb)
        ab = a2[r0:r1]
        if add_bias:
            for i in range(r1 - r0):
                for j in range(fo):
                    ab[i, j] += b[j]
        blk = af[r0 * fo: r1 * fo]
        activate_inplace(blk, df[r0 * fo: r1 * fo], act, scratch)
        if resid:
            hb = h[r0:r1]
            for i in range(r1 - r0):
                for j in range(fo):
                    ab[i, j] += hb[i, j]
        if stats:
            if r0 == 0:
                k = _shift(af)
            _act_col_stats(ab, d2[r0:r1], thr, k, acc)
    if stats:
        _write_act_stats(acc, k, nb, saturating, lrow)
        lrow[L_DEAD] = _dead_units(d2, acc[2]) / fo


@njit(**_OPTS)
def _colsum_sq(gzf, gb, scratch, nb, fo, want_norm):
    """gb = column sums of gz (the bias gradient) and |gz|^2 in float64 when ``want_norm`` (per
    column in a float64 accumulator in ``scratch``, then the columns in order), in one pass."""
    acc = _acc(scratch, 1, fo)
    gz = gzf.reshape(nb, fo)
    for j in range(fo):
        gb[j] = 0.0
    if not want_norm:
        for i in range(nb):
            for j in range(fo):
                gb[j] += gz[i, j]
        return 0.0
    for i in range(nb):
        for j in range(fo):
            v = gz[i, j]
            gb[j] += v
            w = np.float64(v)
            acc[0, j] += w * w
    return _sum_rows(acc, 0)


@njit(**_OPTS)
def _gate_grad(gaf, gzf, gb, scratch, nb, fo, want_norm):
    """In place: ``gz`` holds f'(y) on entry and dL/dy = ga * f' on exit; gb = its column sums,
    and |dL/dy|^2 in float64 when ``want_norm`` (as in _colsum_sq); one pass."""
    acc = _acc(scratch, 1, fo)
    ga = gaf.reshape(nb, fo)
    gz = gzf.reshape(nb, fo)
    for j in range(fo):
        gb[j] = 0.0
    if not want_norm:
        for i in range(nb):
            for j in range(fo):
                v = ga[i, j] * gz[i, j]
                gz[i, j] = v
                gb[j] += v
        return 0.0
    for i in range(nb):
        for j in range(fo):
            v = ga[i, j] * gz[i, j]
            gz[i, j] = v
            gb[j] += v
            w = np.float64(v)
            acc[0, j] += w * w
    return _sum_rows(acc, 0)


@njit(**_OPTS)
def _bn_train(z, xh, y, gamma, beta, cur, run, fcfg, update_running):
    """Batch norm in training mode on (nb, fo) blocks; keeps batch mean and 1/std per unit in
    ``cur (2, fo)`` and updates the running mean and variance ``run (2, fo)``."""
    nb, fo = z.shape
    mean, invstd = cur[0], cur[1]
    run_mean, run_var = run[0], run[1]
    eps = fcfg[F_BN_EPS]
    mom = fcfg[F_BN_MOM]
    for j in range(fo):
        mean[j] = 0.0
        invstd[j] = 0.0
    for i in range(nb):
        for j in range(fo):
            mean[j] += z[i, j]
    for j in range(fo):
        mean[j] /= nb
    for i in range(nb):
        for j in range(fo):
            c = z[i, j] - mean[j]
            invstd[j] += c * c
    for j in range(fo):
        var = invstd[j] / nb
        invstd[j] = 1.0 / math.sqrt(var + eps)
        if update_running:
            run_mean[j] = (1.0 - mom) * run_mean[j] + mom * mean[j]
            unbiased = var * nb / (nb - 1) if nb > 1 else var
            run_var[j] = (1.0 - mom) * run_var[j] + mom * unbiased
    for i in range(nb):
        for j in range(fo):
            x = (z[i, j] - mean[j]) * invstd[j]
            xh[i, j] = x
            y[i, j] = gamma[j] * x + beta[j]


@njit(**_OPTS)
def _layer_params(theta, geo, l):
    fi = geo[l, G_FIN]
    fo = geo[l, G_FOUT]
    p = geo[l, G_POFF]
    w = theta[p: p + fi * fo].reshape(fi, fo)
    q = p + fi * fo
    return w, theta[q: q + fo], theta[q + fo: q + 2 * fo], theta[q + 2 * fo: q + 3 * fo]


@njit(**_OPTS)
def _linear(h, w, b, z):
    """z = h @ w + b: (nb, fi) @ (fi, fo), then the bias on every row."""
    np.dot(h, w, z)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] += b[j]


# ---------------------------------------------------------------------------------- forward
@njit(**_OPTS)
def forward_train(xb, net, icfg, fcfg, bufs, update_running, lstats):
    """Training-mode forward of a batch ``xb (nb, d_in)``; fills ``bufs.work`` and the activation
    statistics of ``lstats (n_layers, N_LSTATS)``. Returns the logits as an (nb, d_out) view.
    ``bufs.scratch``: float64 of ``scratch_shape`` (exponentials, then per-column accumulators)."""
    theta, geo = net.theta, net.geo
    work, scratch = bufs.work, bufs.scratch
    nb = xb.shape[0]
    n_layers = geo.shape[0]
    use_bn = icfg[I_BN] != 0
    resid = icfg[I_RESID] != 0
    h = xb
    for l in range(n_layers):
        fi = geo[l, G_FIN]
        fo = geo[l, G_FOUT]
        u = geo[l, G_UOFF]
        w, b, gamma, beta = _layer_params(theta, geo, l)
        af = _block(work[W_A], nb, u, fo)
        a = af.reshape(nb, fo)
        if l == n_layers - 1:  # logits: softmax / identity is applied by the loss
            _linear(h, w, b, a)
            if not icfg[I_STATS]:
                return a
            k = _shift(af)
            acc = _acc(scratch, 3, fo)
            _act_col_stats(a, a, 0.0, k, acc)  # mean and std of the logits; no slopes here
            _write_act_stats(acc, k, nb, False, lstats[l])
            lstats[l, L_DEAD] = 0.0
            return a
        df = _block(work[W_D], nb, u, fo)
        res = resid and fi == fo and l > 0
        if use_bn:
            z = _block(work[W_Z], nb, u, fo).reshape(nb, fo)
            _linear(h, w, b, z)
            xh = _block(work[W_XH], nb, u, fo).reshape(nb, fo)
            _bn_train(z, xh, a, gamma, beta, bufs.bnbuf[:, u: u + fo], bufs.bnrun[:, u: u + fo], fcfg,
                      update_running)
        else:
            np.dot(h, w, a)  # z straight into a's block; the sweep below adds b and applies f
        _act_layer(af, df, b, h, icfg, fcfg, not use_bn, res, scratch, lstats[l])
        h = a
    return h  # not reached: the output layer returns above


@njit(**_OPTS)
def loss_and_dlogits(z, t, task, dz):
    """Data loss of logits ``z (nb, C)`` against targets ``t``; writes dL/dz into ``dz``.
    Returns (loss, number of correct predictions); classification: softmax + cross-entropy."""
    nb, c = z.shape
    loss = 0.0
    correct = 0
    if task == TASK_CLASSIFY:
        for i in range(nb):
            mx = z[i, 0]
            am = 0
            for k in range(1, c):
                if z[i, k] > mx:
                    mx = z[i, k]
                    am = k
            s = 0.0
            for k in range(c):
                s += math.exp(z[i, k] - mx)
            lse = math.log(s)
            tm = 0
            for k in range(c):
                logp = z[i, k] - mx - lse
                loss -= t[i, k] * logp
                dz[i, k] = (math.exp(logp) - t[i, k]) / nb
                if t[i, k] > t[i, tm]:
                    tm = k
            if am == tm:
                correct += 1
        return loss / nb, correct
    for i in range(nb):
        for k in range(c):
            e = z[i, k] - t[i, k]
            loss += e * e
            dz[i, k] = 2.0 * e / (nb * c)
    return loss / (nb * c), 0


# --------------------------------------------------------------------------------- backward
@njit(**_OPTS)
def backward(xb, net, icfg, fcfg, bufs, lstats):
    """Back-propagate from ``work[W_D]`` of the output layer (dL/dz, set by ``loss_and_dlogits``).
    Fills ``net.grad`` (data gradient + penalty gradient) and the gradient statistics; returns
    (penalty value, |grad|^2), the latter summed layer by layer while each is in cache (clipping
    and the global norm need it). ``L_GRAD_NORM`` is the data-loss gradient, penalties excluded.
    ``bufs.scratch``: as forward_train's (its float64 per-column accumulators serve every sum
    here); with statistics and plain SGD, ``bufs.sums`` gets each layer's |W|^2 and |grad W|^2."""
    theta, grad, geo = net.theta, net.grad, net.geo
    work, bnbuf, scratch, sums = bufs.work, bufs.bnbuf, bufs.scratch, bufs.sums
    nb = xb.shape[0]
    n_layers = geo.shape[0]
    use_bn = icfg[I_BN] != 0
    resid = icfg[I_RESID] != 0
    l1 = fcfg[F_L1]
    l2 = fcfg[F_L2]
    sgd = icfg[I_OPT] == OPT_SGD
    stats = icfg[I_STATS] != 0
    penalty = 0.0
    gsq = 0.0
    gstride = 0  # ping-pong block size in work[W_GA]
    for l in range(n_layers):
        gstride = max(gstride, nb * geo[l, G_FOUT])
    for l in range(n_layers - 1, -1, -1):
        fi = geo[l, G_FIN]
        fo = geo[l, G_FOUT]
        u = geo[l, G_UOFF]
        p = geo[l, G_POFF]
        w, b, gamma, beta = _layer_params(theta, geo, l)
        gw, gb, ggamma, gbeta = _layer_params(grad, geo, l)
        gzf = _block(work[W_D], nb, u, fo)  # dL/dz overwrites f' in place: one array less to touch
        gz = gzf.reshape(nb, fo)
        if l < n_layers - 1:
            gaf = _ga_block(work, nb, gstride, l, fo)
            dsq = _gate_grad(gaf, gzf, gb, scratch, nb, fo, stats)  # gz = dL/dy, gb = its column sums
            if use_bn:  # y = gamma xh + beta: back through the normalisation to z
                xh = _block(work[W_XH], nb, u, fo).reshape(nb, fo)
                invstd = bnbuf[1, u: u + fo]
                for j in range(fo):
                    ggamma[j] = 0.0
                    gbeta[j] = gb[j]
                for i in range(nb):
                    for j in range(fo):
                        ggamma[j] += gz[i, j] * xh[i, j]
                for i in range(nb):
                    for j in range(fo):
                        gz[i, j] = invstd[j] * gamma[j] * (gz[i, j] - (gbeta[j] + xh[i, j] * ggamma[j]) / nb)
                dsq = _colsum_sq(gzf, gb, scratch, nb, fo, stats)
            else:
                for j in range(fo):
                    ggamma[j] = 0.0
                    gbeta[j] = 0.0
        else:  # output layer: gz was set by the loss
            dsq = _colsum_sq(gzf, gb, scratch, nb, fo, stats)
        if stats:
            lstats[l, L_DELTA_NORM] = _norm(gzf, dsq)
        hin = xb if l == 0 else _block(work[W_A], nb, geo[l - 1, G_UOFF], fi).reshape(nb, fi)
        np.dot(hin.T, gz, gw)  # (fi, nb) @ (nb, fo)
        gwf = grad[p: p + fi * fo]
        wf = theta[p: p + fi * fo]
        # |grad|^2 of W, b (, gamma, beta) after the penalty: the global norm and clipping need
        # it every step; the statistics reuse it when there is no penalty (same bits either way)
        pen = l1 != 0.0 or l2 != 0.0
        if stats and pen:  # the data-loss gradient, before the penalty joins it
            sq, sa = _norms2(gw, _acc(scratch, 2, fo), True)
            lstats[l, L_GRAD_NORM] = _norm(gwf, sq)
            lstats[l, L_GRAD_MEAN_ABS] = sa / gwf.shape[0]
        if pen:
            for k in range(gwf.shape[0]):
                x = np.float64(wf[k])
                penalty += l1 * abs(x) + 0.5 * l2 * x * x
                gwf[k] += l2 * x + (l1 if x > 0 else (-l1 if x < 0 else 0.0))
        wsq, sa = _norms2(gw, _acc(scratch, 2, fo), stats and not pen)
        gsq += wsq + _sum_sq(grad[p + fi * fo: geo[l, G_PEND]])
        if stats and not pen:
            lstats[l, L_GRAD_NORM] = _norm(gwf, wsq)
            lstats[l, L_GRAD_MEAN_ABS] = sa / gwf.shape[0]
        # plain SGD's update statistics need |W|^2 and |dW|^2 = (lr * clip factor)^2 |grad W|^2:
        # both are at hand here, so apply_update need not measure (see its ``measured``)
        if stats and sgd:
            sums[l, SUM_W2] = _norms2(w, _acc(scratch, 2, fo), False)[0]
            sums[l, SUM_G2] = wsq
        if l > 0:
            gap = _ga_block(work, nb, gstride, l - 1, fi).reshape(nb, fi)
            if fi <= nb and fi * fo <= _WT_COPY_MAX:  # small GEMMs with a transposed operand run
                # 20-40% slower: copy W^T first (z is dead in backward; at 128x128 and above the
                # strided copy costs more than it saves: 190 us against 60 us at 256x256 float64)
                wt = work[W_Z, : fi * fo].reshape(fo, fi)
                _transpose(w, wt)
                np.dot(gz, wt, gap)  # (nb, fo) @ (fo, fi)
            else:
                np.dot(gz, w.T, gap)
            if resid and fi == fo and l < n_layers - 1:
                ga = _ga_block(work, nb, gstride, l, fo).reshape(nb, fo)
                for i in range(nb):
                    for j in range(fo):
                        gap[i, j] += ga[i, j]
    return penalty, gsq


@njit(**_OPTS)
def loss_grad(xb, tb, net, icfg, fcfg, bufs, lstats):
    """Objective (data loss + penalty) and its gradient for one batch, without touching running
    statistics: the entry point of the finite-difference checks. Returns (loss, correct)."""
    _check_ids(icfg)
    geo = net.geo
    nb = xb.shape[0]
    n_layers = geo.shape[0]
    z = forward_train(xb, net, icfg, fcfg, bufs, False, lstats)
    lo = n_layers - 1
    dz = _block(bufs.work[W_D], nb, geo[lo, G_UOFF], geo[lo, G_FOUT]).reshape(nb, geo[lo, G_FOUT])
    loss, correct = loss_and_dlogits(z, tb, icfg[I_TASK], dz)
    penalty, _ = backward(xb, net, icfg, fcfg, bufs, lstats)
    return loss + penalty, correct


# ------------------------------------------------------------------ clipping and the update
@njit(**_OPTS)
def clip_grads(grad, geo, mode, c, gn):
    """Clip in place; ``gn`` is the global L2 norm of ``grad``. Returns (whether anything changed,
    whether every entry was scaled by one factor, that factor: 1 if nothing changed)."""
    clipped = False
    if mode == CLIP_VALUE:
        for k in range(grad.shape[0]):
            if grad[k] > c:
                grad[k] = c
                clipped = True
            elif grad[k] < -c:
                grad[k] = -c
                clipped = True
    elif mode == CLIP_LAYER_NORM:
        for l in range(geo.shape[0]):
            seg = grad[geo[l, G_POFF]: geo[l, G_PEND]]
            n = _norm(seg, _sum_sq(seg))
            if n > c:
                f = c / n
                for k in range(seg.shape[0]):
                    seg[k] *= f
                clipped = True
    elif mode == CLIP_GLOBAL_NORM:
        if gn > c:
            f = c / gn
            for k in range(grad.shape[0]):
                grad[k] *= f
            return True, True, f
    return clipped, not clipped, 1.0


@njit(**_OPTS)
def _add_measuring(w, dw):
    """w += dw, returning (|w|^2 before, |dw|^2) in float64 (two fixed lanes each): the update
    and its statistics in one pass."""
    n = w.shape[0]
    m = n - n % 2
    w0 = w1 = d0 = d1 = 0.0
    for k in range(0, m, 2):
        x0 = np.float64(w[k])
        x1 = np.float64(w[k + 1])
        e0 = np.float64(dw[k])
        e1 = np.float64(dw[k + 1])
        w0 += x0 * x0
        w1 += x1 * x1
        d0 += e0 * e0
        d1 += e1 * e1
        w[k] += dw[k]
        w[k + 1] += dw[k + 1]
    if m < n:
        x0 = np.float64(w[m])
        e0 = np.float64(dw[m])
        w0 += x0 * x0
        d0 += e0 * e0
        w[m] += dw[m]
    return w0 + w1, d0 + d1


@njit(**_OPTS)
def _axpy(w, g, c):
    """w += d, d = c * g rounded to w's dtype (slices: the loop vectorises)."""
    if w.itemsize == 4:
        for k in range(w.shape[0]):
            w[k] += np.float32(c * g[k])
    else:
        for k in range(w.shape[0]):
            w[k] += c * g[k]


@njit(**_OPTS)
def _add(w, dw):
    """w += dw (slices, so the loop index is known >= 0 and the loop vectorises)."""
    for k in range(w.shape[0]):
        w[k] += dw[k]


@njit(**_OPTS)
def apply_update(net, opt, lr, t, fcfg, lstats, stats, sums, measured, gscale):
    """One optimiser step (``t`` counts from 1), one branch-free loop per rule; ``net.delta`` is
    scratch like ``theta`` (plain SGD needs it only to measure). With ``stats``, writes weight norm
    (before) and |dW|/|W| per layer. ``measured``: plain SGD, and ``backward`` left |W|^2 and
    |grad W|^2 in ``sums``, ``grad`` having been scaled by ``gscale`` since (clipping): nothing to
    measure."""
    theta, grad, m1, m2, delta, geo = net.theta, net.grad, net.m1, net.m2, net.delta, net.geo
    mu = fcfg[F_MOMENTUM]
    b1 = fcfg[F_BETA1]
    b2 = fcfg[F_BETA2]
    rho = fcfg[F_RHO]
    eps = fcfg[F_EPS]
    n = theta.shape[0]
    if opt == OPT_MOMENTUM or opt == OPT_NESTEROV:
        for k in range(n):
            m1[k] = mu * m1[k] + grad[k]
        if opt == OPT_MOMENTUM:
            for k in range(n):
                delta[k] = -lr * m1[k]
        else:
            for k in range(n):
                delta[k] = -lr * (grad[k] + mu * m1[k])
    elif opt == OPT_ADAGRAD:
        for k in range(n):
            m2[k] += grad[k] * grad[k]
            delta[k] = -lr * grad[k] / (math.sqrt(m2[k]) + eps)
    elif opt == OPT_RMSPROP:
        for k in range(n):
            m2[k] = rho * m2[k] + (1.0 - rho) * grad[k] * grad[k]
            delta[k] = -lr * grad[k] / (math.sqrt(m2[k]) + eps)
    elif opt == OPT_ADAM or opt == OPT_ADAMW:  # (plain SGD: see below)
        bc1 = 1.0 - b1 ** t
        bc2 = 1.0 - b2 ** t
        for k in range(n):
            m1[k] = b1 * m1[k] + (1.0 - b1) * grad[k]
            m2[k] = b2 * m2[k] + (1.0 - b2) * grad[k] * grad[k]
            delta[k] = -lr * (m1[k] / bc1) / (math.sqrt(m2[k] / bc2) + eps)
    wd = fcfg[F_WD] * lr
    for l in range(geo.shape[0]):
        p = geo[l, G_POFF]
        wend = p + geo[l, G_FIN] * geo[l, G_FOUT]
        pend = geo[l, G_PEND]
        wsq = 0.0
        dsq = 0.0
        if opt == OPT_SGD and (measured or not stats):  # plain SGD, one pass per segment, no delta
            if stats:
                wsq = sums[l, SUM_W2]
                dsq = (lr * gscale) ** 2 * sums[l, SUM_G2]
            _axpy(theta[p:wend], grad[p:wend], -lr)
            _axpy(theta[wend:pend], grad[wend:pend], -lr)
        else:
            if opt == OPT_SGD:  # after value or per-layer clipping: measure the update as taken
                for k in range(p, pend):
                    delta[k] = -lr * grad[k]
            if opt == OPT_ADAMW and wd != 0.0:  # adamw: decoupled decay of weight matrices only
                for k in range(p, wend):
                    delta[k] -= wd * theta[k]
            if stats:
                wsq, dsq = _add_measuring(theta[p:wend], delta[p:wend])
            else:
                _add(theta[p:wend], delta[p:wend])
            _add(theta[wend:pend], delta[wend:pend])
        if stats:
            lstats[l, L_WEIGHT_NORM] = math.sqrt(wsq)
            lstats[l, L_UPDATE_RATIO] = math.sqrt(dsq / wsq) if wsq > 0 else 0.0


# ------------------------------------------------------------------------ evaluation mode
@njit(**_OPTS)
def predict(xq, net, icfg, fcfg, bufs, out):
    """Evaluation-mode forward (running batch-norm statistics) of ``xq (n, d_in)`` in batches;
    writes the logits / outputs into ``out (n, d_out)``. ``bufs.ebuf (4, E * max_width)`` in the
    network's dtype (two ping-pong rows, the input, f' scratch), ``bufs.escratch`` float64 (2, same)."""
    _check_ids(icfg)
    theta, geo = net.theta, net.geo
    bnrun, ebuf, escratch = bufs.bnrun, bufs.ebuf, bufs.escratch
    n = xq.shape[0]
    n_layers = geo.shape[0]
    act = icfg[I_ACT]
    use_bn = icfg[I_BN] != 0
    resid = icfg[I_RESID] != 0
    eps = fcfg[F_BN_EPS]
    maxw = 1
    for l in range(n_layers):
        maxw = max(maxw, geo[l, G_FOUT], geo[l, G_FIN])
    e_rows = ebuf.shape[1] // maxw
    for s in range(0, n, e_rows):
        nb = min(e_rows, n - s)
        h = ebuf[2, : nb * xq.shape[1]].reshape(nb, xq.shape[1])
        h[:, :] = xq[s: s + nb]
        for l in range(n_layers):
            fi = geo[l, G_FIN]
            fo = geo[l, G_FOUT]
            u = geo[l, G_UOFF]
            w, b, gamma, beta = _layer_params(theta, geo, l)
            zf = ebuf[l % 2, : nb * fo]
            z = zf.reshape(nb, fo)
            _linear(h, w, b, z)
            if l == n_layers - 1:
                out[s: s + nb] = z
                break
            if use_bn:
                for i in range(nb):
                    for j in range(fo):
                        xn = (z[i, j] - bnrun[0, u + j]) / math.sqrt(bnrun[1, u + j] + eps)
                        z[i, j] = gamma[j] * xn + beta[j]
            activate_inplace(zf, ebuf[3, : nb * fo], act, escratch)  # f' unused here
            if resid and fi == fo and l > 0:
                for i in range(nb):
                    for j in range(fo):
                        z[i, j] += h[i, j]
            h = z


@njit(**_OPTS)
def evaluate(xe, te, net, icfg, fcfg, bufs, out):
    """Loss and accuracy on a held-out set in evaluation mode (``out`` is scratch (n, d_out))."""
    predict(xe, net, icfg, fcfg, bufs, out)
    n, c = out.shape
    loss = 0.0
    correct = 0
    if icfg[I_TASK] == TASK_CLASSIFY:
        for i in range(n):
            mx = out[i, 0]
            am = 0
            tm = 0
            for k in range(1, c):
                if out[i, k] > mx:
                    mx = out[i, k]
                    am = k
                if te[i, k] > te[i, tm]:
                    tm = k
            s = 0.0
            for k in range(c):
                s += math.exp(out[i, k] - mx)
            loss += math.log(s) - (out[i, tm] - mx)
            if am == tm:
                correct += 1
        return loss / n, correct / n
    for i in range(n):
        for k in range(c):
            e = out[i, k] - te[i, k]
            loss += e * e
    return loss / (n * c), np.nan


# ---------------------------------------------------------------------------- the K-step loop
@njit(**_OPTS)
def _check_ids(icfg):
    """Refuse branch ids no branch exists for (an unknown id must never compute something)."""
    if not (0 <= icfg[I_ACT] < N_ACT and 0 <= icfg[I_OPT] < N_OPT and 0 <= icfg[I_CLIP] < N_CLIP
            and (icfg[I_TASK] == TASK_CLASSIFY or icfg[I_TASK] == TASK_REGRESS)):
        raise ValueError("unknown activation, optimiser, clipping or task id in icfg")


@njit(**_OPTS)
def train_chunk(data, idx, lrs, net, icfg, fcfg, bufs, ring, at):
    """Run ``K = idx.shape[0]`` steps; batch k is ``data.x[idx[k]]``, its rate ``lrs[k]``.
    ``at = (step0, opt_t0, ring_pos)``: the first step's number, the optimiser's step count before
    it, the ring row it writes.

    Every step writes one ring row ``(ring_pos + k) % cap``: its step number, the global and the
    per-layer statistics. A non-finite loss or gradient writes a ``STATUS_DIVERGED`` row, skips
    that update and stops. Returns (rows written, diverged)."""
    _check_ids(icfg)
    step0, opt_t0, ring_pos = at
    x, t = data.x, data.t
    xb, tb = bufs.xb, bufs.tb
    theta, grad, geo = net.theta, net.grad, net.geo
    n_steps, nb = idx.shape
    cap = ring.glob.shape[0]
    n_layers = geo.shape[0]
    lo = n_layers - 1
    eval_every = icfg[I_EVAL_EVERY]
    stats = icfg[I_STATS] != 0
    for k in range(n_steps):
        row = (ring_pos + k) % cap
        ls = ring.layers[row]
        gs = ring.glob[row]
        for i in range(nb):
            r = idx[k, i]
            xb[i, :] = x[r]
            tb[i, :] = t[r]
        z = forward_train(xb, net, icfg, fcfg, bufs, True, ls)
        dz = _block(bufs.work[W_D], nb, geo[lo, G_UOFF], geo[lo, G_FOUT]).reshape(nb, geo[lo, G_FOUT])
        loss, correct = loss_and_dlogits(z, tb, icfg[I_TASK], dz)
        penalty, gsq = backward(xb, net, icfg, fcfg, bufs, ls)
        loss += penalty
        gn = _norm(grad, gsq)
        clipped, uniform, gscale = clip_grads(grad, geo, icfg[I_CLIP], fcfg[F_CLIP], gn)
        ring.step[row] = step0 + k
        gs[S_LOSS] = loss
        gs[S_TRAIN_ACC] = correct / nb if icfg[I_TASK] == TASK_CLASSIFY else np.nan
        gs[S_TEST_ACC] = np.nan
        gs[S_TEST_LOSS] = np.nan
        gs[S_LR] = lrs[k]
        gs[S_GRAD_NORM] = gn
        gs[S_CLIPPED] = 1.0 if clipped else 0.0
        if not (math.isfinite(loss) and math.isfinite(gn)):
            gs[S_STATUS] = STATUS_DIVERGED
            for l in range(n_layers):
                ls[l, L_WEIGHT_NORM] = math.sqrt(_sum_sq(theta[geo[l, G_POFF]: geo[l, G_POFF] + geo[l, G_FIN] * geo[l, G_FOUT]]))
                ls[l, L_UPDATE_RATIO] = np.nan
            return k + 1, True
        gs[S_STATUS] = STATUS_OK
        apply_update(net, icfg[I_OPT], lrs[k], opt_t0 + k + 1, fcfg, ls, stats, bufs.sums,
                     stats and uniform and icfg[I_OPT] == OPT_SGD, gscale)
        if (step0 + k + 1) % eval_every == 0:
            tl, ta = evaluate(data.xte, data.tte, net, icfg, fcfg, bufs, data.eout)
            gs[S_TEST_LOSS] = tl
            gs[S_TEST_ACC] = ta
    return n_steps, False


# ---------------------------------------------------------------------- per-layer histograms
HIST_BINS = 32  # bins of every histogram
HIST_LOG_LO = -30.0  # log10 |x| of the gradient histograms' first edge (one decade a bin);
HIST_LOG_HI = HIST_LOG_LO + HIST_BINS  # below it (and exact zeros) count in column 0, above in the last
HIST_SAMPLE = 4096  # at most this many entries a layer and quantity, at a fixed stride


@njit(**_OPTS)
def _stride(n):
    return max(1, (n + HIST_SAMPLE - 1) // HIST_SAMPLE)


@njit(**_OPTS)
def _hist_log(x, out):
    """out[0] += entries with |x| < 10^HIST_LOG_LO (zeros too), out[1 + b] += those in decade b,
    out[-1] += those at or past 10^HIST_LOG_HI (inf); NaN is not counted. Sampled at _stride."""
    nbin = out.shape[0] - 2
    for k in range(0, x.shape[0], _stride(x.shape[0])):
        v = abs(np.float64(x[k]))
        if v != v:
            continue
        if v == 0.0:
            out[0] += 1.0
            continue
        b = math.floor(math.log10(v) - HIST_LOG_LO) if math.isfinite(v) else nbin
        if b < 0:
            out[0] += 1.0
        elif b >= nbin:
            out[nbin + 1] += 1.0
        else:
            out[1 + b] += 1.0


@njit(**_OPTS)
def _hist_lin(x, lo, hi, out):
    """Linear bins over [lo, hi] (ends included in the end bins), sampled at _stride; a value
    outside the range (or non-finite) is not counted."""
    nbin = out.shape[0]
    w = (hi - lo) / nbin if hi > lo else 1.0
    for k in range(0, x.shape[0], _stride(x.shape[0])):
        v = np.float64(x[k])
        if not (lo <= v <= hi):
            continue
        out[min(nbin - 1, int((v - lo) / w))] += 1.0


@njit(**_OPTS)
def _finite_range(x):
    lo = math.inf
    hi = -math.inf
    for k in range(0, x.shape[0], _stride(x.shape[0])):
        v = np.float64(x[k])
        if math.isfinite(v):
            lo = min(lo, v)
            hi = max(hi, v)
    return lo, hi


@njit(**_OPTS)
def histograms(net, bufs, nb, act_range, h_act, h_grad, h_delta):
    """Per-layer histograms of what the last training step left in the buffers: the layer outputs
    (``bufs.work[W_A]``, linear bins over ``act_range[l]``, or over the values' finite range where
    it is NaN; the range used is written back), |dL/dW| (``net.grad``) and |dL/dz|
    (``bufs.work[W_D]``, after backward) in decades (``_hist_log``). Counts, not fractions.
    Runs on the snapshot cadence, not every step; samples at most HIST_SAMPLE entries a layer."""
    geo = net.geo
    h_act[:, :] = 0.0
    h_grad[:, :] = 0.0
    h_delta[:, :] = 0.0
    for l in range(geo.shape[0]):
        fi = geo[l, G_FIN]
        fo = geo[l, G_FOUT]
        u = geo[l, G_UOFF]
        p = geo[l, G_POFF]
        a = _block(bufs.work[W_A], nb, u, fo)
        lo = act_range[l, 0]
        hi = act_range[l, 1]
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = _finite_range(a)
            act_range[l, 0] = lo
            act_range[l, 1] = hi
        if lo <= hi:
            _hist_lin(a, lo, hi, h_act[l])
        _hist_log(net.grad[p: p + fi * fo], h_grad[l])
        _hist_log(_block(bufs.work[W_D], nb, u, fo), h_delta[l])


class NotCached(Exception):
    """A kernel would have to be compiled (see :func:`cache_only`)."""


_CACHE_ONLY = threading.Lock()  # one cache_only block at a time (two runs may start together)


@contextmanager
def cache_only():
    """Within this block a kernel call whose machine code is neither loaded nor in numba's disk
    cache raises :class:`NotCached` instead of compiling (a cached one is loaded as usual): a warm
    start is told from a cold one by loading. Process-wide: for the thread that drives a trainer,
    before any other thread calls a kernel. Numba internals (``Dispatcher._compiler``): if they
    are not as expected, every call counts as not cached."""
    disps = [v for v in globals().values() if isinstance(v, Dispatcher)]

    def refuse(*args, **kwargs):
        raise NotCached()

    with _CACHE_ONLY:
        patched = []
        try:
            for d in disps:
                comp = getattr(d, "_compiler", None)
                if comp is None or not callable(getattr(comp, "compile", None)):
                    raise NotCached()
                comp.compile = refuse  # shadows the method: numba calls it after its cache lookup
                patched.append(comp)
            yield
        finally:
            for comp in patched:
                del comp.compile


def set_blas_threads(n: int) -> None:
    """Limit BLAS threads, including SciPy's OpenBLAS that numba's ``np.dot`` loads lazily."""
    import scipy.linalg  # noqa: F401  (loads the BLAS numba will call, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")
