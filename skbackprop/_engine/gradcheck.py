"""Central finite differences against an analytic gradient."""

from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

# A relative step below float64's machine epsilon can round to no step at
# all; one of 1 or more is no longer a derivative.
_EPS_RANGE = Interval(Real, np.finfo(np.float64).eps, 1, closed="left")


@validate_params(
    {
        "fun": [callable],
        "theta": ["array-like"],
        "args": [tuple, list],
        "eps": [_EPS_RANGE, None],
        "n_coords": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    # fun is the user's: what it calls validates its own parameters.
    prefer_skip_nested_validation=False,
)
def check_gradient(
    fun: Callable[..., tuple[float, ArrayLike]],
    theta: ArrayLike,
    args: tuple = (),
    eps: float | None = None,
    n_coords: int | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> float:
    """Relative error between an analytic gradient and central differences.

    For each checked coordinate ``k``,
    ``(J(theta + h e_k) - J(theta - h e_k)) / (2 h)`` is compared with
    ``D[k]``, and the result is ``||D - D_fd|| / max(||D||, ||D_fd||, tiny)``
    over the checked coordinates.  Values around 1e-8 or below in float64
    mean the gradient is right; a wrong gradient gives values near 1.

    Parameters
    ----------
    fun : callable
        ``fun(theta, *args) -> (J, D)``, such as :func:`cost_grad`.
    theta : ndarray of shape (n_params,)
        Where to check.  Evaluated in float64.
    args : tuple, default=()
        Extra arguments of ``fun``.
    eps : float in [2.2e-16, 1), default=None
        Relative step; ``h = eps * max(1, |theta_k|)``.  None uses the cube
        root of float64's machine epsilon, which balances truncation and
        rounding error for central differences.
    n_coords : int >= 1, default=None
        Check this many coordinates drawn at random (for large networks);
        None checks all of them (``2 n_params`` extra evaluations).
    random_state : int, RandomState instance or None, default=None
        Which coordinates, when ``n_coords`` is set.

    Returns
    -------
    rel_error : float
        The relative error.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import check_gradient, cost_grad, init_params
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(30, 3)), np.eye(3)[rng.integers(0, 3, 30)]
    >>> theta = init_params((3, 4, 3), activation="tanh", random_state=0)
    >>> args = (X, Y, (3, 4, 3), "tanh", "log_loss", 0.1)
    >>> bool(check_gradient(cost_grad, theta, args) < 1e-7)
    True
    """
    if np.iscomplexobj(theta):
        raise ValueError("Complex data not supported: theta is complex.")
    theta = np.array(theta, dtype=np.float64)
    if theta.ndim != 1 or theta.size == 0:
        raise ValueError(
            f"theta must be a non-empty 1-D array of shape (n_params,), got shape "
            f"{theta.shape}."
        )
    if not np.isfinite(theta).all():
        raise ValueError(
            "theta holds non-finite values; check the gradient at a finite point."
        )
    if eps is None:
        eps = np.finfo(np.float64).eps ** (1 / 3)
    J, D = fun(theta, *args)
    D = np.asarray(D, dtype=np.float64)
    if D.shape != theta.shape:
        raise ValueError(
            f"fun returned a gradient of shape {D.shape} for theta of shape "
            f"{theta.shape}: it must be laid out as theta."
        )
    if not (np.ndim(J) == 0 and np.isfinite(J) and np.isfinite(D).all()):
        raise ValueError(
            "fun returned a non-finite cost or gradient at theta: there is "
            "nothing to compare."
        )
    if n_coords is None:
        coords = np.arange(theta.size)
    else:
        rng = check_random_state(random_state)
        coords = rng.choice(theta.size, size=min(n_coords, theta.size), replace=False)
    D_fd = np.empty(coords.size)
    for i, k in enumerate(coords):
        h = eps * max(1.0, abs(theta[k]))
        t_plus, t_minus = theta.copy(), theta.copy()
        t_plus[k] += h
        t_minus[k] -= h
        J_plus, J_minus = fun(t_plus, *args)[0], fun(t_minus, *args)[0]
        if not (np.isfinite(J_plus) and np.isfinite(J_minus)):
            raise ValueError(
                f"fun's cost is not finite at theta[{k}] +/- {h:.3g} "
                f"(eps={eps:g}): use a smaller eps."
            )
        # The actual step, as represented in floating point.
        D_fd[i] = (J_plus - J_minus) / (t_plus[k] - t_minus[k])
    D = D[coords]
    scale = max(np.linalg.norm(D), np.linalg.norm(D_fd), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(D - D_fd) / scale)
