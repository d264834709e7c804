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
* Activation, optimiser, clipping, residual and batch norm are selected by integers in ``icfg``;
  hyper-parameters sit in ``fcfg``. Changing any of them never triggers a recompile.
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

from gradtui.numba_cache import prepare as _prepare_numba_cache

_prepare_numba_cache(__file__)  # a safe, undamaged NUMBA_CACHE_DIR before numba reads it

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

# ---------------------------------------------------------------- plain-data selectors and columns
# icfg (int64)
I_ACT, I_OPT, I_CLIP, I_RESID, I_BN, I_TASK, I_EVAL_EVERY, I_STATS = range(8)
N_ICFG = 8  # I_STATS = 0 skips the per-layer statistics (the bench measures their cost with it)
TASK_CLASSIFY, TASK_REGRESS = 0, 1
# fcfg (float64)
F_MOMENTUM, F_BETA1, F_BETA2, F_RHO, F_EPS, F_WD, F_L1, F_L2, F_CLIP, F_BN_EPS, F_BN_MOM = range(11)
N_FCFG = 11
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


# per-layer statistics columns (documented in gradtui.stats)
(L_GRAD_NORM, L_GRAD_MEAN_ABS, L_DELTA_NORM, L_WEIGHT_NORM, L_UPDATE_RATIO,
 L_ACT_MEAN, L_ACT_STD, L_SATURATED, L_DEAD) = range(9)
N_LSTATS = 9
# global statistics columns
S_LOSS, S_TRAIN_ACC, S_TEST_ACC, S_TEST_LOSS, S_LR, S_GRAD_NORM, S_CLIPPED, S_STATUS = range(8)
N_GSTATS = 8
STATUS_OK, STATUS_DIVERGED = 0, 1

_SELU_L = 1.0507009873554805
_SELU_A = 1.6732632423543772
_GELU_C = 0.7978845608028654  # sqrt(2/pi)
_MAX_SLOPE = (0.25, 1.0)  # sigmoid, tanh: the saturating activations
_WT_COPY_MAX = 96 * 96  # largest W (fan_in * fan_out) whose transpose backward copies first

_OPTS = dict(cache=True, nogil=True, error_model="numpy")
# Reductions only: 'reassoc' lets LLVM vectorise a sum; the maths of the step itself stays strict.
_RED = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "nsz"})

# The exp polynomials may use fused multiply-adds ('contract'): rounding changes below 1 ulp.
_EXP = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0 + 1023.0  # 1.5 * 2^52 rounds to an integer; + the exponent bias


@njit(**_EXP)
def exp_batch(x, sign, out, kb):
    """out[i] = exp(sign * x[i]) within 1 ulp (float64), in three vectorisable passes.

    libm's scalar exp (no SVML here) made sigmoid ~4x slower. Cody-Waite range reduction
    x = k ln2 + r, |r| <= ln2/2; exp(r) by its degree-13 Taylor polynomial; 2^k assembled from
    bits: adding _SHIFT leaves k + 1023 in the low mantissa bits, shifted into the exponent field.
    ``out`` and ``kb`` are float64 scratch of at least len(x); arguments are clamped to +-708.
    """
    n = x.shape[0]
    for i in range(n):
        v = min(max(sign * float(x[i]), -708.0), 708.0)
        kd = v * _LOG2E + _SHIFT
        k = kd - _SHIFT
        r = v - k * _LN2_HI - k * _LN2_LO
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
        p = p * r + 1.0
        kb[i] = kd
        out[i] = p
    bits = kb[:n].view(np.int64)
    for i in range(n):
        bits[i] = bits[i] << 52
    for i in range(n):
        out[i] *= kb[i]


# float32 twin of exp_batch: cephes expf minimax polynomial, 2^k from an int32 view; < 1 ulp
_F = np.float32
_L2E_F, _SHIFT_F = _F(1.4426950408889634), _F(12582912.0 + 127.0)
_LN2_HI_F, _LN2_LO_F = _F(0.693359375), _F(-2.12194440e-4)
_E5, _E4, _E3 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_E2, _E1, _E0 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_LIM_F, _ONE_F = _F(87.0), _F(1.0)


