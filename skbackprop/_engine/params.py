"""Layer sizes, the flat parameter layout and the initial parameters.

The flat parameter vector ``theta`` holds every weight matrix ``W(l)`` of
shape ``(n_{l-1}, n_l)`` in row-major order, then every bias ``b(l)``: the
layout of scikit-learn's MLP, so that the penalized weights are one
contiguous prefix of ``theta``.
"""

import itertools
import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
from sklearn.utils import check_random_state

from skbackprop._engine.activations import check_activations


def check_sizes(sizes, name="layer_sizes", min_length=2):
    """``sizes`` as a tuple of positive Python ints, or a clear ``ValueError``.

    The one check of layer sizes: the engine's ``layer_sizes`` (at least the
    input and output sizes) and the estimators' ``hidden_layer_sizes`` (an
    int or a possibly empty sequence, ``min_length=0``).
    """
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        values = tuple(sizes)
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of positive integers, got {sizes!r}."
        ) from None
    for n in values:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{name} must hold positive integers, got {sizes!r}.")
    if len(values) < min_length:
        raise ValueError(
            f"{name} must hold at least the input and output sizes, got {sizes!r}."
        )
    return tuple(int(n) for n in values)


class Layout:
    """Where each ``W(l)`` and ``b(l)`` lies in ``theta``, computed once.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    """

    def __init__(self, layer_sizes):
        self.layer_sizes = sizes = check_sizes(layer_sizes)
        L = len(sizes) - 1
        coef_sizes = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        # Python ints: numpy's int64 would wrap round for absurd sizes.
        offsets = list(itertools.accumulate([0, *coef_sizes, *sizes[1:]]))
        if offsets[-1] * np.dtype(np.float64).itemsize > np.iinfo(np.intp).max:
            raise ValueError(
                f"layer_sizes {sizes} need {offsets[-1]:.3g} parameters, more "
                "than an array can hold."
            )
        self.n_coefs, self.n_params = offsets[L], offsets[-1]
        self._coef_slices = [
            (offsets[l], offsets[l + 1], sizes[l : l + 2]) for l in range(L)
        ]
        self._intercept_slices = [
            (offsets[L + l], offsets[L + l + 1]) for l in range(L)
        ]

    def unpack(self, theta, name="theta"):
        """Per-layer views ``(coefs, intercepts)`` of ``theta``.

        As :func:`unpack_params`, from the offsets computed once: it runs for
        every evaluation, and per mini-batch its checks cost more than the
        slicing.
        """
        theta = np.asarray(theta)
        if theta.shape != (self.n_params,):
            raise ValueError(
                f"{name} must be a 1-D array of {self.n_params} parameters for "
                f"layer_sizes {self.layer_sizes}, got shape {theta.shape}."
            )
        coefs = [theta[a:b].reshape(shape) for a, b, shape in self._coef_slices]
        intercepts = [theta[a:b] for a, b in self._intercept_slices]
        return coefs, intercepts


def n_params(layer_sizes: Sequence[int]) -> int:
    """Number of parameters of a network with the given layer sizes.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.

    Returns
    -------
    n : int
        ``sum_l (n_{l-1} + 1) * n_l``: all weights and biases.

    Examples
    --------
    >>> from skbackprop import n_params
    >>> n_params((4, 3, 2))
    23
    """
    return Layout(layer_sizes).n_params


def unpack_params(
    theta: NDArray, layer_sizes: Sequence[int]
) -> tuple[list[NDArray], list[NDArray]]:
    """Per-layer views of a flat parameter vector.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters: every ``W(l)`` in row-major order, then every ``b(l)``.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.

    Returns
    -------
    coefs : list of ndarray
        ``coefs[l]`` has shape ``(layer_sizes[l], layer_sizes[l + 1])``.
    intercepts : list of ndarray
        ``intercepts[l]`` has shape ``(layer_sizes[l + 1],)``.

    Notes
    -----
    The arrays are views of ``theta`` whenever ``theta`` is contiguous: writing
    to them writes to ``theta``, and no data are copied.  The shapes are those
    of :class:`sklearn.neural_network.MLPClassifier`'s ``coefs_`` and
    ``intercepts_``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import unpack_params
    >>> coefs, intercepts = unpack_params(np.arange(23.0), (4, 3, 2))
    >>> [c.shape for c in coefs], [b.shape for b in intercepts]
    ([(4, 3), (3, 2)], [(3,), (2,)])
    """
    return Layout(layer_sizes).unpack(theta)


