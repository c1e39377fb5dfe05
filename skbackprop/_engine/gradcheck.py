"""Central finite differences against an analytic gradient."""

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state


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
    eps : float, default=None
        Relative step; ``h = eps * max(1, |theta_k|)``.  None uses the cube
        root of float64's machine epsilon, which balances truncation and
        rounding error for central differences.
    n_coords : int, default=None
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
    if eps is None:
        eps = np.finfo(np.float64).eps ** (1 / 3)
    _, D = fun(theta, *args)
    D = np.asarray(D, dtype=np.float64)
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
        # The actual step, as represented in floating point.
        D_fd[i] = (fun(t_plus, *args)[0] - fun(t_minus, *args)[0]) / (
            t_plus[k] - t_minus[k]
        )
    D = D[coords]
    scale = max(np.linalg.norm(D), np.linalg.norm(D_fd), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(D - D_fd) / scale)