@njit(**_EXP)
def exp_batch32(x, sign, out, kb):
    """out[i] = exp(sign * x[i]) for float32 ``x``/``out``/``kb``; arguments clamped to +-87."""
    n = x.shape[0]
    for i in range(n):
        v = min(max(sign * x[i], -_LIM_F), _LIM_F)
        kd = v * _L2E_F + _SHIFT_F
        k = kd - _SHIFT_F
        r = v - k * _LN2_HI_F - k * _LN2_LO_F
        p = _E5
        p = p * r + _E4
        p = p * r + _E3
        p = p * r + _E2
        p = p * r + _E1
        p = p * r + _E0
        kb[i] = kd
        out[i] = p * r * r + r + _ONE_F
    bits = kb[:n].view(np.int32)
    for i in range(n):
        bits[i] = bits[i] << 23
    for i in range(n):
        out[i] *= kb[i]


@njit(**_RED)
def _sum_sq(x):
    s = 0.0
    for i in range(x.shape[0]):
        v = float(x[i])
        s += v * v
    return s


@njit(**_RED)
def _sum_abs(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += abs(float(x[i]))
    return s


@njit(**_RED)
def _moments(x):
    """(sum, sum of |x|, sum of squares) in float64, one vectorisable pass."""
    s1 = 0.0
    sa = 0.0
    s2 = 0.0
    for i in range(x.shape[0]):
        v = float(x[i])
        s1 += v
        sa += abs(v)
        s2 += v * v
    return s1, sa, s2


# ------------------------------------------------------------------------------- activations
_ABLK = 512  # activate() works in blocks: exp's scratch (2 x 4 KB) stays in L1 between its passes
_LBLK = 4096  # _act_layer's row blocks (elements): big enough that slicing costs nothing


@njit(**_OPTS)
def activate(y, a, d, act, scratch):
    """a = f(y), d = f'(y), elementwise over 1-D arrays (``a`` may alias ``y``).
    ``scratch``: float64 (2, >= min(len(y), _ABLK)) work space."""
    n = y.shape[0]
    for s in range(0, n, _ABLK):
        e = min(s + _ABLK, n)
        _activate_block(y[s:e], a[s:e], d[s:e], act, scratch)


@njit(**_OPTS)
def _activate_block(y, a, d, act, scratch):
    n = y.shape[0]
    if act == 0 and y.itemsize == 4:  # sigmoid in float32 arithmetic throughout
        e32 = scratch[0].view(np.float32)[:n]
        exp_batch32(y, _F(-1.0), e32, scratch[1].view(np.float32))
        for i in range(n):
            s32 = _ONE_F / (_ONE_F + e32[i])
            a[i] = s32
            d[i] = (e32[i] * s32) * s32  # = s (1 - s) without the cancellation near s = 1
    elif act == 0:  # sigmoid = 1 / (1 + e^-y): exp(+-708) keeps it finite and exact at both ends
        e = scratch[0, :n]
        exp_batch(y, -1.0, e, scratch[1])
        for i in range(n):
            s = 1.0 / (1.0 + e[i])
            a[i] = s
            d[i] = (e[i] * s) * s  # = s (1 - s) without the cancellation near s = 1
    elif act == 1:  # tanh = 2 / (1 + e^-2y) - 1 (absolute error ~1e-16; libm tanh is scalar)
        e = scratch[0, :n]
        exp_batch(y, -2.0, e, scratch[1])
        for i in range(n):
            t = 2.0 / (1.0 + e[i]) - 1.0
            a[i] = t
            d[i] = 1.0 - t * t
    elif act == 2:  # relu (an explicit 0: slope 0 times -inf would be NaN)
        for i in range(n):
            z = y[i]
            if z > 0:
                a[i] = z
                d[i] = 1.0
            else:
                a[i] = 0.0
                d[i] = 0.0
    elif act == 3:  # leaky relu
        for i in range(n):
            z = y[i]
            if z > 0:
                a[i] = z
                d[i] = 1.0
            else:
                a[i] = 0.01 * z
                d[i] = 0.01
    elif act == 4 or act == 5:  # elu (alpha 1) and selu: lam * (y if y > 0 else alpha (e^y - 1))
        lam = 1.0 if act == 4 else _SELU_L
        la = 1.0 if act == 4 else _SELU_L * _SELU_A
        e = scratch[0, :n]
        exp_batch(y, 1.0, e, scratch[1])
        for i in range(n):
            z = y[i]
            if z > 0:
                a[i] = lam * z
                d[i] = lam
            else:
                a[i] = la * (e[i] - 1.0)
                d[i] = la * e[i]
    elif act == 6:  # gelu, tanh approximation: tanh(u) with u = c (z + 0.044715 z^3)
        for i in range(n):
            z = y[i]
            d[i] = _GELU_C * (z + 0.044715 * z * z * z)  # d holds u until the last loop
        e = scratch[0, :n]
        exp_batch(d, -2.0, e, scratch[1])
        for i in range(n):
            z = y[i]
            t = 2.0 / (1.0 + e[i]) - 1.0
            a[i] = 0.5 * z * (1.0 + t)
            d[i] = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * z * z)
    else:  # linear
        for i in range(n):
            a[i] = y[i]
            d[i] = 1.0


