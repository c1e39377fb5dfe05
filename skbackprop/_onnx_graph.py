"""The fitted network as ONNX nodes: the forward cascade, activation by activation.

Used by the skl2onnx converters of :mod:`skbackprop._onnx`; nothing here
imports skl2onnx or onnx.  A :class:`Graph` adds nodes to skl2onnx's
container in one floating dtype, the input's: float32 graphs for
``FloatTensorType`` inputs, float64 graphs for ``DoubleTensorType``.

Each hidden activation uses the ONNX operator of its name where
onnxruntime has a kernel for the graph's dtype, and elementary operators
otherwise: onnxruntime has no float64 kernel for Softplus, Elu, Erf or
Gelu, and Gelu itself is an operator from opset 20 on.  Leaky ReLU is
built as ``max(z, slope z)``, the formula of :mod:`~skbackprop._engine.activations`.
"""

import math

import numpy as np

from skbackprop._engine.activations import NEGATIVE_SLOPE, check_activations

# Where, Erf and broadcasting Max/Min: every graph below needs them.
MIN_OPSET = 9
# The first opset with the Gelu operator.
GELU_OPSET = 20

# TensorProto element types (onnx.TensorProto.FLOAT, ...), without importing onnx.
FLOAT, INT64, STRING, DOUBLE = 1, 7, 8, 11

# Cephes' rational approximations of erf and erfc (Moshier, "Methods and
# programs for mathematical functions", 1989), as in scipy.special.ndtr:
# erf(x) = x T(x^2) / U(x^2) for |x| < 1, erfc(x) = exp(-x^2) P(x) / Q(x)
# for 1 <= x < 8.  Highest power first; U and Q have a leading 1.
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (
    1.0,
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.0,
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)


class Graph:
    """Nodes and constants added to a skl2onnx container, in one dtype.

    ``op(type, *inputs, **attributes)`` adds a node and returns the name of
    its output (``output=`` names it); ``const(value)`` adds a constant of
    the graph's dtype (``dtype=`` another element type) and returns its name.
    """

    def __init__(self, scope, container, double):
        self.scope = scope
        self.container = container
        self.double = double
        self.proto = DOUBLE if double else FLOAT
        self.dtype = np.dtype(np.float64 if double else np.float32)
        self.opset = container.target_opset

    def op(self, op_type, *inputs, output=None, **attributes):
        if output is None:
            output = self.scope.get_unique_variable_name(op_type.lower())
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, list(inputs), output, name=name, **attributes)
        return output

    def const(self, value, dtype=None):
        value = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        # int64 indices and shapes, strings (as UTF-8 bytes) for class labels.
        proto = {"i": INT64, "O": STRING}.get(value.dtype.kind, self.proto)
        content = value.ravel().tolist() if proto == STRING else value.ravel()
        name = self.scope.get_unique_variable_name("const")
        self.container.add_initializer(name, proto, list(value.shape), content)
        return name

    def polynomial(self, x, coefficients):
        """Horner's rule, highest power first."""
        y = self.const(coefficients[0])
        for c in coefficients[1:]:
            y = self.op("Add", self.op("Mul", y, x), self.const(c))
        return y


# -- hidden activations: g(Z) from the node Z ------------------------------------
def _identity(g, Z):
    return Z


def _logistic(g, Z):
    return g.op("Sigmoid", Z)


def _tanh(g, Z):
    return g.op("Tanh", Z)


def _relu(g, Z):
    return g.op("Relu", Z)


def _leaky_relu(g, Z):
    return g.op("Max", Z, g.op("Mul", Z, g.const(NEGATIVE_SLOPE)))


def _softplus(g, Z):
    if not g.double:
        return g.op("Softplus", Z)
    # log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}), without overflow.
    tail = g.op("Exp", g.op("Neg", g.op("Abs", Z)))
    return g.op("Add", g.op("Relu", Z), g.op("Log", g.op("Add", g.const(1), tail)))


