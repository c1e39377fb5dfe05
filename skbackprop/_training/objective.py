"""The objective a solver minimizes: the regularized cost of a data set.

:class:`Objective` is the protocol every solver relies on;
:class:`InMemoryObjective` implements it for arrays in memory and
:class:`~skbackprop._training.dask.DaskObjective` for data on a Dask
cluster.
"""

import contextlib
import copy
from typing import Protocol

import numpy as np

from skbackprop._engine import threads
from skbackprop._engine.gauss_newton import (
    network_cost,
    network_gauss_newton,
    network_geodesic,
)
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import network_hessp


def weight_scale(weights):
    """A power of two ``c`` near the largest weight: ``max(s) / c`` is in [1, 2).

    The cost ``(sum_i s_i loss_i + alpha/2 ||W||^2) / S`` does not change
    when the weights ``s`` and ``alpha`` are both divided by ``c``, nor does
    its gradient; and division by a power of two is exact.  So a fit on
    ``s / c`` with ``alpha / c`` is, bit for bit, the fit on ``s`` with
    ``alpha``, except that weights of any scale (1e308, 1e-320) no longer
    overflow ``S`` or the float32 conversion.  1 when no weight is positive.
    """
    top = float(np.max(weights, initial=0.0))
    if not 0 < top < np.inf:
        return 1.0
    return float(np.ldexp(1.0, np.frexp(top)[1] - 1))


def scaled_alpha(alpha, scale, dtype=np.float64):
    """``alpha / scale`` for weights divided by ``scale`` (see :func:`weight_scale`).

    Raises a ValueError when it is beyond the range of ``dtype``, the
    network's: the penalty then outweighs the data beyond what the cost's
    floating point can represent.
    """
    if scale == 1.0 or not alpha:
        return alpha
    with np.errstate(over="ignore", divide="ignore"):
        scaled = float(np.divide(alpha, scale))
    if not scaled <= float(np.finfo(dtype).max):
        name = np.dtype(dtype).name
        raise ValueError(
            f"alpha={alpha!r} is too large for sample weights this small (the "
            f"largest is about {scale:.3g}): the cost (sum_i s_i loss_i + "
            "alpha/2 ||W||^2) / sum_i s_i weighs the penalty alpha / "
            f"sum_i s_i beyond {name}'s range. Scale the weights up or use a "
            "smaller alpha" + (", or fit float64 data." if name != "float64" else ".")
        )
    return scaled


def reweighted(objective, e):
    """``objective`` with its weights times ``2**e`` and its ``scale`` divided
    by it (``alpha`` as it was: the caller sets it)."""
    objective, k = copy.copy(objective), float(np.ldexp(1.0, e))
    sw = objective.sample_weight
    objective.sample_weight = (sw * k).astype(sw.dtype, copy=False)
    objective.weight_sum *= k
    objective.scale /= k
    return objective


def for_penalties(objective, low, high):
    """``objective`` with its weights on a scale where every penalty in
    ``[low, high]`` divided by its ``scale`` is finite in the network's dtype
    and normal in float64 (the evidence's ``M^-1`` overflows where the data
    leave a weight to a subnormal prior): its weights times a power of two
    if need be (:func:`reweighted`); a ValueError if they are too small."""
    c, top = objective.scale, float(np.finfo(objective.net.dtype).max)
    if not high / top <= c:
        raise ValueError(
            "alpha='evidence' and 'ard' read the sample weights as counts: "
            f"weights this small (the largest about {c:.3g}) are almost no data, "
            f"and the penalties (up to {high:g}) per unit of them exceed the "
            "data's dtype. Scale the weights up, to the observations each row "
            "stands for."
        )
    tiny = float(np.finfo(np.float64).tiny)
    if low / c >= tiny:
        return objective
    return reweighted(objective, np.frexp(c * tiny / low)[1])