# ----------------------------------------------------------------------------- layer helpers
@njit(**_OPTS)
def _block(row, nb, u, fo):
    """Layer block of a work row as a flat (nb * fo,) view."""
    return row[nb * u: nb * (u + fo)]


@njit(**_RED)
def _transpose(w, wt, want_sq):
    """wt = w.T; returns |w|^2 (float64) when ``want_sq``, else -1."""
    fi, fo = w.shape
    if not want_sq:
        for i in range(fi):
            for j in range(fo):
                wt[j, i] = w[i, j]
        return -1.0
    s = 0.0
    for i in range(fi):
        for j in range(fo):
            x = w[i, j]
            wt[j, i] = x
            s += float(x) * float(x)
    return s


@njit(**_OPTS)
def _ga_block(work, nb, gstride, l, fo):
    """dL/da of hidden layer ``l`` as a flat (nb * fo,) view: ping-pong blocks in work[W_GA]."""
    o = (l % 2) * gstride
    return work[W_GA, o: o + nb * fo]


@njit(**_RED)
def _act_stats_flat(a, d, thr):
    """Partial activation statistics of a flat block: (sum of a, sum of a^2, count of |d| < thr),
    summed in the network's dtype (activations are O(1); full SIMD width for float32). The count
    too: a float select-and-add vectorises where an integer count of float32 compares did not
    (2.7x slower), and it is exact (a block holds far fewer than 2^24 elements)."""
    z = a[0] * 0
    one = z + 1
    r1 = z
    r2 = z
    cnt = z
    for i in range(a.shape[0]):
        v = a[i]
        r1 += v
        r2 += v * v
        cnt += one if abs(d[i]) < thr else z
    return float(r1), float(r2), int(cnt)


@njit(**_RED)
def _colmax_abs(d, colmax):
    """colmax[j] = max(colmax[j], max_i |d[i, j]|)."""
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            colmax[j] = max(colmax[j], abs(d[i, j]))


