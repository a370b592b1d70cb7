#!/usr/bin/env python3
"""High-precision oracle for the suite's value cases: writes spec/recorded/exact.json.

For every value case of the export (`cross-entropy-spec cases --json`, one line per case and
dtype) this computes, with mpmath at 60 significant digits (`--dps`), the exact result of the op
on the case's inputs *as stored in that dtype* (every input is an exact binary float), and the
exact value of PyTorch's *defined* gradient of the sum of
the output with respect to `input` (what `out.sum().backward()` leaves in `input.grad`; the
closed forms of spec/10-gradients.md and src/reference/grad.rs). Error cases (`expect_error`) are
skipped. Nothing goes through PyTorch or float arithmetic: every op is written out directly.

Usage (from the repository root; needs `mpmath`, and uses `numpy` when present to cross-check the
parsing of float32 decimals):

    cargo build --release
    python3 scripts/exact_values.py --bin target/release/cross-entropy-spec \
        -o spec/recorded/exact.json

or, with an export and a reference command given separately:

    cross-entropy-spec cases --json > cases.jsonl
    python3 scripts/exact_values.py --export cases.jsonl \
        --reference "cross-entropy-spec eval" -o spec/recorded/exact.json

Options: `--date YYYY-MM-DD` (the `generated` field; default today, so that the output only
changes when its content does), `--dps N` (60), `--filter SUBSTRING` (only ids containing it, for
debugging), `--no-reference` (do not run the reference at all).

The reference (`--bin ... eval`, or `--reference CMD`) is used for two things only: the sign of
exact zeros (the oracle's numbers carry no signed zero; a zero result is written "-0" where the
reference's own result is -0.0), and a cross-check of the
output dtype that the oracle derives from PyTorch's promotion rules (the reference's dtype is
recorded; a disagreement is reported on stderr). Without a reference zeros are written "0".

Output, `json.dump(indent=1, sort_keys=True)`:

    {"tool": "scripts/exact_values.py", "mpmath": ..., "python": ..., "digits": 60,
     "generated": "YYYY-MM-DD",
     "values": {"<case>@<dtype>": {"digest": <the export's "digest" or null>,
         "output": {"dtype": ..., "shape": [...], "data": ["<25 significant digits>", ...]},
         "grad_input": {...}}}}

Data are decimal strings with 25 significant digits that Rust's `str::parse::<f64>` reads
("0.0900305731703804579980221", "-4.248354255291588977280721e-18", "100"), or "nan", "inf",
"-inf", "0", "-0". An exact value below the dtype's range is written as it is
("5.075958897549456765291809e-435"; it parses to 0).

How it computes:

* Inputs are read exactly: each decimal is rounded once, to nearest-even, to the tensor's dtype
  (a float32 decimal is never read as a double first; numpy.float32 cross-checks it), and kept
  as a Fraction. Rational steps (NLL, BCE's gradient, weights, label smoothing, the 'mean'
  denominators, the upstream gradients of cross-entropy, sums of these) stay Fractions, so they
  are exact and an exact zero is known to be one; exp/log/log1p/expm1 results are mpf numbers
  at the working precision (60 digits).
* Where a finite result would lose digits to cancellation in the textbook formula, a
  mathematically equal form without the cancellation is used: log-sum-exp as m + log1p(sum of
  the non-maximal terms); log_softmax's backward g_j - s_j sum(g) split into an exact rational
  part plus expm1 terms (so 1 - s_t ~ 1e-435 and 1 - C s_j in a nearly uniform slice keep all
  their digits, and a uniform slice gives an exact 0); sigmoid'(x) = sigmoid(x) sigmoid(-x);
  BCE-with-logits as a sum of non-negative terms (softplus) and its gradient as
  (1 - y) sigmoid(x) - p y sigmoid(-x).
* Precision guard: each case is computed at --dps and at --dps + 40 digits; if an element differs
  by more than 1e-35 relative between the two, or if inexact terms cancelled to an exact 0
  anywhere, it is recomputed at 200, 440, 1080, 2960 digits until two runs agree without such a
  cancellation (reported on stderr as "needed N digits").

Semantic choices (where "exact" needs a definition):

* Special values follow PyTorch's formula structure, evaluated in extended reals with IEEE rules
  (inf - inf = nan, 0 * inf = nan, x / +0 = +-inf, 0 / 0 = nan): softmax/log_softmax subtract the
  slice's NaN-propagating maximum (a slice with +inf, NaN, or only -inf is NaN throughout;
  log_softmax is -inf at a -inf entry of a finite slice); BCE-with-logits is
  (1 - y) x - lw log_sigmoid(x), lw = (pos_weight - 1) y + 1 (x = +inf, y = 1 gives NaN, as in
  PyTorch, though the limit is 0); cross-entropy with class indices is nll_loss of log_softmax,
  with smoothing (1 - eps) nll + smooth (eps / C), smooth = -sum_c w_c lp_c masked to 0 on
  ignored rows; with probabilities -sum_c lp_c q'_c w_c, q' = q (1 - eps) + eps / C; BCE is
  w [(y - 1) max(log1p(-x), -100) - y max(log x, -100)]. Gradients are PyTorch's backward
  formulas (spec/10-gradients.md): dL/dlp then log_softmax's backward g - exp(lp) sum(g) (an
  ignored row whose softmax is NaN is NaN; an all-ignored 'mean' has a zero gradient although its
  value is NaN; a zero total weight with valid targets makes those rows NaN); sigmoid'
  = (1 - s) s (0 at +-inf); softmax's gradient of the sum is s (1 - sum s) = 0 exactly (NaN on a
  NaN slice), where PyTorch returns rounding residues; BCE: w (x - y) / max((1 - x) x, EPS) (the
  backward does not know the forward's clamp: -1/EPS at x = 0, y = 1); BCE-with-logits:
  w [(p y + 1 - y) sigmoid(x) - p y]; 'mean' divides by numel for the binary losses, by the
  total weight D of the valid targets for cross-entropy/nll with indices, by the number of rows
  for probabilities (NaN when empty).
* label_smoothing eps is the exact value of the double the request carries; 1 - eps and eps / C
  are exact (PyTorch rounds them to the compute dtype: up to half an ulp in float32).
  Smoothing applies only when eps > 0 (NaN and negative values mean none, as in PyTorch).
* BCE's backward EPS is PyTorch's `constexpr float EPSILON = 1e-12`: the float32 nearest 1e-12
  (9.999999960041972e-13), in both dtypes, applied exactly as max((1 - x) x, EPS).
* The sign of an exact zero is the reference's (see above); 'mean' of nothing is NaN.
* An exact value that overflows the output dtype (|x| >= MAX + ulp(MAX)/2, which round-to-nearest
  turns into infinity) is written "inf"/"-inf" (e.g. log_softmax([3.4e38, -3.4e38]) in float32).
* The output dtype is the input's, except that BCE-with-logits (input, target) and
  cross-entropy with probabilities (input, target, weight) promote to float64 when any of them is
  float64; the gradient has the input's dtype.
"""

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import mpmath
from mpmath import mp, mpf