def pack_params(
    coefs: Sequence[ArrayLike],
    intercepts: Sequence[ArrayLike],
    out: NDArray | None = None,
) -> NDArray:
    """Flatten per-layer weights and biases into one parameter vector.

    The inverse of :func:`unpack_params`.

    Parameters
    ----------
    coefs : list of array-like of shape (n_{l-1}, n_l)
        Weight matrices ``W(l)``, e.g. an MLP's ``coefs_``.
    intercepts : list of array-like of shape (n_l,)
        Bias vectors ``b(l)``, e.g. an MLP's ``intercepts_``.
    out : ndarray of shape (n_params,), default=None
        Where to write the result; allocated when None.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The flat parameter vector, in the dtype of the first weight matrix
        (or of ``out``).

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import pack_params, unpack_params
    >>> theta = np.arange(23.0)
    >>> np.array_equal(pack_params(*unpack_params(theta, (4, 3, 2))), theta)
    True
    """
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError(
            "coefs and intercepts must be non-empty lists of equal length."
        )
    if any(np.ndim(c) != 2 for c in coefs):
        raise ValueError(
            f"coefs must be 2-D arrays, got shapes {[np.shape(c) for c in coefs]}."
        )
    if any(np.iscomplexobj(a) for a in [*coefs, *intercepts]):
        # Written into a real out, the imaginary parts would be dropped.
        raise ValueError("Complex data not supported: coefs or intercepts are complex.")
    layout = Layout([np.shape(coefs[0])[0]] + [np.shape(c)[1] for c in coefs])
    if out is None:
        out = np.empty(layout.n_params, dtype=np.asarray(coefs[0]).dtype)
    out_coefs, out_intercepts = layout.unpack(out, "out")
    for dst, src in zip(
        out_coefs + out_intercepts, list(coefs) + list(intercepts), strict=True
    ):
        if np.shape(src) != dst.shape:
            raise ValueError(
                f"Inconsistent layer shapes: expected {dst.shape}, got {np.shape(src)}."
            )
        dst[...] = src
    return out


def init_params(
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    random_state: int | np.random.RandomState | None = None,
    dtype: DTypeLike = np.float64,
) -> NDArray:
    """Glorot-uniform initial parameters, exactly as scikit-learn's MLP draws them.

    Each layer draws ``W(l)`` and then ``b(l)`` from
    ``U(-r, r)`` with ``r = sqrt(f / (n_{l-1} + n_l))``, ``f = 2`` for the
    logistic activation and ``6`` otherwise, in float64 and then cast.  With
    the same integer ``random_state`` the result equals the initial
    ``coefs_``/``intercepts_`` of :class:`sklearn.neural_network.MLPClassifier`.

    With one activation per hidden layer, ``W(l)`` takes the factor of the
    activation of the layer it feeds, and the output layer that of the last
    hidden layer: a single name gives every layer its factor, as
    scikit-learn does.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : str or sequence of str, default="relu"
        The hidden activation, or one per hidden layer, which set ``f``.
    random_state : int, RandomState instance or None, default=None
        Source of randomness.
    dtype : dtype, default=np.float64
        The dtype of the result: float32 or float64.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        Flat initial parameters.

    Examples
    --------
    >>> from skbackprop import init_params
    >>> init_params((4, 3, 2), random_state=0).shape
    (23,)
    """
    layout = Layout(layer_sizes)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        # An integer dtype would round every weight in (-1, 1) to zero.
        raise ValueError(f"dtype must be float32 or float64, got {dtype}.")
    rng = check_random_state(random_state)
    hidden = check_activations(activation, len(layout.layer_sizes) - 2)
    # Each hidden layer's own; the output layer takes the last hidden one's.
    last = activation if isinstance(activation, str) else (hidden or ("relu",))[-1]
    names = (*hidden, last)
    theta = np.empty(layout.n_params, dtype=dtype)
    coefs, intercepts = layout.unpack(theta)
    for W, b, name in zip(coefs, intercepts, names, strict=True):
        factor = 2.0 if name == "logistic" else 6.0
        bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
        W[...] = rng.uniform(-bound, bound, W.shape)
        b[...] = rng.uniform(-bound, bound, b.shape)
    return theta