class Objective(Protocol):
    """What a solver may ask of the function it minimizes.

    Attributes
    ----------
    net : Network
        The network's structure (layer sizes, dtype, activation, loss).
    alpha : float
        The L2 penalty.
    n_samples : int
        The number of rows.
    weight_sum : float
        ``S``, the sum of the sample weights (``n_samples`` without weights).
    scale : float
        The power of two the user's weights (and ``alpha``) were divided by
        (:func:`weight_scale`): their sum is ``scale * weight_sum``.  The cost
        does not depend on it; what reads the weights as counts (the
        evidence's ``N``, the noise variance) or in their units (a robust
        threshold per row of unit weight) does.
    """

    net: Network
    alpha: float
    n_samples: int
    weight_sum: float
    scale: float

    def cost_grad(self, theta) -> tuple[float, np.ndarray]:
        """``(J, D)`` at ``theta``, in the network's dtype."""
        ...

    def hessp(self, theta, v, curvature) -> np.ndarray:
        """``H v`` (``curvature="exact"``) or ``G v`` (``"gauss-newton"``)."""
        ...

    def cost(self, theta) -> float:
        """``J`` at ``theta`` alone, from a forward pass (trial steps)."""
        ...

    def gauss_newton(self, theta) -> tuple[float, np.ndarray, np.ndarray]:
        """``(J, D, G)`` at ``theta``, ``G`` the dense Gauss-Newton matrix."""
        ...

    def geodesic(self, theta, v) -> np.ndarray:
        """``(1/S) sum_i s_i J_i' H_i r_vv,i`` at ``theta`` along ``v``.

        ``r_vv`` is the second directional derivative of the logits along
        ``v``: the product behind Levenberg-Marquardt's geodesic
        acceleration, weighted and scaled as ``G`` is.
        """
        ...

    def threads(
        self, batch_size=None, between=True
    ) -> contextlib.AbstractContextManager:
        """The thread setting to hold while the solver runs."""
        ...


class InMemoryObjective:
    """The regularized cost of one in-memory data set, as a function of ``theta``.

    The full-batch :meth:`cost_grad` and :meth:`hessp` serve every solver;
    mini-batch gradient descent draws :meth:`batches` and evaluates
    :meth:`cost_grad_rows`.

    Parameters
    ----------
    net : Network
        The network.
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        Input rows in the network's dtype.
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets in the network's dtype.
    sample_weight : ndarray of shape (n_samples,) or None
        Row weights (times the class weights); their sum must be positive.
    alpha : float
        The L2 penalty.
    scale : float, default=1.0
        The power of two the weights and ``alpha`` were divided by (see
        :class:`Objective`).
    """

    # The targets' (mean, scale) when the objective sees them standardized
    # (see the estimators' evidence path), else None.
    targets = None

    def __init__(self, net, X, Y, sample_weight, alpha, scale=1.0):
        self.net, self.X, self.Y, self.sample_weight = net, X, Y, sample_weight
        self.alpha, self.scale = alpha, scale
        self.n_samples = X.shape[0]
        self.weight_sum = (
            float(self.n_samples)
            if sample_weight is None
            else float(np.sum(sample_weight))
        )

    def subset(self, rows):
        """The same objective over the rows ``rows`` only."""
        sw = None if self.sample_weight is None else self.sample_weight[rows]
        return InMemoryObjective(
            self.net, self.X[rows], self.Y[rows], sw, self.alpha, self.scale
        )

    def cost_grad(self, theta):
        return self.net.cost_grad(theta, self.X, self.Y, self.sample_weight, self.alpha)

    def hessp(self, theta, v, curvature):
        return network_hessp(
            self.net,
            theta,
            v,
            self.X,
            self.Y,
            self.sample_weight,
            self.alpha,
            curvature,
        )

    def cost(self, theta):
        return network_cost(
            self.net, theta, self.X, self.Y, self.sample_weight, self.alpha
        )

    def gauss_newton(self, theta):
        return network_gauss_newton(
            self.net, theta, self.X, self.Y, self.sample_weight, self.alpha
        )

    def geodesic(self, theta, v):
        return network_geodesic(self.net, theta, v, self.X, self.Y, self.sample_weight)

    def threads(self, batch_size=None, between=True):
        """Hold the thread setting of :func:`~skbackprop._engine.threads.plan`
        for evaluations of ``batch_size`` rows (None: all of them);
        ``between``: the optimizer makes BLAS calls between evaluations."""
        rows = self.n_samples if batch_size is None else batch_size
        return threads.hold(min(rows, self.n_samples), self.net.gradient_work, between)

    def batches(self, batch_size, shuffle, rng):
        """Row selections of one epoch of mini-batches."""
        m = self.n_samples
        order = rng.permutation(m) if shuffle else None
        for start in range(0, m, batch_size):
            if order is None:
                yield slice(start, start + batch_size)
            else:
                yield order[start : start + batch_size]

    def cost_grad_rows(self, theta, rows):
        """``(J_b, D_b, S_b)`` of a mini-batch, ``D_b`` unbiased for ``D``.

        The penalty is scaled by ``S_b / S`` so that ``D_b`` has the full-batch
        ``D`` as its expectation.  ``J_b`` is None for a batch of zero weight.
        """
        sw = None if self.sample_weight is None else self.sample_weight[rows]
        X = self.X[rows]
        S_b = float(X.shape[0] if sw is None else np.sum(sw))
        if S_b <= 0:
            return None, None, 0.0
        alpha = self.alpha * S_b / self.weight_sum
        J, D = self.net.cost_grad(theta, X, self.Y[rows], sw, alpha)
        return J, D, S_b