try:  # only for cross-checking the exact float32 parsing
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

NAN = mpf("nan")
INF = mpf("inf")
NINF = mpf("-inf")
LOG_FLOOR = -100  # BCE clamps each log at -100

DTYPE_INFO = {
    # (mantissa bits incl. hidden, min normal exponent, max finite)
    "float32": (24, -126, (2 - Fraction(1, 2**23)) * Fraction(2) ** 127),
    "float64": (53, -1022, (2 - Fraction(1, 2**52)) * Fraction(2) ** 1023),
    "float16": (11, -14, Fraction(65504)),
    "bfloat16": (8, -126, (2 - Fraction(1, 2**7)) * Fraction(2) ** 127),
}


# ---------------------------------------------------------------------------- parsing

def round_fraction(q, dtype):
    """The float of `dtype` nearest the rational q (ties to even), as a Fraction, or +-inf."""
    if q == 0:
        return Fraction(0)
    bits, emin, fmax = DTYPE_INFO[dtype]
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, emin)  # subnormals share the quantum of the smallest normal binade
    quantum = Fraction(2) ** (e - (bits - 1))
    n = a / quantum
    k = n.numerator // n.denominator
    rest = n - k
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and k % 2 == 1):
        k += 1
    r = k * quantum
    if r > fmax:
        return None  # overflow: the caller maps it to an infinity
    return sign * r


# PyTorch's BCE backward EPSILON is a C++ float: `constexpr float EPSILON = 1e-12`.
BCE_EPS = round_fraction(Fraction(1, 10**12), "float32")


class DecText(str):
    """A JSON number kept as its decimal text (json.loads(..., parse_float=DecText))."""


def parse_float(v, dtype):
    """An exact Fraction (or an mpf special) for one element of a floating tensor.

    The decimal text is read exactly and rounded once to the tensor's dtype (ties to even):
    a float32 decimal is never read as a double first. numpy.float32(text) cross-checks it."""
    if isinstance(v, str) and not isinstance(v, DecText):
        return {"nan": NAN, "inf": INF, "-inf": NINF}[v]
    text = str(v)
    exact = Fraction(Decimal(text))
    r = round_fraction(exact, dtype)
    if r is None:
        return INF if exact > 0 else NINF
    if dtype == "float32" and np is not None:
        check = Fraction(float(np.float32(text)))
        assert check == r, f"float32 parse mismatch for {text}: {check} vs {r}"
    if dtype == "float64":
        assert Fraction(float(text)) == r, text
    return r


def to_mpf(x):
    """An mpf of a hybrid value (exact for every float input: mpf has no exponent limit)."""
    if isinstance(x, Fraction):
        return mpf(x.numerator) / x.denominator
    if isinstance(x, int):
        return mpf(x)
    return x


M = to_mpf


class Tensor:
    def __init__(self, dtype, shape, data):
        self.dtype = dtype
        self.shape = list(shape)
        self.data = data  # flat, row-major: int, or hybrid values (see below)

    @property
    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n


def read_tensor(t):
    if t["dtype"] == "int64":
        return Tensor("int64", t["shape"], [int(v) for v in t["data"]])
    return Tensor(t["dtype"], t["shape"], [parse_float(v, t["dtype"]) for v in t["data"]])


# ---------------------------------------------------------------------------- arithmetic
#
# A *hybrid* value is a Fraction (exact, finite) or an mpf (the result of a transcendental
# function, or NaN/+-inf). Rational operations on Fractions stay exact, so results that are
# rational (NLL, BCE's gradient, the coefficients of cross-entropy's gradient, sums of them)
# are exact, and exact zeros are recognised as such; anything else is mpf at the working
# precision, with IEEE rules for the specials (inf - inf = nan, 0 * inf = nan, x / 0).

def exact(x):
    return isinstance(x, (Fraction, int))


def isnan(x):
    return not exact(x) and mpmath.isnan(x)


def isinf(x):
    return not exact(x) and mpmath.isinf(x)


def finite(x):
    return exact(x) or mpmath.isfinite(x)


# Set when inexact terms cancel to exactly 0: the zero may be a loss of all digits, so the
# precision guard must not trust it (see evaluate_checked).
CANCELLED = [False]


def _checked(result, *terms):
    if result == 0 and any(not exact(t) and t != 0 for t in terms):
        CANCELLED[0] = True
    return result


