# mypy: ignore-errors
# (numba code: numba infers the types when it compiles; llvmlite has no stubs)
"""The compiled kernel of the fast path: many training updates in one call.

Importing this module imports numba; ``app.nn.fast`` does so inside a ``try``
so that the engine still works (on the numpy reference path) when numba
cannot load. Nothing here is public API: call ``app.nn.fast``.

``train_run`` repeats, for each mini-batch of a run, what the numpy reference
computes (``network.forward`` -> ``Task.loss`` -> ``network.backward`` ->
``regularization.add_penalty_grad`` -> ``optimizers.update``) so that both
paths give the same bits; ``evaluate`` does the same for ``network.evaluate``
(forward, loss and accuracy over a whole split). Elementwise arithmetic is IEEE-exact in both, so it
only has to keep numpy's order (``-lr * g`` is ``(-lr) * g``, ``(1 - b2) * g * g``
is ``((1 - b2) * g) * g``, no fused multiply-add). Where numpy's rounding
depends on code we cannot see, the kernel calls that very code:

- matrix products go to numpy's own BLAS (``cblas_dgemm``, ``cblas_dgemv``,
  ``cblas_ddot``) with the arguments numpy's ``matmul`` would pass, chosen by
  the same rules (``_matmul`` follows ``DOUBLE_matmul`` in numpy's
  ``matmul.c.src``); OpenBLAS picks its summation order per shape and CPU;
- ``tanh``, ``exp``, ``log`` and ``power`` call numpy's own inner loops (its
  SIMD versions differ from the C library's in the last bit).

Sums are numpy's: ``np.sum`` along a contiguous row or of a vector is its
pairwise sum (``_pairwise``); a column sum of a matrix wider than one column
adds the rows in order. ``np.logaddexp`` is a scalar C loop on the C
library's ``exp`` and ``log1p``, which numba calls too.

Function pointers arrive as int64 addresses (``fp``, see ``FP_*``), never as
globals, so that the compiled code can be cached on disk.

Layout: the parameters of all layers are one flat float64 vector ``P``,
layer by layer ``W`` (row-major ``[n_in x n_out]``) then ``b`` ``[n_out]``;
optimizer slots, trainable flags, gradients ``G`` and deltas ``D`` share it.
Activations ``A`` (``H`` before dropout), pre-activations ``Z`` and dropout
masks ``M`` of a batch of ``n`` rows are flat row-major blocks, one per layer.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# Codes shared with app.nn.fast (which maps names to them).
LINEAR, RELU, LEAKY_RELU, TANH, SIGMOID = 0, 1, 2, 3, 4
BINARY, PLAYGROUND, MULTICLASS, REGRESSION, HINGE = 0, 1, 2, 3, 4
SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP = 0, 1, 2, 3, 4
REG_NONE, REG_L1, REG_L2 = 0, 1, 2
# Indices into the ``hyper`` vector.
H_LR, H_MU, H_B1, H_B2, H_EPS, H_RHO, H_REG_RATE, H_DROP_RATE, H_DROP_SCALE = range(9)
N_HYPER = 9
# Indices into the ``fp`` vector of function addresses: numpy's BLAS entry
# points, then (loop, data) pairs of numpy's float64 ufunc loops.
FP_GEMM, FP_GEMV, FP_DOT = 0, 1, 2
FP_TANH, FP_EXP, FP_LOG, FP_POWER = 3, 5, 7, 9
N_FP = 11

LEAKY_SLOPE = 0.01  # app.nn.activations.LEAKY_SLOPE
_ROW_MAJOR, _COL_MAJOR, _NO_TRANS, _TRANS = 101, 102, 111, 112  # CBLAS enums
_BLAS_MAXSIZE = 2**63 - 2  # numpy's limit for a 64-bit-integer BLAS


def _jit(fn):
    # error_model="numpy": x / 0 gives inf or nan as in numpy instead of raising.
    try:
        return njit(cache=True, error_model="numpy")(fn)
    except RuntimeError:  # no writable cache directory: compile in memory only
        return njit(cache=False, error_model="numpy")(fn)


# ------------------------------------------------------------ foreign calls


def _ptr(builder, value):
    return builder.inttoptr(value, ir.IntType(8).as_pointer())


@intrinsic
def _call_loop(typingctx, fptr, args, dims, steps, data):
    """``loop(char **args, npy_intp *dims, npy_intp *steps, void *data)``."""
    sig = types.void(fptr, args, dims, steps, data)

    def codegen(context, builder, signature, ll):
        p = ir.IntType(8).as_pointer()
        fn = builder.inttoptr(ll[0], ir.FunctionType(ir.VoidType(), [p, p, p, p]).as_pointer())
        builder.call(fn, [_ptr(builder, a) for a in ll[1:]])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _call_dgemm(typingctx, fptr, order, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
    """``cblas_dgemm(order, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc)``, 64-bit ints."""
    sig = types.void(fptr, order, ta, tb, m, n, k, a, lda, b, ldb, c, ldc)

    def codegen(context, builder, signature, ll):
        i32, i64, dbl = ir.IntType(32), ir.IntType(64), ir.DoubleType()
        p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(),
                               [i32, i32, i32, i64, i64, i64, dbl, p, i64, p, i64, dbl, p, i64])
        fn = builder.inttoptr(ll[0], fnty.as_pointer())
        one, zero = ir.Constant(dbl, 1.0), ir.Constant(dbl, 0.0)
        enums = [builder.trunc(ll[i], i32) for i in (1, 2, 3)]
        builder.call(fn, [*enums, ll[4], ll[5], ll[6], one, _ptr(builder, ll[7]), ll[8],
                          _ptr(builder, ll[9]), ll[10], zero, _ptr(builder, ll[11]), ll[12]])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _call_dgemv(typingctx, fptr, order, trans, m, n, a, lda, x, incx, y, incy):
    """``cblas_dgemv(order, trans, m, n, 1.0, a, lda, x, incx, 0.0, y, incy)``, 64-bit ints."""
    sig = types.void(fptr, order, trans, m, n, a, lda, x, incx, y, incy)

    def codegen(context, builder, signature, ll):
        i32, i64, dbl = ir.IntType(32), ir.IntType(64), ir.DoubleType()
        p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(),
                               [i32, i32, i64, i64, dbl, p, i64, p, i64, dbl, p, i64])
        fn = builder.inttoptr(ll[0], fnty.as_pointer())
        one, zero = ir.Constant(dbl, 1.0), ir.Constant(dbl, 0.0)
        builder.call(fn, [builder.trunc(ll[1], i32), builder.trunc(ll[2], i32), ll[3], ll[4], one,
                          _ptr(builder, ll[5]), ll[6], _ptr(builder, ll[7]), ll[8], zero,
                          _ptr(builder, ll[9]), ll[10]])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _call_ddot(typingctx, fptr, n, x, incx, y, incy):
    """``cblas_ddot(n, x, incx, y, incy)``, 64-bit ints."""
    sig = types.float64(fptr, n, x, incx, y, incy)

    def codegen(context, builder, signature, ll):
        i64, dbl, p = ir.IntType(64), ir.DoubleType(), ir.IntType(8).as_pointer()
        fn = builder.inttoptr(ll[0], ir.FunctionType(dbl, [i64, p, i64, p, i64]).as_pointer())
        return builder.call(fn, [ll[1], _ptr(builder, ll[2]), ll[3], _ptr(builder, ll[4]), ll[5]])

    return sig, codegen


@_jit
def _addr(a, offset):
    return np.int64(a.ctypes.data) + 8 * np.int64(offset)


@_jit
def _unary(fp, which, scratch, src, s_off, dst, d_off, n):
    """numpy's contiguous float64 loop ``fp[which]``: ``dst[d_off:d_off+n] = f(src[s_off:...])``."""
    scratch[0] = _addr(src, s_off)
    scratch[1] = _addr(dst, d_off)
    scratch[2] = n
    scratch[3] = 8
    scratch[4] = 8
    base = _addr(scratch, 0)
    _call_loop(fp[which], base, base + 16, base + 24, fp[which + 1])


