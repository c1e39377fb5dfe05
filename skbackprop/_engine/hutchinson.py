"""Stochastic trace and log-determinant of a matrix known by its products.

For a symmetric positive definite ``M`` available only as ``v -> M v``, and
probes ``z`` with independent Rademacher (+-1) entries:

* Hutchinson's (1990) estimator: ``tr(P M^-1 P) = E[(P z)' M^-1 (P z)]``,
  and its entries (Bekas, Kokiopoulou & Saad 2007), ``diag(P M^-1 P) =
  E[(P z) .* M^-1 (P z)]``,
  with ``M^-1 (P z)`` by conjugate gradients (Hestenes & Stiefel 1952);
* stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017):
  ``log det M = E[z' log(M) z]``, with ``z' log(M) z ~ ||z||^2 e_1'
  log(T) e_1`` and ``T`` the tridiagonal matrix of a few Lanczos steps from
  ``z``, which conjugate gradients yield from their step lengths (Saad
  2003, 6.7.3).

Both run on the Jacobi-preconditioned ``D^-1/2 M D^-1/2`` (``D`` the
diagonal of ``M``), whose eigenvalues are far less spread: ``M^-1 = D^-1/2
(D^-1/2 M D^-1/2)^-1 D^-1/2`` and ``log det M = log det(D^-1/2 M D^-1/2) +
sum log D``.  The estimates' accuracy is measured in
``benchmarks/bench_evidence.py``.
"""

import numpy as np
from scipy.linalg import eigh_tridiagonal


def rademacher(rng, n_probes, n):
    """``n_probes`` probes of ``n`` independent +-1 entries, in float64."""
    return rng.choice(np.array([-1.0, 1.0]), size=(n_probes, n))


def conjugate_gradients(matvec, z, rtol, maxiter):
    """``(x, T_diag, T_off, n_products)``: ``x ~ M^-1 z`` and Lanczos's ``T``.

    Starts from ``x = 0`` and stops when ``||z - M x|| <= rtol ||z||`` or
    after ``maxiter`` products.
    """
    x = np.zeros_like(z)
    r = z.copy()
    p = r.copy()
    rr = float(r @ r)
    stop = rtol * np.sqrt(rr)
    steps, ratios = [], []
    for _ in range(maxiter):
        Mp = matvec(p)
        a = rr / float(p @ Mp)
        x += a * p
        r -= a * Mp
        steps.append(a)
        rr_next = float(r @ r)
        if np.sqrt(rr_next) <= stop:
            break
        b = rr_next / rr
        ratios.append(b)
        p = r + b * p
        rr = rr_next
    steps = np.array(steps)
    ratios = np.array(ratios[: len(steps) - 1])
    diag = 1.0 / steps
    diag[1:] += ratios / steps[:-1]
    off = np.sqrt(ratios) / steps[:-1]
    return x, diag, off, len(steps)


def diagonal_and_log_det(matvec, scale, probes, mask, rtol, maxiter, lanczos_steps):
    """Estimates of ``diag(P M^-1 P)`` and ``log det M``, and the products used.

    The diagonal is Bekas, Kokiopoulou & Saad's (2007) ``E[w .* M^-1 w]``,
    ``w = P z``: summed over entries, Hutchinson's ``tr(P M^-1 P)``.

    Parameters
    ----------
    matvec : callable
        ``v -> D^-1/2 M D^-1/2 v`` for float64 ``v``.
    scale : ndarray of shape (n,)
        ``D^-1/2`` (ones for no preconditioning).
    probes : ndarray of shape (n_probes, n)
        Rademacher probes (:func:`rademacher`).
    mask : ndarray of shape (n,)
        The 0/1 diagonal of ``P``.
    rtol, maxiter
        Stopping rule of the conjugate gradients of the trace.
    lanczos_steps : int
        Lanczos steps of the log-determinant's quadrature.

    Returns
    -------
    diagonal : ndarray of shape (n,)
        The average of ``w .* M^-1 w`` over the probes (zero outside ``P``).
    log_det : float
        The average over the probes.
    n_products : int
        The number of products evaluated.
    """
    traces, log_dets, n_products = [], [], 0
    for z in probes:
        w = mask * z
        x, _, _, k = conjugate_gradients(matvec, scale * w, rtol, maxiter)
        traces.append(w * (scale * x))
        _, diag, off, steps = conjugate_gradients(matvec, z, rtol, lanczos_steps)
        n_products += k + steps
        if len(diag) == 1:
            values, first = diag, np.ones(1)
        else:
            values, vectors = eigh_tridiagonal(diag, off)
            first = vectors[0]
        # Rounding can make a tiny Ritz value non-positive: clip it.
        values = np.maximum(values, np.finfo(float).tiny)
        log_dets.append(float(z @ z) * float(first**2 @ np.log(values)))
    log_det = float(np.mean(log_dets)) - 2.0 * float(np.sum(np.log(scale)))
    return np.mean(traces, axis=0), log_det, n_products