def add(a, b):
    return Fraction(a) + b if exact(a) and exact(b) else _checked(M(a) + M(b), a, b)


def sub(a, b):
    return Fraction(a) - b if exact(a) and exact(b) else _checked(M(a) - M(b), a, b)


def mul(a, b):
    return Fraction(a) * b if exact(a) and exact(b) else M(a) * M(b)  # 0 * inf = nan


def neg(a):
    return -a


def div(a, b):
    """IEEE division; a zero denominator is +0 (PyTorch's sums and counts give +0)."""
    if isnan(a) or isnan(b):
        return NAN
    if b == 0:
        if a == 0:
            return NAN
        return INF if M(a) > 0 else NINF
    if exact(a) and exact(b):
        return Fraction(a) / b
    return M(a) / M(b)


def hmax(a, b):
    """max of two non-NaN values (BCE's clamp)."""
    return a if M(a) >= M(b) else b


def hsum(values):
    values = list(values)
    if all(exact(v) for v in values):
        return sum(values, Fraction(0))
    if any(isnan(v) for v in values):
        return NAN
    pos = any(isinf(v) and v > 0 for v in values)
    neg_ = any(isinf(v) and v < 0 for v in values)
    if pos and neg_:
        return NAN
    if pos:
        return INF
    if neg_:
        return NINF
    return _checked(mpmath.fsum([M(v) for v in values]), *values)


def nan_max(values):
    m = NINF
    for v in values:
        if isnan(v):
            return NAN
        if M(v) > M(m):
            m = v
    return m


def sigmoid(x):
    if isnan(x):
        return NAN
    if x == INF:
        return Fraction(1)
    if x == NINF:
        return Fraction(0)
    if x == 0:
        return Fraction(1, 2)
    return 1 / (1 + mpmath.exp(-M(x)))


def log_sigmoid(x):
    """log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)) (PyTorch's stable form, exact here)."""
    if isnan(x):
        return NAN
    if x == INF:
        return Fraction(0)
    if x == NINF:
        return NINF
    x = M(x)
    return min(x, 0) - mpmath.log1p(mpmath.exp(-abs(x)))


def softplus(x):
    """log(1 + exp(x)) = -log sigmoid(-x), for finite x, without cancellation."""
    x = M(x)
    if x > 0:
        return x + mpmath.log1p(mpmath.exp(-x))
    return mpmath.log1p(mpmath.exp(x))


# ---------------------------------------------------------------------------- shapes

def lanes(shape, axis):
    """Flat indices of every 1-D slice along `axis`, slices in row-major order of the rest."""
    if not shape:
        return [[0]]
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    outer = [s for i, s in enumerate(shape) if i != axis]
    outer_strides = [strides[i] for i in range(len(shape)) if i != axis]
    n_outer = 1
    for s in outer:
        n_outer *= s
    result = []
    for k in range(n_outer):
        base, rem = 0, k
        for s, st in zip(reversed(outer), reversed(outer_strides)):
            base += (rem % s) * st
            rem //= s
        result.append([base + j * strides[axis] for j in range(shape[axis])])
    return result


def broadcast_to(t, shape):
    """Flat values of tensor t broadcast by trailing dimensions to `shape` (or None)."""
    if t is None:
        return None
    nd = len(shape)
    ws = [1] * (nd - len(t.shape)) + list(t.shape)
    assert len(ws) == nd, (t.shape, shape)
    wstrides = [0] * nd
    acc = 1
    for i in range(nd - 1, -1, -1):
        assert ws[i] in (1, shape[i]), (t.shape, shape)
        wstrides[i] = 0 if ws[i] == 1 else acc
        acc *= ws[i]
    numel = 1
    for s in shape:
        numel *= s
    out = []
    for k in range(numel):
        rem, off = k, 0
        for i in range(nd - 1, -1, -1):
            off += (rem % shape[i]) * wstrides[i]
            rem //= shape[i]
        out.append(t.data[off])
    return out


def normalize_dim(dim, ndim):
    return dim + max(ndim, 1) if dim < 0 else dim


# ---------------------------------------------------------------------------- one softmax slice