@_jit
def _power(fp, scratch, base_value, exps, out, n):
    """``out[:n] = np.power(base_value, exps[:n])`` through numpy's loop (scalar base: stride 0)."""
    box = np.empty(1)
    box[0] = base_value
    scratch[0] = _addr(box, 0)
    scratch[1] = _addr(exps, 0)
    scratch[2] = _addr(out, 0)
    scratch[3] = n
    scratch[4] = 0
    scratch[5] = 8
    scratch[6] = 8
    base = _addr(scratch, 0)
    _call_loop(fp[FP_POWER], base, base + 24, base + 32, fp[FP_POWER + 1])


# ---------------------------------------------------------------- matmul


@_jit
def _blasable(stride1, stride2, d1, d2):
    """numpy's ``is_blasable2d`` (byte strides)."""
    if stride2 != 8:
        return False
    unit = stride1 // 8
    return stride1 % 8 == 0 and unit >= d2 and unit <= _BLAS_MAXSIZE


@_jit
def _gemv(fp, a, a_off, is1_m, is1_n, x, x_off, is2_n, y, y_off, os, m, n):
    """numpy's ``DOUBLE_gemv``: ``y[m] = a[m x n] @ x[n]``."""
    if _blasable(is1_m, is1_n, m, n):
        order = _COL_MAJOR
        lda = is1_m // 8
    else:
        order = _ROW_MAJOR
        lda = is1_n // 8
    _call_dgemv(fp[FP_GEMV], order, _TRANS, n, m, _addr(a, a_off), lda, _addr(x, x_off), is2_n // 8,
                _addr(y, y_off), os // 8)


@_jit
def _noblas(a, a_off, is1_m, is1_n, b, b_off, is2_n, is2_p, c, c_off, dm, dn, dp):
    """numpy's ``DOUBLE_matmul_inner_noblas``: sums from 0 in order, no fused multiply-add."""
    for i in range(dm):
        for j in range(dp):
            acc = 0.0
            for k in range(dn):
                x = a[a_off + (i * is1_m + k * is1_n) // 8]
                acc = acc + x * b[b_off + (k * is2_n + j * is2_p) // 8]
            c[c_off + i * dp + j] = acc


@_jit
def _matmul(fp, a, a_off, is1_m, is1_n, b, b_off, is2_n, is2_p, c, c_off, dm, dn, dp):
    """``c[c_off:] = a @ b`` as numpy's ``DOUBLE_matmul`` computes it.

    ``a [dm x dn]``, ``b [dn x dp]`` start at the offsets with byte strides
    ``is1_m, is1_n`` and ``is2_n, is2_p`` (numpy's ``steps``); ``c`` is a
    C-contiguous ``[dm x dp]`` block. Our operands are C-contiguous matrices
    or their transposes, so every one is BLAS-able and the copying and the
    ``syrk`` (``x @ x.T`` of one buffer) branches of numpy never apply.
    """
    os_m = dp * 8
    os_p = 8
    if dm != 1 and dn != 1 and dp != 1:
        ldc = os_m // 8
        if _blasable(is1_m, is1_n, dm, dn):
            trans1 = _NO_TRANS
            lda = is1_m // 8
        else:
            trans1 = _TRANS
            lda = is1_n // 8
        if _blasable(is2_n, is2_p, dn, dp):
            trans2 = _NO_TRANS
            ldb = is2_n // 8
        else:
            trans2 = _TRANS
            ldb = is2_p // 8
        _call_dgemm(fp[FP_GEMM], _ROW_MAJOR, trans1, trans2, dm, dp, dn, _addr(a, a_off), lda,
                    _addr(b, b_off), ldb, _addr(c, c_off), ldc)
        return
    i1blasable = _blasable(is1_m, is1_n, dm, dn) or _blasable(is1_n, is1_m, dn, dm)
    i2blasable = _blasable(is2_n, is2_p, dn, dp) or _blasable(is2_p, is2_n, dp, dn)
    if dm == 1 and dp == 1:
        # DOUBLE_dot: BLAS when both strides are positive multiples of 8
        if is1_n > 0 and is1_n % 8 == 0 and is2_n > 0 and is2_n % 8 == 0:
            c[c_off] = 0.0 + _call_ddot(fp[FP_DOT], dn, _addr(a, a_off), is1_n // 8,
                                        _addr(b, b_off), is2_n // 8)
        else:
            acc = 0.0
            for k in range(dn):
                acc = acc + a[a_off + k * is1_n // 8] * b[b_off + k * is2_n // 8]
            c[c_off] = acc
    elif dn == 1 and (dp == 1 or dm == 1):
        _noblas(a, a_off, is1_m, is1_n, b, b_off, is2_n, is2_p, c, c_off, dm, dn, dp)
    elif dm == 1 and i2blasable and _blasable(is1_n, 8, dn, 1):
        _gemv(fp, b, b_off, is2_p, is2_n, a, a_off, is1_n, c, c_off, os_p, dp, dn)
    elif dp == 1 and i1blasable and _blasable(is2_n, 8, dn, 1):
        _gemv(fp, a, a_off, is1_m, is1_n, b, b_off, is2_n, c, c_off, os_m, dm, dn)
    else:
        _noblas(a, a_off, is1_m, is1_n, b, b_off, is2_n, is2_p, c, c_off, dm, dn, dp)


# ------------------------------------------------------------------- sums


@_jit
def _pairwise_block(a, start, n, stride):
    """numpy's pairwise sum for ``n <= 128``: one loop below 8 terms, else 8
    interleaved accumulators added as a tree, then the remainder."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[start + i * stride]
        return res
    r0 = a[start]
    r1 = a[start + stride]
    r2 = a[start + 2 * stride]
    r3 = a[start + 3 * stride]
    r4 = a[start + 4 * stride]
    r5 = a[start + 5 * stride]
    r6 = a[start + 6 * stride]
    r7 = a[start + 7 * stride]
    i = 8
    end = n - n % 8
    while i < end:
        p = start + i * stride
        r0 += a[p]
        r1 += a[p + stride]
        r2 += a[p + 2 * stride]
        r3 += a[p + 3 * stride]
        r4 += a[p + 4 * stride]
        r5 += a[p + 5 * stride]
        r6 += a[p + 6 * stride]
        r7 += a[p + 7 * stride]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i * stride]
        i += 1
    return res


@_jit
def _pairwise(a, start, n, stride):
    """numpy's pairwise sum of ``a[start + i * stride]``, ``i < n``.

    Above 128 terms numpy recurses on two halves (the first a multiple of 8
    long); numba's on-disk cache cannot hold a recursive function, so the
    recursion runs on an explicit stack: frame ``f`` covers ``(fs[f], fn[f])``
    and ``phase[f]`` is 0 (split it), 1 (left half summed) or 2 (both)."""
    if n <= 128:
        return _pairwise_block(a, start, n, stride)
    depth = 64
    fs = np.empty(depth, np.int64)
    fn = np.empty(depth, np.int64)
    phase = np.zeros(depth, np.int64)
    left = np.empty(depth)
    right = np.empty(depth)
    top = 0
    fs[0] = start
    fn[0] = n
    while True:
        cs = fs[top]
        cn = fn[top]
        if cn > 128 and phase[top] < 2:
            n2 = cn // 2
            n2 -= n2 % 8
            top += 1
            if phase[top - 1] == 0:
                fs[top] = cs
                fn[top] = n2
            else:
                fs[top] = cs + n2 * stride
                fn[top] = cn - n2
            phase[top] = 0
            continue
        if cn <= 128:
            value = _pairwise_block(a, cs, cn, stride)
        else:
            value = left[top] + right[top]
        top -= 1
        if top < 0:
            return value
        if phase[top] == 0:
            left[top] = value
        else:
            right[top] = value
        phase[top] += 1


# ------------------------------------------------------ activations, loss


@_jit
def _logaddexp0(z):
    """numpy's ``logaddexp(0, z)`` (``npy_logaddexp``)."""
    if z == 0.0:
        return 0.0 + math.log(2.0)
    tmp = -z
    if tmp > 0:
        return math.log1p(math.exp(-tmp))
    if tmp <= 0:
        return z + math.log1p(math.exp(tmp))
    return tmp  # NaN


@_jit
def _sigmoid_block(fp, scratch, Z, H, tmp, start, count):
    """``activations.sigmoid``: ``e = exp(-|z|)``; ``where(z >= 0, 1, e) / (1 + e)``."""
    for e in range(count):
        tmp[e] = -abs(Z[start + e])
    _unary(fp, FP_EXP, scratch, tmp, 0, tmp, 0, count)
    for e in range(count):
        ex = tmp[e]
        H[start + e] = (1.0 if Z[start + e] >= 0 else ex) / (1.0 + ex)


@_jit
def _activate(fp, scratch, code, Z, H, tmp, start, count):
    """``H[start:start+count] = act(Z[...])`` for a hidden activation ``code``."""
    if code == TANH:
        _unary(fp, FP_TANH, scratch, Z, start, H, start, count)
    elif code == SIGMOID:
        _sigmoid_block(fp, scratch, Z, H, tmp, start, count)
    else:
        for e in range(start, start + count):
            z = Z[e]
            if code == RELU:
                H[e] = z if (z > 0.0 or z != z) else 0.0  # np.maximum(z, 0): NaN stays NaN
            elif code == LEAKY_RELU:
                H[e] = z if z > 0 else LEAKY_SLOPE * z
            else:
                H[e] = z


@_jit
def _derivative(code, z, a):
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return 1.0 if z > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if z > 0 else LEAKY_SLOPE
    if code == SIGMOID:
        return a * (1.0 - a)
    return 1.0


@_jit
def _output_and_loss(fp, scratch, task, Z, A, T, zo, n, K, rows, tmp, tmp2):
    """The output layer ``A[zo:zo+n*K]`` from ``Z`` and the mean batch loss
    against the targets ``T [n x K]`` (``Task.output`` and ``Task.loss`` with ``z``)."""
    count = n * K
    if task == PLAYGROUND:
        _unary(fp, FP_TANH, scratch, Z, zo, A, zo, count)
    elif task == BINARY:
        _sigmoid_block(fp, scratch, Z, A, tmp, zo, count)
    elif task in (REGRESSION, HINGE):
        for e in range(count):
            A[zo + e] = Z[zo + e]
    else:
        # softmax and log_softmax: shifted = z - max(z); exp; row sums; log
        for i in range(n):
            base = zo + i * K
            zmax = Z[base]
            for k in range(1, K):
                if zmax != zmax:
                    break
                zk = Z[base + k]
                if zk > zmax or zk != zk:
                    zmax = zk
            for k in range(K):
                tmp[i * K + k] = Z[base + k] - zmax
        _unary(fp, FP_EXP, scratch, tmp, 0, tmp2, 0, count)
        for i in range(n):
            rows[i] = 0.0 + _pairwise(tmp2, i * K, K, 1)
            for k in range(K):
                A[zo + i * K + k] = tmp2[i * K + k] / rows[i]
        _unary(fp, FP_LOG, scratch, rows, 0, rows, 0, n)  # logsumexp - max, per row
        for i in range(n):
            for k in range(K):
                tmp2[i * K + k] = T[i * K + k] * (tmp[i * K + k] - rows[i])
    for i in range(n):
        if task == MULTICLASS:
            rows[i] = 0.0 + _pairwise(tmp2, i * K, K, 1)
            continue
        for k in range(K):
            e = i * K + k
            if task == BINARY:
                z = Z[zo + e]
                tmp[k] = _logaddexp0(z) - T[e] * z
            elif task == HINGE:
                m = 1.0 - T[e] * A[zo + e]
                tmp[k] = m if (m > 0.0 or m != m) else 0.0  # np.maximum(m, 0): NaN stays NaN
            else:
                d = A[zo + e] - T[e]
                tmp[k] = d * d
        rows[i] = 0.0 + (tmp[0] if K == 1 else _pairwise(tmp, 0, K, 1))
    mean = (0.0 + _pairwise(rows, 0, n, 1)) / n
    if task == MULTICLASS:
        return -mean
    if task in (BINARY, HINGE):
        return mean
    return 0.5 * mean


# ----------------------------------------------------------------- kernel


@_jit
def train_run(X, Y, idx, starts, sizes, acts, task, opt, reg, hyper, fp,
              P, S1, S2, St, trainable, any_frozen, U, losses, G, D):
    """Run ``len(starts) - 1`` updates; batch ``u`` is ``idx[starts[u]:starts[u+1]]``.

    ``X [N x F]``, ``Y [N x K]`` the training set (C-contiguous); ``sizes``
    the layer sizes ``(F, *hidden, K)``; ``acts`` hidden activation codes;
    ``hyper`` the ``H_*`` values; ``fp`` the ``FP_*`` addresses. Mutates
    ``P`` and the slots of ``opt`` (``S1``: velocity, Adam's m or RMSprop's
    s; ``S2``: Adam's v; ``St``: Adam's per-entry t). ``U``: the dropout
    uniforms of every update in order (unused at dropout rate 0). Writes
    ``losses[u]`` and, of the last update run, the gradients ``G`` and
    increments ``D``. Stops after an update whose loss is not finite; returns
    how many updates ran.
    """
    L = sizes.shape[0] - 1
    n_updates = starts.shape[0] - 1
    lr = hyper[H_LR]
    mu = hyper[H_MU]
    b1 = hyper[H_B1]
    b2 = hyper[H_B2]
    eps = hyper[H_EPS]
    rho = hyper[H_RHO]
    reg_rate = hyper[H_REG_RATE]
    drop_rate = hyper[H_DROP_RATE]
    drop_scale = hyper[H_DROP_SCALE]
    dropping = drop_rate > 0 and L > 1
    n_params = P.shape[0]

    woff = np.empty(L, np.int64)
    boff = np.empty(L, np.int64)
    o = 0
    for l in range(L):
        woff[l] = o
        o += sizes[l] * sizes[l + 1]
        boff[l] = o
        o += sizes[l + 1]
    nmax = 1
    for u in range(n_updates):
        nmax = max(nmax, starts[u + 1] - starts[u])
    width = 1
    for l in range(L + 1):
        width = max(width, sizes[l])
    aoff = np.empty(L + 1, np.int64)
    total = 0
    for l in range(L + 1):
        aoff[l] = total
        total += nmax * sizes[l]
    A = np.empty(total)   # A[l]: input of layer l (after dropout); A[L]: output
    H = np.empty(total)   # the same before dropout
    Z = np.empty(total)   # Z of layer l lives in the slot of A[l + 1]
    M = np.empty(total)   # dropout masks, slot of A[l + 1]
    dZ = np.empty(nmax * width)
    dA = np.empty(nmax * width)
    K = sizes[L]
    T = np.empty(nmax * K)
    rows = np.empty(nmax)
    tmp = np.empty(nmax * width)
    tmp2 = np.empty(nmax * width)
    scratch = np.zeros(16, np.int64)
    # L1 stops weights (not biases) at zero: optimizers.update(stop_at_zero=True)
    stop_at_zero = reg == REG_L1 and reg_rate > 0
    is_weight = np.zeros(n_params, np.bool_)
    for l in range(L):
        for e in range(woff[l], boff[l]):
            is_weight[e] = True
    # Adam's bias corrections np.power(beta, t): trainable entries all step
    # together, so only their few distinct counts need numpy's power loop.
    n_counts = 0
    t_index = np.zeros(n_params, np.int64)
    counts = np.empty(0, np.int64)
    if opt == ADAM:
        start_t = np.empty(n_params, np.int64)
        for e in range(n_params):
            if not any_frozen or trainable[e]:
                start_t[n_counts] = St[e]
                n_counts += 1
        ordered = np.sort(start_t[:n_counts])
        counts = np.empty(n_counts, np.int64)
        k = 0
        for i in range(n_counts):
            if k == 0 or ordered[i] != counts[k - 1]:
                counts[k] = ordered[i]
                k += 1
        n_counts = k
        counts = counts[:k]
        for e in range(n_params):
            if not any_frozen or trainable[e]:
                t_index[e] = np.searchsorted(counts, St[e])
    t_float = np.empty(max(n_counts, 1))
    pow1 = np.empty(max(n_counts, 1))
    pow2 = np.empty(max(n_counts, 1))

    u_pos = 0
    done = 0
    F = sizes[0]
    for u in range(n_updates):
        s0 = starts[u]
        n = starts[u + 1] - s0
        for i in range(n):
            r = idx[s0 + i]
            for k in range(F):
                A[i * F + k] = X[r, k]
            for k in range(K):
                T[i * K + k] = Y[r, k]

        # forward: Z = A @ W; Z += b; H = act(Z); A = H * mask
        for l in range(L):
            n_in = sizes[l]
            n_out = sizes[l + 1]
            zo = aoff[l + 1]
            _matmul(fp, A, aoff[l], n_in * 8, 8, P, woff[l], n_out * 8, 8, Z, zo, n, n_in, n_out)
            b0 = boff[l]
            for i in range(n):
                for j in range(n_out):
                    Z[zo + i * n_out + j] = Z[zo + i * n_out + j] + P[b0 + j]
            if l < L - 1:
                _activate(fp, scratch, acts[l], Z, H, tmp, zo, n * n_out)
                for e in range(zo, zo + n * n_out):
                    if dropping:
                        m = drop_scale if U[u_pos] >= drop_rate else 0.0
                        u_pos += 1
                        M[e] = m
                        A[e] = H[e] * m
                    else:
                        A[e] = H[e]
        zo = aoff[L]
        loss = _output_and_loss(fp, scratch, task, Z, A, T, zo, n, K, rows, tmp, tmp2)

        # backward: dZ of the output layer (already / n), then layer by layer
        for e in range(n * K):
            out = A[zo + e]
            if task == PLAYGROUND:
                dZ[e] = (out - T[e]) * (1.0 - out * out) / n
            elif task == HINGE:
                # losses._hinge_dz: -t / n strictly inside the margin, else 0 (the subgradient at the kink)
                dZ[e] = (-T[e]) / n if 1.0 - T[e] * out > 0.0 else 0.0 / n
            else:
                dZ[e] = (out - T[e]) / n
        for l in range(L - 1, -1, -1):
            n_in = sizes[l]
            n_out = sizes[l + 1]
            ai = aoff[l]
            w0 = woff[l]
            b0 = boff[l]
            # dW = A.T @ dZ (A.T: byte strides 8, n_in * 8)
            _matmul(fp, A, ai, 8, n_in * 8, dZ, 0, n_out * 8, 8, G, w0, n_in, n, n_out)
            if n_out == 1:
                G[b0] = 0.0 + _pairwise(dZ, 0, n, 1)
            else:
                for j in range(n_out):
                    acc = 0.0
                    for i in range(n):
                        acc += dZ[i * n_out + j]
                    G[b0 + j] = acc
            if l > 0:
                # dA = dZ @ W.T; dA *= mask; dA *= act'(Z, H)
                _matmul(fp, dZ, 0, n_out * 8, 8, P, w0, 8, n_out * 8, dA, 0, n, n_out, n_in)
                code = acts[l - 1]
                for i in range(n):
                    for k in range(n_in):
                        e = ai + i * n_in + k
                        g = dA[i * n_in + k]
                        if dropping:
                            g = g * M[e]
                        dA[i * n_in + k] = g * _derivative(code, Z[e], H[e])
                dZ, dA = dA, dZ

        if reg != REG_NONE and reg_rate != 0:
            for l in range(L):
                for e in range(woff[l], boff[l]):
                    w = P[e]
                    if reg == REG_L2:
                        G[e] += reg_rate * w
                    else:
                        sign = 1.0 if w > 0 else (-1.0 if w < 0 else (0.0 if w == 0 else w))
                        G[e] += reg_rate * sign

        # optimizer update, entry by entry as app.nn.optimizers does array-wise
        if opt == ADAM and n_counts > 0:
            for i in range(n_counts):
                t_float[i] = float(counts[i] + u + 1)
            _power(fp, scratch, b1, t_float, pow1, n_counts)
            _power(fp, scratch, b2, t_float, pow2, n_counts)
        for e in range(n_params):
            if any_frozen and not trainable[e]:
                D[e] = 0.0
                continue
            g = G[e]
            if opt == MOMENTUM:
                v = S1[e] * mu + g
                S1[e] = v
                d = -lr * v
            elif opt == NESTEROV:
                v = S1[e] * mu + g
                S1[e] = v
                d = -lr * (g + mu * v)
            elif opt == ADAM:
                St[e] += 1
                m = S1[e] * b1 + (1.0 - b1) * g
                S1[e] = m
                v = S2[e] * b2 + (1.0 - b2) * g * g
                S2[e] = v
                step_size = lr / (1.0 - pow1[t_index[e]])
                denom = math.sqrt(v) / math.sqrt(1.0 - pow2[t_index[e]]) + eps
                d = -step_size * (m / denom)
            elif opt == RMSPROP:
                s = S1[e] * rho + (1.0 - rho) * g * g
                S1[e] = s
                d = -lr * (g / (math.sqrt(s) + eps))
            else:
                d = -lr * g
            new = P[e] + d
            if stop_at_zero and is_weight[e] and ((P[e] > 0 and new < 0) or (P[e] < 0 and new > 0)):
                # L1 stops a weight that crosses zero at zero (optimizers._stop_at_zero)
                d = -P[e]
                new = 0.0
                if opt != SGD and opt != RMSPROP:
                    S1[e] = 0.0  # momentum's velocity, Adam's first moment
            P[e] = new
            D[e] = d

        losses[u] = loss
        done = u + 1
        if not math.isfinite(loss):
            break
    return done


# ------------------------------------------------------------- evaluation


@_jit
def _argmax(a, start, n):
    """numpy's ``argmax`` of ``a[start:start+n]``: the first maximum, or the first NaN."""
    best = 0
    top = a[start]
    if top != top:
        return 0
    for k in range(1, n):
        v = a[start + k]
        if not v <= top:  # larger, or NaN
            best = k
            top = v
            if v != v:
                break
    return best


@_jit
def _accuracy(task, A, T, n, K):
    """``Task.accuracy(out, Y)`` of the outputs ``A [n x K]`` against ``T``:
    the mean of a boolean array is a count divided by its size (exact)."""
    right = 0
    if task == MULTICLASS:
        for i in range(n):
            if _argmax(A, i * K, K) == _argmax(T, i * K, K):
                right += 1
        return right / n
    cut = 0.5 if task == BINARY else 0.0  # a probability, or a tanh output or hinge score
    for e in range(n * K):
        if (A[e] > cut) == (T[e] > cut):
            right += 1
    return right / (n * K)


@_jit
def evaluate(X, Y, sizes, acts, task, fp, P):
    """Mean loss and accuracy of the network ``P`` on all of ``X [N x F]``
    against ``Y [N x K]`` (both C-contiguous, ``N >= 1``), as
    ``network.forward`` -> ``Task.loss(out, Y, z)`` -> ``Task.accuracy`` give
    them: no dropout, nothing kept but two layers' worth of activations.
    Returns ``(loss, accuracy)``, accuracy NaN for regression (no accuracy).
    """
    L = sizes.shape[0] - 1
    n = X.shape[0]
    K = sizes[L]
    width = 1
    for l in range(L + 1):
        width = max(width, sizes[l])
    A = np.empty(n * width)  # a hidden layer's output, then the network's
    Z = np.empty(n * width)
    tmp = np.empty(n * width)
    tmp2 = np.empty(n * width)
    rows = np.empty(n)
    scratch = np.zeros(16, np.int64)
    x = X.reshape(X.size)
    o = 0
    for l in range(L):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        # Z = A @ W (numpy's product on the same operands); Z += b
        if l == 0:
            _matmul(fp, x, 0, n_in * 8, 8, P, o, n_out * 8, 8, Z, 0, n, n_in, n_out)
        else:
            _matmul(fp, A, 0, n_in * 8, 8, P, o, n_out * 8, 8, Z, 0, n, n_in, n_out)
        o += n_in * n_out
        for i in range(n):
            for j in range(n_out):
                Z[i * n_out + j] = Z[i * n_out + j] + P[o + j]
        o += n_out
        if l < L - 1:
            _activate(fp, scratch, acts[l], Z, A, tmp, 0, n * n_out)
    T = Y.reshape(Y.size)
    loss = _output_and_loss(fp, scratch, task, Z, A, T, 0, n, K, rows, tmp, tmp2)
    if task == REGRESSION:
        return loss, math.nan
    return loss, _accuracy(task, A, T, n, K)


@_jit
def probe_unary(fp, which, x):
    """numpy's loop ``fp[which]`` applied to ``x`` (for the start-up self-test)."""
    out = np.empty_like(x)
    scratch = np.zeros(16, np.int64)
    _unary(fp, which, scratch, x, 0, out, 0, x.shape[0])
    return out


@_jit
def probe_power(fp, base_value, x):
    """``np.power(base_value, x)`` through numpy's loop (for the self-test)."""
    out = np.empty_like(x)
    scratch = np.zeros(16, np.int64)
    _power(fp, scratch, base_value, x, out, x.shape[0])
    return out


@_jit
def probe_matmul(fp, a, is1_m, is1_n, b, is2_n, is2_p, dm, dn, dp):
    """``a @ b`` through ``_matmul`` with the given byte strides (for tests)."""
    c = np.empty(dm * dp)
    _matmul(fp, a, 0, is1_m, is1_n, b, 0, is2_n, is2_p, c, 0, dm, dn, dp)
    return c
