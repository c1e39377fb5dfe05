"""``alpha="auto"``: the penalty a fit uses.

The evidence with one penalty per input and per later layer (``"ard"``,
:mod:`~skbackprop._training.evidence`) where it applies: a full batch in
memory, a solver that runs inside its loop, a loss with a likelihood and a
curvature, and a network whose evidence terms are exact
(:func:`~skbackprop._training.evidence_terms.exact`).  Elsewhere the
estimator's fixed ``_auto_alpha``.
"""

from skbackprop._training import evidence_terms


def penalty(est, incremental, X):
    """This fit's ``alpha`` as far as it is known before the data are
    encoded: ``est.alpha`` unless it is ``"auto"``."""
    if est.alpha != "auto":
        return est.alpha
    solver = est._solver()
    loss = est._penalized_loss()
    applies = (
        not incremental
        and not est.early_stopping
        and solver is not None
        and solver.evidence
        and not (solver.mini_batch and est.batch_size is not None)
        and not hasattr(X, "__dask_graph__")
        and loss is not None
        and loss.likelihood is not None
        and loss.curvature
    )
    return "ard" if applies else est._auto_alpha


def too_large(est, objective):
    """Whether ``"auto"`` chose the evidence for a network too large for its
    exact terms: their estimates would cost more than the fit, and the
    fixed penalty is used instead."""
    return (
        est.alpha == "auto"
        and est._alpha_in_use() == "ard"
        and not evidence_terms.exact(objective)
    )