class Row:
    """One slice along the class (softmax) dimension.

    PyTorch subtracts the NaN-propagating maximum m: a slice with +inf (inf - inf), NaN, or
    only -inf (-inf - -inf) is NaN throughout. Otherwise the slice's distinct values v_K
    (multiplicity n_K) give E_K = exp(v_K - m) and S = sum_K n_K E_K = 1 + rest, where rest
    excludes one maximal element (positive terms), so log S = log1p(rest) keeps every digit.
    Values within 1 of the maximum ("near") also keep d_K = expm1(v_K - m) = E_K - 1, so
    that linear combinations of the E_K split into an exact rational part and small terms."""

    def __init__(self, xs):
        self.xs = xs
        self.n = len(xs)
        self.m = nan_max(xs)
        self.special = self.n > 0 and not finite(self.m)
        self.rest, self.total = Fraction(0), Fraction(1)
        if self.special or self.n == 0:
            return
        keys, index = [], {}
        for x in xs:
            k = M(x)  # exact: every float fits an mpf
            if k not in index:
                index[k] = len(keys)
                keys.append(x)
        self.group = [index[M(x)] for x in xs]
        self.count = [0] * len(keys)
        for g in self.group:
            self.count[g] += 1
        self.near, self.d, self.e = [], [], []
        for v in keys:
            if v == NINF:
                near, d, e = False, None, Fraction(0)
            elif v == self.m:
                near, d, e = True, Fraction(0), Fraction(1)
            else:
                delta = M(sub(v, self.m))  # <= 0
                near = delta > -1
                d = mpmath.expm1(delta) if near else None
                e = mpmath.exp(delta)
            self.near.append(near)
            self.d.append(d)
            self.e.append(e)
        top = index[M(self.m)]
        parts = [mul(Fraction(c - (i == top)), e)
                 for i, (c, e) in enumerate(zip(self.count, self.e))]
        self.rest = hsum(parts)  # positive terms
        self.total = add(self.rest, Fraction(1))
        # S = n_near + d_near + e_far: an integer, a sum of terms <= 0, a sum of terms > 0
        self.n_near = sum(c for c, nr in zip(self.count, self.near) if nr)
        self.d_near = hsum(mul(Fraction(c), d) for c, d, nr in zip(self.count, self.d, self.near)
                           if nr)
        self.e_far = hsum(mul(Fraction(c), e) for c, e, nr in zip(self.count, self.e, self.near)
                          if not nr)

    def softmax(self):
        if self.special:
            return [NAN] * self.n
        return [div(self.e[g], self.total) for g in self.group]

    def log_softmax(self):
        if self.special:
            return [NAN] * self.n
        lognorm = mpmath.log1p(M(self.rest)) if self.rest != 0 else Fraction(0)
        return [NINF if x == NINF else sub(sub(x, self.m), lognorm) for x in self.xs]

    def backward(self, g):
        """log_softmax's backward g_j - exp(lp_j) * sum(g), given g = dL/dlp for this slice.

        With specials (a NaN slice, non-finite g) it is evaluated as written, which is where
        PyTorch's NaNs and infinities come from. Otherwise g is exact and the result is
        (g_j S - G E_j) / S with G = sum(g). Its numerator is evaluated as
        [g_j n_near - G (j near)] + g_j d_near + g_j e_far - G (d_j if j is near else E_j):
        an exact rational part and terms that are each accurate, so nothing is lost to the
        1's inside the E's (1 - s_t when s_t ~ 1, 1 - C s_j in a near-uniform slice); it is
        exactly 0 only when every part is."""
        n = self.n
        if self.special or not all(exact(v) for v in g):
            lp = self.log_softmax()
            total_g = hsum(g)
            return [sub(g[j], mul(mpmath.exp(M(lp[j])), total_g)) for j in range(n)]
        total_g = sum(g, Fraction(0))
        out = []
        for j in range(n):
            k = self.group[j]
            near = self.near[k]
            rational = g[j] * self.n_near - (total_g if near else 0)
            own = self.d[k] if near else self.e[k]
            terms = [rational] if rational != 0 else []
            if g[j] != 0:
                terms += [mul(g[j], self.d_near), mul(g[j], self.e_far)]
            if total_g != 0:
                terms.append(neg(mul(total_g, own)))
            terms = [t for t in terms if not (exact(t) and t == 0)]
            out.append(div(hsum(terms), self.total) if terms else Fraction(0))
        return out


# ---------------------------------------------------------------------------- ops

def up_at(u, n):
    """The upstream gradient of output element n: 1 without one (the gradient of the sum),
    the one element of a reduced loss's upstream, or element n of an unreduced one."""
    if u is None:
        return Fraction(1)
    return u.data[0] if len(u.data) == 1 else u.data[n]


def reduction_of(attrs):
    """The reduction asked for, with PyTorch's deprecated "elementwise_mean" read as "mean"."""
    reduction = attrs.get("reduction", "mean")
    return "mean" if reduction == "elementwise_mean" else reduction


def reduce_elementwise(losses, reduction, shape):
    if reduction == "none":
        return shape, losses
    s = hsum(losses)
    if reduction == "sum":
        return [], [s]
    return [], [div(s, Fraction(len(losses)))]


def op_softmax(inp, attrs, log, u=None):
    dim = normalize_dim(attrs["dim"], len(inp.shape))
    out = [None] * inp.numel
    grad = [None] * inp.numel
    for idx in lanes(inp.shape, dim):
        row = Row([inp.data[i] for i in idx])
        ups = [up_at(u, i) for i in idx]
        if log:
            vals = row.log_softmax()
            g = row.backward(ups)  # u_j - softmax_j sum(u); 1 - C softmax_j for ones
        elif u is not None:
            vals = row.softmax()
            total = hsum(mul(a, b) for a, b in zip(ups, vals))
            g = [mul(s_, sub(a, total)) for a, s_ in zip(ups, vals)]  # s (u - sum u s)
        else:
            vals = row.softmax()
            # s_j (1 - sum s) = 0 exactly; NaN where the slice's softmax is NaN
            g = [NAN if isnan(v) else Fraction(0) for v in vals]
        for i, v, gv in zip(idx, vals, g):
            out[i], grad[i] = v, gv
    return (inp.shape, out), (inp.shape, grad)


def op_sigmoid(inp, u=None):
    out = [sigmoid(x) for x in inp.data]
    grad = [NAN if isnan(x) else mul(mul(sigmoid(x), sigmoid(neg(x))), up_at(u, i))
            for i, x in enumerate(inp.data)]
    return (inp.shape, out), (inp.shape, grad)


def index_layout(inp, target):
    class_dim = 1 if len(inp.shape) >= 2 else 0
    out_shape = list(target.shape) if len(inp.shape) >= 2 else []
    return class_dim, inp.shape[class_dim], out_shape