@njit(**_OPTS)
def _act_layer(af, b, df, h, nb, fo, act, add_bias, resid, stats, scratch, colmax, lstats, l):
    """One hidden layer after its GEMM, in place in ``af``, in one sweep over row blocks of about
    _LBLK elements: ``a = f(a + b) (+ h if resid)`` (``add_bias``; batch norm's output comes
    without), ``d = f'``, and (``stats``) the layer's activation statistics: mean/std of ``a``,
    saturated and dead fractions. Every pass after the first finds its block in cache.
    ``colmax`` is scratch of the network's dtype, at least ``fo`` long. (Slices, not index
    offsets, inside: numba can vectorise only indices it knows are >= 0.)

    Dead units (f' = 0 on the whole batch) need a per-column pass; it runs on a block only while
    every block so far held at least as many small |f'| as rows, which a dead unit implies (so
    never on a healthy sigmoid net, on every block of a ReLU net)."""
    a2 = af.reshape(nb, fo)
    d2 = df.reshape(nb, fo)
    saturating = act == 0 or act == 1
    # |f'| < thr counts saturated entries (sigmoid, tanh) or, for the others, zeros and near-zeros
    colmax[0] = 0.01 * _MAX_SLOPE[0] if act == 0 else (0.01 * _MAX_SLOPE[1] if act == 1 else 1e-30)
    thr = colmax[0]  # in the network's dtype
    for j in range(fo):
        colmax[j] = 0.0
    rows = max(1, _LBLK // fo)
    s1 = 0.0
    s2 = 0.0
    cnt = 0
    maybe_dead = True
    for r0 in range(0, nb, rows):
        r1 = min(r0 + rows, nb)
        ab = a2[r0:r1]
        if add_bias:
            for i in range(r1 - r0):
                for j in range(fo):
                    ab[i, j] += b[j]
        blk = af[r0 * fo: r1 * fo]
        dblk = df[r0 * fo: r1 * fo]
        activate(blk, blk, dblk, act, scratch)
        if resid:
            hb = h[r0:r1]
            for i in range(r1 - r0):
                for j in range(fo):
                    ab[i, j] += hb[i, j]
        if stats:
            p1, p2, pc = _act_stats_flat(blk, dblk, thr)
            s1 += p1
            s2 += p2
            cnt += pc
            if maybe_dead:
                if pc >= r1 - r0:
                    _colmax_abs(d2[r0:r1], colmax)
                else:
                    maybe_dead = False
    if stats:
        n = nb * fo
        m = s1 / n
        lstats[l, L_ACT_MEAN] = m
        lstats[l, L_ACT_STD] = math.sqrt(max(s2 / n - m * m, 0.0))
        lstats[l, L_SATURATED] = cnt / n if saturating else 0.0
        dead = 0
        if maybe_dead:
            for j in range(fo):
                dead += colmax[j] == 0.0
        lstats[l, L_DEAD] = dead / fo


@njit(**_RED)
def _colsum_sq(gzf, gb, nb, fo, want_norm):
    """gb = column sums of gz (the bias gradient) and |gz|^2 when ``want_norm``, in one pass."""
    gz = gzf.reshape(nb, fo)
    for j in range(fo):
        gb[j] = 0.0
    sq = 0.0
    for i in range(nb):
        for j in range(fo):
            v = gz[i, j]
            gb[j] += v
            sq += float(v) * float(v)
    return sq if want_norm else 0.0


@njit(**_RED)
def _gate_grad(gaf, gzf, gb, nb, fo, want_norm):
    """In place: ``gz`` holds f'(y) on entry and dL/dy = ga * f' on exit; gb = its column sums,
    and |dL/dy|^2 when ``want_norm``; one pass."""
    ga = gaf.reshape(nb, fo)
    gz = gzf.reshape(nb, fo)
    for j in range(fo):
        gb[j] = 0.0
    sq = 0.0
    for i in range(nb):
        for j in range(fo):
            v = ga[i, j] * gz[i, j]
            gz[i, j] = v
            gb[j] += v
            sq += float(v) * float(v)
    return sq if want_norm else 0.0


@njit(**_OPTS)
def _bn_train(z, xh, y, gamma, beta, mean, invstd, run_mean, run_var, eps, mom, update_running):
    """Batch norm in training mode on (nb, fo) blocks; keeps batch mean and 1/std per unit."""
    nb, fo = z.shape
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
def forward_train(xb, theta, geo, icfg, fcfg, work, bnbuf, bnrun, update_running, lstats, scratch):
    """Training-mode forward of a batch ``xb (nb, d_in)``; fills ``work`` and the activation
    statistics of ``lstats (n_layers, N_LSTATS)``. Returns the logits as an (nb, d_out) view.
    ``scratch``: float64 (2, nb * max_width)."""
    nb = xb.shape[0]
    n_layers = geo.shape[0]
    act = icfg[I_ACT]
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
            s1, _, s2 = _moments(af)
            m = s1 / af.shape[0]
            lstats[l, L_ACT_MEAN] = m
            lstats[l, L_ACT_STD] = math.sqrt(max(s2 / af.shape[0] - m * m, 0.0))
            lstats[l, L_SATURATED] = 0.0
            lstats[l, L_DEAD] = 0.0
            return a
        df = _block(work[W_D], nb, u, fo)
        colmax = work[W_GA, :fo]  # W_GA is free until backward
        res = resid and fi == fo and l > 0
        if use_bn:
            z = _block(work[W_Z], nb, u, fo).reshape(nb, fo)
            _linear(h, w, b, z)
            xh = _block(work[W_XH], nb, u, fo).reshape(nb, fo)
            _bn_train(z, xh, a, gamma, beta, bnbuf[0, u: u + fo], bnbuf[1, u: u + fo],
                      bnrun[0, u: u + fo], bnrun[1, u: u + fo], fcfg[F_BN_EPS], fcfg[F_BN_MOM],
                      update_running)
        else:
            np.dot(h, w, a)  # z straight into a's block; the sweep below adds b and applies f
        _act_layer(af, b, df, h, nb, fo, act, not use_bn, res, icfg[I_STATS] != 0, scratch, colmax,
                   lstats, l)
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
def backward(xb, theta, grad, geo, icfg, fcfg, work, bnbuf, lstats):
    """Back-propagate from ``work[W_D]`` of the output layer (dL/dz, set by ``loss_and_dlogits``).
    Fills ``grad`` (data gradient + penalty gradient) and the gradient statistics; returns
    (penalty value, |grad|^2), the latter summed layer by layer while each is in cache (clipping
    and the global norm need it). ``L_GRAD_NORM`` is the data-loss gradient, penalties excluded."""
    nb = xb.shape[0]
    n_layers = geo.shape[0]
    use_bn = icfg[I_BN] != 0
    resid = icfg[I_RESID] != 0
    l1 = fcfg[F_L1]
    l2 = fcfg[F_L2]
    sgd = icfg[I_OPT] == 0
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
            dsq = _gate_grad(gaf, gzf, gb, nb, fo, stats)  # gz = dL/dy, gb = its column sums
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
                dsq = _colsum_sq(gzf, gb, nb, fo, stats)
            else:
                for j in range(fo):
                    ggamma[j] = 0.0
                    gbeta[j] = 0.0
        else:  # output layer: gz was set by the loss
            dsq = _colsum_sq(gzf, gb, nb, fo, stats)
        if stats:
            lstats[l, L_DELTA_NORM] = math.sqrt(dsq)
        hin = xb if l == 0 else _block(work[W_A], nb, geo[l - 1, G_UOFF], fi).reshape(nb, fi)
        np.dot(hin.T, gz, gw)  # (fi, nb) @ (nb, fo)
        gwf = grad[p: p + fi * fo]
        wf = theta[p: p + fi * fo]
        # |grad|^2 of W, b (, gamma, beta) after the penalty: the global norm and clipping need
        # it every step; the statistics reuse it when there is no penalty (same bits either way)
        pen = l1 != 0.0 or l2 != 0.0
        if stats and pen:  # the data-loss gradient, before the penalty joins it
            _, sa, sq = _moments(gwf)
            lstats[l, L_GRAD_NORM] = math.sqrt(sq)
            lstats[l, L_GRAD_MEAN_ABS] = sa / gwf.shape[0]
        if pen:
            for k in range(gwf.shape[0]):
                x = wf[k]
                penalty += l1 * abs(x) + 0.5 * l2 * x * x
                gwf[k] += l2 * x + (l1 if x > 0 else (-l1 if x < 0 else 0.0))
        wsq = _sum_sq(gwf)
        gsq += wsq + _sum_sq(grad[p + fi * fo: geo[l, G_PEND]])
        if stats and not pen:
            lstats[l, L_GRAD_NORM] = math.sqrt(wsq)
            lstats[l, L_GRAD_MEAN_ABS] = _sum_abs(gwf) / gwf.shape[0]
        # plain SGD's update statistics need |W|^2 and |dW|^2 = (lr * clip factor)^2 |grad W|^2:
        # both are at hand here, so apply_update need not measure (see its ``gscale``)
        want_wn = stats and sgd
        wnsq = -1.0
        if l > 0:
            gap = _ga_block(work, nb, gstride, l - 1, fi).reshape(nb, fi)
            if fi <= nb and fi * fo <= _WT_COPY_MAX:  # small GEMMs with a transposed operand run
                # 20-40% slower: copy W^T first (z is dead in backward; at 128x128 and above the
                # strided copy costs more than it saves: 190 us against 60 us at 256x256 float64)
                wt = work[W_Z, : fi * fo].reshape(fo, fi)
                wnsq = _transpose(w, wt, want_wn)
                np.dot(gz, wt, gap)  # (nb, fo) @ (fo, fi)
            else:
                np.dot(gz, w.T, gap)
            if resid and fi == fo and l < n_layers - 1:
                ga = _ga_block(work, nb, gstride, l, fo).reshape(nb, fo)
                for i in range(nb):
                    for j in range(fo):
                        gap[i, j] += ga[i, j]
        if want_wn:  # squared, and |grad W|^2 unscaled, until apply_update
            lstats[l, L_WEIGHT_NORM] = wnsq if wnsq >= 0.0 else _sum_sq(wf)
            lstats[l, L_UPDATE_RATIO] = wsq
    return penalty, gsq


@njit(**_OPTS)
def loss_grad(xb, tb, theta, grad, geo, icfg, fcfg, work, bnbuf, bnrun, lstats, scratch):
    """Objective (data loss + penalty) and its gradient for one batch, without touching running
    statistics: the entry point of the finite-difference checks. Returns (loss, correct)."""
    nb = xb.shape[0]
    n_layers = geo.shape[0]
    z = forward_train(xb, theta, geo, icfg, fcfg, work, bnbuf, bnrun, False, lstats, scratch)
    lo = n_layers - 1
    dz = _block(work[W_D], nb, geo[lo, G_UOFF], geo[lo, G_FOUT]).reshape(nb, geo[lo, G_FOUT])
    loss, correct = loss_and_dlogits(z, tb, icfg[I_TASK], dz)
    penalty, _ = backward(xb, theta, grad, geo, icfg, fcfg, work, bnbuf, lstats)
    return loss + penalty, correct


# ------------------------------------------------------------------ clipping and the update
@njit(**_OPTS)
def clip_grads(grad, geo, mode, c, gn):
    """Clip in place; ``gn`` is the global L2 norm of ``grad``. Returns (whether anything changed,
    the factor every entry was scaled by: 1 if none changed, -1 if entries changed differently)."""
    clipped = False
    if mode == 1:  # by value
        for k in range(grad.shape[0]):
            if grad[k] > c:
                grad[k] = c
                clipped = True
            elif grad[k] < -c:
                grad[k] = -c
                clipped = True
    elif mode == 2:  # per-layer norm
        for l in range(geo.shape[0]):
            seg = grad[geo[l, G_POFF]: geo[l, G_PEND]]
            n = math.sqrt(_sum_sq(seg))
            if n > c:
                f = c / n
                for k in range(seg.shape[0]):
                    seg[k] *= f
                clipped = True
    elif mode == 3:  # global norm
        if gn > c:
            f = c / gn
            for k in range(grad.shape[0]):
                grad[k] *= f
            return True, f
    return clipped, -1.0 if clipped else 1.0


@njit(**_RED)
def _add_measuring(w, dw):
    """w += dw, returning (|w|^2 before, |dw|^2): the update and its statistics in one pass."""
    wsq = 0.0
    dsq = 0.0
    for k in range(w.shape[0]):
        x = w[k]
        d = dw[k]
        wsq += float(x) * float(x)
        dsq += float(d) * float(d)
        w[k] = x + d
    return wsq, dsq


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
def apply_update(theta, grad, m1, m2, delta, geo, opt, lr, t, fcfg, lstats, stats=True, gscale=-1.0):
    """One optimiser step (``t`` counts from 1), one branch-free loop per rule; ``delta`` is
    scratch like ``theta`` (plain SGD needs it only to measure). Writes weight norm (before) and
    |dW|/|W| per layer. ``gscale >= 0``: plain SGD, and ``backward`` left |W|^2 and |grad W|^2 in
    those two columns, ``grad`` having been scaled by ``gscale`` since (clipping): nothing to
    measure."""
    mu = fcfg[F_MOMENTUM]
    b1 = fcfg[F_BETA1]
    b2 = fcfg[F_BETA2]
    rho = fcfg[F_RHO]
    eps = fcfg[F_EPS]
    n = theta.shape[0]
    if opt == 1 or opt == 2:
        for k in range(n):
            m1[k] = mu * m1[k] + grad[k]
        if opt == 1:
            for k in range(n):
                delta[k] = -lr * m1[k]
        else:
            for k in range(n):
                delta[k] = -lr * (grad[k] + mu * m1[k])
    elif opt == 3:
        for k in range(n):
            m2[k] += grad[k] * grad[k]
            delta[k] = -lr * grad[k] / (math.sqrt(m2[k]) + eps)
    elif opt == 4:
        for k in range(n):
            m2[k] = rho * m2[k] + (1.0 - rho) * grad[k] * grad[k]
            delta[k] = -lr * grad[k] / (math.sqrt(m2[k]) + eps)
    elif opt != 0:  # adam, adamw (plain SGD: see below)
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
        if opt == 0 and not (stats and gscale < 0.0):  # plain SGD, one pass per segment, no delta
            if stats:
                wsq = lstats[l, L_WEIGHT_NORM]
                dsq = (lr * gscale) ** 2 * lstats[l, L_UPDATE_RATIO]
            _axpy(theta[p:wend], grad[p:wend], -lr)
            _axpy(theta[wend:pend], grad[wend:pend], -lr)
        else:
            if opt == 0:  # SGD after value or per-layer clipping: measure the update as taken
                for k in range(p, pend):
                    delta[k] = -lr * grad[k]
            if opt == 6 and wd != 0.0:  # adamw: decoupled decay of weight matrices only
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
def predict(xq, theta, geo, icfg, fcfg, bnrun, ebuf, escratch, out):
    """Evaluation-mode forward (running batch-norm statistics) of ``xq (n, d_in)`` in batches;
    writes the logits / outputs into ``out (n, d_out)``. ``ebuf (4, E * max_width)`` in the
    network's dtype (two ping-pong rows, the input, f' scratch), ``escratch`` float64 (2, same)."""
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
            activate(zf, zf, ebuf[3, : nb * fo], act, escratch)  # f' unused here
            if resid and fi == fo and l > 0:
                for i in range(nb):
                    for j in range(fo):
                        z[i, j] += h[i, j]
            h = z


@njit(**_OPTS)
def evaluate(xe, te, theta, geo, icfg, fcfg, bnrun, ebuf, escratch, out):
    """Loss and accuracy on a held-out set in evaluation mode (``out`` is scratch (n, d_out))."""
    predict(xe, theta, geo, icfg, fcfg, bnrun, ebuf, escratch, out)
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
def train_chunk(x, t, idx, xte, tte, lrs, theta, grad, m1, m2, delta, geo, icfg, fcfg, work, xb, tb,
                bnbuf, bnrun, scratch, ebuf, escratch, eout, step0, opt_t0, ring_step, ring_g, ring_l,
                ring_pos):
    """Run ``K = idx.shape[0]`` SGD steps; batch k is ``x[idx[k]]``, its rate ``lrs[k]``.

    Every step writes one ring row ``(ring_pos + k) % cap``: its step number, the global and the
    per-layer statistics. A non-finite loss or gradient writes a ``STATUS_DIVERGED`` row, skips
    that update and stops. Returns (rows written, diverged)."""
    n_steps, nb = idx.shape
    cap = ring_g.shape[0]
    n_layers = geo.shape[0]
    lo = n_layers - 1
    eval_every = icfg[I_EVAL_EVERY]
    for k in range(n_steps):
        row = (ring_pos + k) % cap
        ls = ring_l[row]
        gs = ring_g[row]
        for i in range(nb):
            r = idx[k, i]
            xb[i, :] = x[r]
            tb[i, :] = t[r]
        z = forward_train(xb, theta, geo, icfg, fcfg, work, bnbuf, bnrun, True, ls, scratch)
        dz = _block(work[W_D], nb, geo[lo, G_UOFF], geo[lo, G_FOUT]).reshape(nb, geo[lo, G_FOUT])
        loss, correct = loss_and_dlogits(z, tb, icfg[I_TASK], dz)
        penalty, gsq = backward(xb, theta, grad, geo, icfg, fcfg, work, bnbuf, ls)
        loss += penalty
        gn = math.sqrt(gsq)
        clipped, gscale = clip_grads(grad, geo, icfg[I_CLIP], fcfg[F_CLIP], gn)
        ring_step[row] = step0 + k
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
        apply_update(theta, grad, m1, m2, delta, geo, icfg[I_OPT], lrs[k], opt_t0 + k + 1, fcfg, ls,
                     icfg[I_STATS] != 0, gscale)
        if (step0 + k + 1) % eval_every == 0:
            tl, ta = evaluate(xte, tte, theta, geo, icfg, fcfg, bnrun, ebuf, escratch, eout)
            gs[S_TEST_LOSS] = tl
            gs[S_TEST_ACC] = ta
    return n_steps, False


def set_blas_threads(n: int) -> None:
    """Limit BLAS threads, including SciPy's OpenBLAS that numba's ``np.dot`` loads lazily."""
    import scipy.linalg  # noqa: F401  (loads the BLAS numba will call, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")