def _elu(g, Z):
    if not g.double:
        return g.op("Elu", Z, alpha=1.0)
    # (e^{min(z, 0)} - 1) + max(z, 0), as in activations.py.
    negative = g.op("Sub", g.op("Exp", g.op("Min", Z, g.const(0))), g.const(1))
    return g.op("Add", negative, g.op("Relu", Z))


def _gelu(g, Z):
    if g.double:
        return g.op("Mul", Z, _ndtr(g, Z))
    if g.opset >= GELU_OPSET:
        return g.op("Gelu", Z)
    # z Phi(z) = z (1 + erf(z / sqrt 2)) / 2.
    erf = g.op("Erf", g.op("Mul", Z, g.const(math.sqrt(0.5))))
    return g.op("Mul", g.op("Mul", Z, g.const(0.5)), g.op("Add", erf, g.const(1)))


def _silu(g, Z):
    return g.op("Mul", Z, g.op("Sigmoid", Z))


def _ndtr(g, Z):
    """The normal CDF Phi(z) from elementary operators, as Cephes' ndtr.

    With ``x = z / sqrt 2``: ``(1 + erf(x)) / 2`` for ``|x| < 1``, else
    ``erfc(|x|) / 2``, subtracted from 1 for ``x > 0``.  SciPy's ndtr takes
    erfc from another rational function beyond ``|x| = 8``; there the one
    for ``[1, 8)``, evaluated at 8, is used, which changes Phi by less than
    ``1e-29`` in absolute value.
    """
    x = g.op("Mul", Z, g.const(math.sqrt(0.5)))
    r = g.op("Abs", x)
    # erf on |x| < 1 (x clipped to [-1, 1] so the unused branch stays finite).
    xc = g.op("Min", g.op("Max", x, g.const(-1)), g.const(1))
    xc2 = g.op("Mul", xc, xc)
    erf = g.op(
        "Div",
        g.op("Mul", xc, g.polynomial(xc2, _ERF_T)),
        g.polynomial(xc2, _ERF_U),
    )
    central = g.op("Add", g.const(0.5), g.op("Mul", g.const(0.5), erf))
    # erfc(|x|) / 2 on |x| >= 1: the polynomials at |x| clipped to [1, 8].
    rc = g.op("Min", g.op("Max", r, g.const(1)), g.const(8))
    ratio = g.op("Div", g.polynomial(rc, _ERFC_P), g.polynomial(rc, _ERFC_Q))
    decay = g.op("Exp", g.op("Neg", g.op("Mul", r, r)))
    tail = g.op("Mul", g.op("Mul", g.const(0.5), decay), ratio)
    upper = g.op("Sub", g.const(1), tail)
    outer = g.op("Where", g.op("Greater", x, g.const(0)), upper, tail)
    return g.op("Where", g.op("Less", r, g.const(1)), central, outer)


# One builder per name of HIDDEN_ACTIVATIONS (a test checks they agree).
HIDDEN = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "elu": _elu,
    "gelu": _gelu,
    "silu": _silu,
}


# -- output activations ------------------------------------------------------------
def _softmax(g, Z):
    return g.op("Softmax", Z, axis=1)


def _exp(g, Z):
    return g.op("Exp", Z)


# One builder per name of OUTPUT_ACTIVATIONS.
OUTPUT = {
    "identity": _identity,
    "logistic": _logistic,
    "softmax": _softmax,
    "exp": _exp,
}


def forward(g, est, X):
    """The output activations ``A(L)`` of the fitted ``est`` on the node ``X``.

    Each layer is one Gemm, ``A W + b``, in the graph's dtype.
    """
    n_hidden = len(est.coefs_) - 1
    names = check_activations(est.activation, n_hidden)
    A = X
    for l, (W, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        Z = g.op("Gemm", A, g.const(W), g.const(b))
        A = (HIDDEN[names[l]] if l < n_hidden else OUTPUT[est.out_activation_])(g, Z)
    return A