def op_nll(inp, target, weight, attrs, u=None):
    reduction = reduction_of(attrs)
    ignore = attrs.get("ignore_index", -100)
    class_dim, classes, out_shape = index_layout(inp, target)
    w = weight.data if weight is not None else [Fraction(1)] * classes
    rows = lanes(inp.shape, class_dim)
    losses, valid_w, targets = [], [], []
    for idx, t in zip(rows, target.data):
        if t == ignore:
            losses.append(Fraction(0))
            targets.append(None)
        else:
            losses.append(neg(mul(inp.data[idx[t]], w[t])))
            valid_w.append(w[t])
            targets.append(t)
    if not out_shape:  # unbatched: PyTorch accumulates the one loss into a sum
        losses = [hsum(losses)]
    d = hsum(valid_w)
    if reduction == "none":
        out = (out_shape, losses)
    elif reduction == "sum":
        out = ([], [hsum(losses)])
    else:
        out = ([], [div(hsum(losses), d)])
    # grad = -(grad_output / total_weight) for 'mean'; then weight[t] * grad at the target
    grad = [Fraction(0)] * inp.numel
    for n, (idx, t) in enumerate(zip(rows, targets)):
        g = neg(div(up_at(u, n), d)) if reduction == "mean" else neg(up_at(u, n))
        if t is not None:
            grad[idx[t]] = mul(w[t], g)
    return out, (inp.shape, grad)


def smoothing(attrs):
    """The exact double label_smoothing as a Fraction, or None when no smoothing applies.

    PyTorch tests `label_smoothing > 0`: NaN and negative values mean no smoothing (values
    above 1 are errors, which never reach the oracle)."""
    ls = attrs.get("label_smoothing", 0)
    eps = parse_float(ls if isinstance(ls, str) else DecText(ls), "float64")
    return eps if exact(eps) and eps > 0 else None


def op_ce_index(inp, target, weight, attrs, u=None):
    """nll_loss(log_softmax(x)) and, with smoothing eps > 0, PyTorch's
    (1 - eps) * nll + smooth * (eps / C), smooth_n = -sum_c w_c lp_nc (0 where ignored), both
    'mean's divided by D = sum of the valid targets' weights."""
    reduction = reduction_of(attrs)
    ignore = attrs.get("ignore_index", -100)
    eps = smoothing(attrs)
    class_dim, classes, out_shape = index_layout(inp, target)
    w = weight.data if weight is not None else [Fraction(1)] * classes
    rows = lanes(inp.shape, class_dim)
    nll, smooth, valid_w, row_objs, targets = [], [], [], [], []
    for idx, t in zip(rows, target.data):
        row = Row([inp.data[i] for i in idx])
        row_objs.append(row)
        if t == ignore:
            nll.append(Fraction(0))
            smooth.append(Fraction(0))
            targets.append(None)
            continue
        lp = row.log_softmax()
        nll.append(neg(mul(lp[t], w[t])))
        if eps is not None:
            smooth.append(neg(hsum(mul(lp[c], w[c]) for c in range(classes))))
        valid_w.append(w[t])
        targets.append(t)
    if not out_shape:
        nll = [hsum(nll)]
    d = hsum(valid_w)
    if eps is None:
        if reduction == "none":
            out = (out_shape, nll)
        elif reduction == "sum":
            out = ([], [hsum(nll)])
        else:
            out = ([], [div(hsum(nll), d)])
        keep = Fraction(1)
    else:
        keep, spread = 1 - eps, eps / classes
        if reduction == "none":
            out = (out_shape, [add(mul(keep, a), mul(b, spread)) for a, b in zip(nll, smooth)])
        elif reduction == "sum":
            out = ([], [add(mul(keep, hsum(nll)), mul(hsum(smooth), spread))])
        else:
            out = ([], [add(mul(keep, div(hsum(nll), d)), mul(div(hsum(smooth), d), spread))])
    # dL/dlp: -(keep / D) w_t at the target (nll_loss's backward), -(spread / D) w_c on every
    # class of a valid row (the smooth term; masked_fill zeroes the ignored rows)
    g_nll = neg(div(keep, d)) if reduction == "mean" else neg(keep)
    if eps is not None:
        g_s = neg(div(spread, d)) if reduction == "mean" else neg(spread)
    grad = [Fraction(0)] * inp.numel
    for n, (idx, t, row) in enumerate(zip(rows, targets, row_objs)):
        g = [Fraction(0)] * classes
        if t is not None:
            if eps is not None:
                g = [mul(mul(g_s, up_at(u, n)), w[c]) for c in range(classes)]
            g[t] = add(g[t], mul(w[t], mul(g_nll, up_at(u, n))))
        for i, v in zip(idx, row.backward(g)):
            grad[i] = v
    return out, (inp.shape, grad)


def op_ce_prob(inp, target, weight, attrs, u=None):
    """l_n = -sum_c lp_nc q'_nc w_c with q' = q (1 - eps) + eps / C; 'mean' divides by the
    number of rows (NaN when the input is empty)."""
    reduction = reduction_of(attrs)
    eps = smoothing(attrs)
    class_dim = 1 if len(inp.shape) >= 2 else 0
    classes = inp.shape[class_dim]
    w = weight.data if weight is not None else None
    rows = lanes(inp.shape, class_dim)

    def smoothed(q):
        return q if eps is None else add(mul(q, 1 - eps), eps / classes)

    row_sums, qs, row_objs = [], [], []
    for idx in rows:
        row = Row([inp.data[i] for i in idx])
        row_objs.append(row)
        lp = row.log_softmax()
        q = [smoothed(target.data[i]) for i in idx]
        qs.append(q)
        terms = [mul(lp[c], q[c]) if w is None else mul(mul(lp[c], q[c]), w[c])
                 for c in range(classes)]
        row_sums.append(hsum(terms))
    out_shape = [s for i, s in enumerate(inp.shape) if i != class_dim]
    if reduction == "none":
        out = (out_shape, [neg(r) for r in row_sums])
    elif reduction == "sum":
        out = ([], [neg(hsum(row_sums))])
    elif inp.numel == 0:
        out = ([], [NAN])
    else:
        out = ([], [div(neg(hsum(row_sums)), Fraction(len(rows)))])
    scale = Fraction(1, len(rows)) if reduction == "mean" and inp.numel else Fraction(1)
    grad = [Fraction(0)] * inp.numel
    for n, (idx, q, row) in enumerate(zip(rows, qs, row_objs)):
        un = mul(scale, up_at(u, n))
        g = [neg(mul(mul(un, q[c]), w[c] if w is not None else Fraction(1)))
             for c in range(classes)]
        for i, v in zip(idx, row.backward(g)):
            grad[i] = v
    return out, (inp.shape, grad)


def op_bce(inp, target, weight, attrs, u=None):
    """l = w [(y - 1) max(log1p(-x), -100) - y max(log x, -100)];
    dl/dx = w (x - y) / max((1 - x) x, EPS), divided by numel for 'mean'."""
    reduction = reduction_of(attrs)
    w = broadcast_to(weight, target.shape)
    floor = Fraction(LOG_FLOOR)
    losses = []
    for k, (x, y) in enumerate(zip(inp.data, target.data)):
        log1m = Fraction(0) if x == 0 else (NINF if x == 1 else mpmath.log1p(-M(x)))
        logx = Fraction(0) if x == 1 else (NINF if x == 0 else mpmath.log(M(x)))
        l = sub(mul(sub(y, 1), hmax(log1m, floor)), mul(y, hmax(logx, floor)))
        losses.append(mul(l, w[k]) if w is not None else l)
    out = reduce_elementwise(losses, reduction, target.shape)
    grad = []
    for k, (x, y) in enumerate(zip(inp.data, target.data)):
        g = div(sub(x, y), hmax(mul(sub(1, x), x), BCE_EPS))
        if w is not None:
            g = mul(g, w[k])
        if reduction == "mean":
            g = div(g, Fraction(inp.numel))
        grad.append(mul(g, up_at(u, k)))
    return out, (inp.shape, grad)


def op_bcewl(inp, target, weight, pos_weight, attrs, u=None):
    """l = w [(1 - y) x - lw log_sigmoid(x)], lw = (p - 1) y + 1 (PyTorch's form, whose
    specials are recorded), evaluated where finite as the sum of non-negative terms
    (1 - y) x + lw softplus(-x) for x >= 0, -p y x + lw softplus(x) for x < 0.
    dl/dx = w [(p y + 1 - y) sigmoid(x) - p y], where finite as
    (1 - y) sigmoid(x) - p y sigmoid(-x); divided by numel for 'mean'."""
    reduction = reduction_of(attrs)
    w = broadcast_to(weight, target.shape)
    pw = broadcast_to(pos_weight, target.shape)
    losses = []
    for k, (x, y) in enumerate(zip(inp.data, target.data)):
        p = pw[k] if pw is not None else Fraction(1)
        lw = add(mul(sub(p, 1), y), 1) if pw is not None else Fraction(1)
        l = sub(mul(sub(1, y), x), mul(lw, log_sigmoid(x)))
        if finite(l) and finite(x):
            if M(x) >= 0:
                l = add(mul(sub(1, y), x), mul(lw, softplus(neg(x))))
            else:
                l = add(neg(mul(mul(p, y), x)), mul(lw, softplus(x)))
        losses.append(mul(l, w[k]) if w is not None else l)
    out = reduce_elementwise(losses, reduction, target.shape)
    grad = []
    for k, (x, y) in enumerate(zip(inp.data, target.data)):
        p = pw[k] if pw is not None else Fraction(1)
        py = mul(p, y)
        sx = sigmoid(x)
        if pw is not None:
            g = sub(mul(sub(add(py, 1), y), sx), py)
        else:
            g = sub(sx, y)
        if finite(g) and finite(x):
            g = sub(mul(sub(1, y), sx), mul(py, sigmoid(neg(x))))
        if w is not None:
            g = mul(g, w[k])
        if reduction == "mean":
            g = div(g, Fraction(inp.numel))
        grad.append(mul(g, up_at(u, k)))
    return out, (inp.shape, grad)


def other_argument(op, t, attrs, wrt, u):
    """The product with respect to `target` or `weight` (chapter 10, Vector-Jacobian products):
    BCE's target -u w logit(x), unclamped as PyTorch's backward is; BCE-with-logits' target
    u w (log sigmoid(-x) - p log sigmoid(x)) (-u w x without pos_weight); probability
    cross-entropy's target -(1 - eps) u_n w_c lp_nc and weight -sum_n u_n q'_nc lp_nc; each
    over the mean's count (elements, or rows)."""
    inp, target = t["input"], t["target"]
    reduction = reduction_of(attrs)
    if op in ("binary_cross_entropy", "binary_cross_entropy_with_logits") and wrt == "target":
        w = broadcast_to(t.get("weight"), target.shape)
        pw = broadcast_to(t.get("pos_weight"), target.shape)
        grad = []
        for k, x in enumerate(inp.data):
            if op == "binary_cross_entropy":
                log1m = NINF if x == 1 else (Fraction(0) if x == 0 else mpmath.log1p(-M(x)))
                logx = NINF if x == 0 else (Fraction(0) if x == 1 else mpmath.log(M(x)))
                g = sub(log1m, logx)
            elif pw is None:
                g = neg(x)
            else:
                g = sub(log_sigmoid(neg(x)), mul(pw[k], log_sigmoid(x)))
            if w is not None:
                g = mul(g, w[k])
            if reduction == "mean":
                g = div(g, Fraction(inp.numel))
            grad.append(mul(g, up_at(u, k)))
        return target.shape, grad
    if op == "cross_entropy" and target.dtype != "int64" and wrt in ("target", "weight"):
        eps = smoothing(attrs)
        class_dim = 1 if len(inp.shape) >= 2 else 0
        classes = inp.shape[class_dim]
        weight = t.get("weight")
        w = weight.data if weight is not None else [Fraction(1)] * classes
        rows = lanes(inp.shape, class_dim)
        keep = Fraction(1) if eps is None else 1 - eps
        scale = Fraction(1, len(rows)) if reduction == "mean" and inp.numel else Fraction(1)
        grad_target = [Fraction(0)] * inp.numel
        per_class = [[] for _ in range(classes)]
        for n, idx in enumerate(rows):
            lp = Row([inp.data[i] for i in idx]).log_softmax()
            un = mul(scale, up_at(u, n))
            for c, i in enumerate(idx):
                grad_target[i] = neg(mul(mul(mul(un, keep), w[c]), lp[c]))
                q = target.data[i] if eps is None else add(mul(target.data[i], keep),
                                                           eps / classes)
                per_class[c].append(neg(mul(mul(un, q), lp[c])))
        if wrt == "target":
            return inp.shape, grad_target
        return weight.shape, [hsum(terms) for terms in per_class]
    raise ValueError(f"{op} is not differentiated with respect to {wrt}")


PROMOTING = {"binary_cross_entropy_with_logits": ("input", "target"),
             "cross_entropy_prob": ("input", "target", "weight")}


def output_dtype(request):
    """The output dtype by PyTorch's rules: the input's, except that BCE-with-logits and
    cross-entropy with probability targets promote to float64 with any float64 operand, and to
    float32 when a half dtype meets float32 or the other half dtype."""
    inputs = request["inputs"]
    key = request["op"]
    if key == "cross_entropy" and inputs["target"]["dtype"] != "int64":
        key = "cross_entropy_prob"
    names = [n for n in PROMOTING.get(key, ()) if n in inputs]
    dtypes = {inputs[n]["dtype"] for n in names} | {inputs["input"]["dtype"]}
    if "float64" in dtypes and key in PROMOTING:
        return "float64"
    if len(dtypes - {"int64"}) > 1 and key in PROMOTING:
        return "float32"  # float32 with a half dtype, or float16 with bfloat16
    return inputs["input"]["dtype"]


def evaluate(request):
    """((out_shape, out_values), (grad_shape, grad_values)) of one request, as mpf."""
    op = request["op"]
    attrs = request.get("attrs", {})
    t = {k: read_tensor(v) for k, v in request["inputs"].items()}
    inp = t["input"]
    # The export's `vjp`: the gradient run's upstream gradient (all ones when absent).
    vjp = request.get("vjp") or {}
    u = read_tensor(vjp["upstream"]) if vjp.get("upstream") else None
    wrt = vjp.get("wrt", "input")
    if op in ("softmax", "log_softmax"):
        result = op_softmax(inp, attrs, log=(op == "log_softmax"), u=u)
    elif op == "sigmoid":
        result = op_sigmoid(inp, u)
    elif op == "nll_loss":
        result = op_nll(inp, t["target"], t.get("weight"), attrs, u)
    elif op == "cross_entropy" and t["target"].dtype == "int64":
        result = op_ce_index(inp, t["target"], t.get("weight"), attrs, u)
    elif op == "cross_entropy":
        result = op_ce_prob(inp, t["target"], t.get("weight"), attrs, u)
    elif op == "binary_cross_entropy":
        result = op_bce(inp, t["target"], t.get("weight"), attrs, u)
    elif op == "binary_cross_entropy_with_logits":
        result = op_bcewl(inp, t["target"], t.get("weight"), t.get("pos_weight"), attrs, u)
    else:
        raise ValueError(f"unknown op {op}")
    (os_, ov), (gs, gv) = result
    if wrt != "input":
        gs, gv = other_argument(op, t, attrs, wrt, u)
    return (os_, [M(v) for v in ov]), (gs, [M(v) for v in gv])



# ---------------------------------------------------------------------------- precision guard

def agree(a, b, rel):
    if isnan(a) or isnan(b):
        return isnan(a) and isnan(b)
    if isinf(a) or isinf(b):
        return a == b
    if a == b:
        return True
    return abs(a - b) <= rel * max(abs(a), abs(b))


def evaluate_checked(request, dps, case_id):
    """Evaluate at dps and dps + 40; escalate while some element disagrees, or while inexact
    terms cancelled to an exact 0 somewhere (which two precisions can agree on wrongly)."""
    levels = [dps, dps + 40, 2 * dps + 80, 4 * dps + 200, 8 * dps + 600, 16 * dps + 2000]
    previous = None
    for i, level in enumerate(levels):
        CANCELLED[0] = False
        with mp.workdps(level):
            result = evaluate(request)
        cancelled = CANCELLED[0]
        if previous is not None and not cancelled:
            flat_a = previous[0][1] + previous[1][1]
            flat_b = result[0][1] + result[1][1]
            if all(agree(a, b, mpf(10) ** -35) for a, b in zip(flat_a, flat_b)):
                if i > 1:
                    print(f"note: {case_id}: needed {levels[i - 1]} digits", file=sys.stderr)
                return previous if i == 1 else result
        previous = result
    why = "a cancellation to 0 persists" if cancelled else "no agreement"
    print(f"WARNING: {case_id}: {why} at {levels[-1]} digits; taking that result",
          file=sys.stderr)
    return previous


# ---------------------------------------------------------------------------- output

def overflow_threshold(dtype):
    bits, _, fmax = DTYPE_INFO[dtype]
    e = fmax.numerator.bit_length() - fmax.denominator.bit_length()
    return fmax + Fraction(2) ** (e - bits)  # MAX + ulp(MAX) / 2


def fmt(x, dtype, negative_zero):
    if isnan(x):
        return "nan"
    if isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "-0" if negative_zero else "0"
    if abs(x) >= to_mpf(overflow_threshold(dtype)):
        return "inf" if x > 0 else "-inf"
    s = mpmath.nstr(x, 25, strip_zeros=True)
    mant, _, exp = s.partition("e")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return mant + (f"e{int(exp)}" if exp else "")


# A tensor of more than LISTED elements is recorded as a sample of SAMPLED evenly spaced
# elements, first and last included (spec/12-exact-values.md, "At vocabulary scale"): the
# crate's oracle judges every element and tests/suite/oracle.rs holds it to the sample.
LISTED = 4096
SAMPLED = 512


def sample_offsets(n):
    """The flat offsets a tensor of n elements is recorded at: all of them up to LISTED."""
    if n <= LISTED:
        return None
    return sorted({k * (n - 1) // (SAMPLED - 1) for k in range(SAMPLED)})


def tensor_json(dtype, shape, values, ref_data):
    at = sample_offsets(len(values))
    keep = set(at) if at is not None else None
    data = []
    for k, v in enumerate(values):
        if keep is not None and k not in keep:
            continue
        neg = False
        if ref_data is not None and k < len(ref_data):
            r = ref_data[k]
            neg = isinstance(r, (int, float)) and r == 0 and str(r).startswith("-")
        data.append(fmt(v, dtype, neg))
    out = {"dtype": dtype, "shape": list(shape), "data": data}
    if at is not None:
        out["indices"] = at
    return out



def run_reference(cmd, requests):
    """Replies of the reference, by id, to the value and gradient requests (each a request and
    the export's `vjp`, or None)."""
    lines = []
    for r, vjp in requests:
        lines.append(json.dumps(r))
        g = dict(r, grad=True, id=r["id"] + "#grad")
        if vjp:  # the gradient run's own `wrt` and `upstream`
            g.update({k: v for k, v in vjp.items() if v is not None})
        lines.append(json.dumps(g))
    proc = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=True)
    replies = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            # keep -0.0 visible: parse floats as strings-preserving floats
            rep = json.loads(line, parse_float=NegZeroFloat)
            replies[rep["id"]] = rep
    return replies


class NegZeroFloat(float):
    """A float that remembers its JSON spelling (so '-0.0' stays recognisable)."""

    def __new__(cls, text):
        obj = super().__new__(cls, text)
        obj.text = text
        return obj

    def __str__(self):
        return self.text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="the crate's binary (cross-entropy-spec); runs `cases --json` "
                    "and `eval`")
    ap.add_argument("--export", help="the export (`cases --json` output); '-' for stdin")
    ap.add_argument("--reference", help="command speaking the protocol, for zero signs and "
                    "output dtypes (default: BIN eval)")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("-o", "--output", default="spec/recorded/exact.json")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    ap.add_argument("--dps", type=int, default=60)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()

    # the float32 EPS of BCE's backward is the float32 nearest 1e-12
    assert round_fraction(Fraction(1, 10**12), "float32") == BCE_EPS

    if args.export:
        text = sys.stdin.read() if args.export == "-" else open(args.export).read()
    elif args.bin:
        text = subprocess.run([args.bin, "cases", "--json"], capture_output=True, text=True,
                              check=True).stdout
    else:
        ap.error("give --bin or --export")
    raw_lines = [l for l in text.splitlines() if l.strip()]
    lines = [(json.loads(l), json.loads(l, parse_float=DecText)) for l in raw_lines]
    cases = [(c, e) for c, e in lines if "expect" in c and args.filter in c["id"]]

    replies = {}
    ref_cmd = None
    if not args.no_reference:
        if args.reference:
            ref_cmd = shlex.split(args.reference)
        elif args.bin:
            ref_cmd = [args.bin, "eval"]
    if ref_cmd:
        replies = run_reference(ref_cmd, [
            (c["request"], None if "expect_grad_error" in c else c.get("vjp")) for c, _ in cases
        ])

    mp.dps = args.dps
    values = {}
    for c, exact_line in cases:
        cid = c["id"]
        req = c["request"]
        # A refused gradient (`expect_grad_error`) has no product to record: the entry keeps the
        # gradient of the sum with respect to the input, as every value case's does.
        refused = "expect_grad_error" in c
        vjp = None if refused else exact_line.get("vjp")
        request = dict(exact_line["request"], vjp=vjp)
        (oshape, ovals), (gshape, gvals) = evaluate_checked(request, args.dps, cid)
        dtype = output_dtype(req)
        rep = replies.get(req["id"], {})
        grep = replies.get(req["id"] + "#grad", {})
        ref_out = rep.get("output")
        if ref_out is not None:
            if ref_out["dtype"] != dtype:
                print(f"WARNING: {cid}: output dtype {dtype} by the rules, {ref_out['dtype']} "
                      "by the reference; recording the reference's", file=sys.stderr)
                dtype = ref_out["dtype"]
            if list(ref_out["shape"]) != list(oshape):
                print(f"WARNING: {cid}: shape {oshape} vs reference {ref_out['shape']}",
                      file=sys.stderr)
        elif ref_cmd:
            print(f"WARNING: {cid}: the reference gave no output: {rep}", file=sys.stderr)
        entry = {
            "digest": c.get("digest"),
            "output": tensor_json(dtype, oshape, ovals, ref_out["data"] if ref_out else None),
        }
        # Every value case has a gradient run, recorded or stated or not yet.
        wrt = "input" if refused else (c.get("vjp") or {}).get("wrt", "input")
        ref_g = grep.get("grad_" + wrt)
        gd = req["inputs"][wrt]["dtype"]
        entry["grad_input"] = tensor_json(gd, gshape, gvals, ref_g["data"] if ref_g else None)
        values[cid] = entry

    doc = {
        "tool": "scripts/exact_values.py",
        "mpmath": mpmath.__version__,
        "python": platform.python_version(),
        "digits": args.dps,
        "generated": args.date,
        "values": values,
    }
    with open(args.output, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(values)} entries written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
