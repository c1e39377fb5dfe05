"""scikit-learn's own estimator checks, on both estimators.

Default parameters, and small fast instances of each solver family.  No
check is marked as an expected failure except where it is inapplicable;
each such entry says why.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skbackprop import BackpropClassifier, BackpropRegressor
from skbackprop.losses import PinballLoss


def _instances():
    small = {"hidden_layer_sizes": (8,), "random_state": 0}
    return [
        BackpropClassifier(),
        BackpropRegressor(),
        BackpropClassifier(solver="CG", max_iter=50, **small),
        # A Newton-type solver run to a tight tolerance on a well-conditioned
        # (regularized) problem, so that weighted and repeated rows reach the
        # same minimum rather than merely nearby points of a flat valley.
        BackpropRegressor(
            solver="trust-ncg", alpha=0.1, tol=1e-10, max_iter=300, **small
        ),
        BackpropClassifier(
            solver="Newton-CG", curvature="gauss-newton", max_iter=30, **small
        ),
        BackpropClassifier(solver="gd", max_iter=100, **small),
        BackpropRegressor(solver="gd", max_iter=100, **small),
        BackpropClassifier(
            solver="gd",
            batch_size=16,
            momentum=0.9,
            nesterovs_momentum=True,
            max_iter=50,
            **small,
        ),
        BackpropRegressor(
            solver="gd", batch_size=16, momentum=0.9, max_iter=50, **small
        ),
        BackpropRegressor(loss="poisson", max_iter=100, **small),
        # The robust and quantile losses, thresholds set from the targets.
        BackpropRegressor(loss="huber", max_iter=100, **small),
        # The pinball loss rounded over half the checks' target spacing: at
        # the default width (1e-2 robust scales) the loss of their integer
        # targets is flat along a set of minima, which weighted and repeated
        # rows reach at different points; rounded wider the minimum is one.
        BackpropRegressor(loss=PinballLoss(0.7, delta=0.5), max_iter=500, **small),
        # Z-keeping and invertible activations, one per hidden layer.
        BackpropClassifier(
            hidden_layer_sizes=(8, 4),
            activation=["gelu", "elu"],
            max_iter=50,
            random_state=0,
        ),
        BackpropRegressor(activation="silu", max_iter=100, **small),
        # Levenberg-Marquardt and SciPy's least_squares.  Weighted and repeated
        # rows give the same G, D and residual sums, hence the same path;
        # least_squares' trust-region path through ReLU's kinks is parted by
        # rounding (to neighbouring minima), so it runs a smooth activation.
        BackpropClassifier(solver="lm", max_iter=50, **small),
        BackpropRegressor(solver="lm", alpha=0.1, max_iter=50, **small),
        # A smooth activation: lm's geodesic acceleration is on ("auto").
        BackpropClassifier(activation="tanh", solver="lm", max_iter=50, **small),
        BackpropRegressor(
            activation="tanh", solver="least_squares", alpha=0.1, max_iter=50, **small
        ),
        # iRprop+ and scaled conjugate gradients (exact curvature products).
        BackpropClassifier(solver="rprop", max_iter=50, **small),
        BackpropRegressor(solver="scg", max_iter=50, **small),
        # alpha="evidence" (the classifier shares its loop): weighted rows
        # count as repeated ones (N = S), so both reach the same re-estimates.
        BackpropRegressor(alpha="evidence", solver="lm", max_iter=20, **small),
        # alpha="ard": one penalty per input, an array alpha_.
        BackpropClassifier(alpha="ard", solver="lm", max_iter=20, **small),
        # alpha="auto" with every other setting at its default: ARD where
        # the evidence applies, the fixed penalty for partial_fit.
        BackpropClassifier(alpha="auto"),
        BackpropRegressor(alpha="auto"),
    ]


_STOCHASTIC = {
    # Mini-batch gradient descent follows the rows, not only the objective:
    # repeating a row changes which rows share a batch, so weighted and
    # repeated data take different (equally valid) paths.
    "check_sample_weight_equivalence_on_dense_data": "mini-batch path depends on rows",
    "check_sample_weight_equivalence_on_sparse_data": "mini-batch path depends on rows",
}

_POISSON = {
    # This check draws targets from make_regression without applying the
    # positive_only target tag; the Poisson loss is undefined for y < 0.
    "check_regressor_multioutput": "Poisson loss needs non-negative targets",
}


_KINKS = {
    # Weighted and repeated rows define the same objective, but their sums
    # run in another order, and on ReLU's kinks L-BFGS-B's paths through
    # this non-convex problem part: measured 5e-8 apart in probability at
    # the default stop on sparse data, 3e-4 apart when run to ftol=1e-13 (a
    # neighbouring minimum), against the check's rtol of 1e-7.  On dense
    # data it depends on the rounding: 0.01 to 1.9 times the check's
    # tolerance over row-block sizes and BLAS kernels (Haswell, Sandybridge,
    # Nehalem), so that it passes on some machines only.  The trust-ncg
    # instance above checks the equivalence to 1e-14, and test_classes.py
    # checks that each fit meets the other data's gradient test.
    "check_sample_weight_equivalence_on_dense_data": "paths part at ReLU kinks",
    "check_sample_weight_equivalence_on_sparse_data": "paths part at ReLU kinks",
}


def _expected_failed_checks(estimator):
    default = type(estimator)().get_params()
    if estimator.get_params() == default and type(estimator) is BackpropClassifier:
        return _KINKS
    if estimator.get_params() == {**default, "alpha": "auto"}:
        # The same L-BFGS-B paths through ReLU's kinks, inside the
        # evidence's loop.  The classifier's fits end 1.7e-7 (dense) and
        # 1.3e-7 (sparse) apart in relative probability, against the check's
        # rtol of 1e-7.  The regressor's pass on dense data; on sparse data
        # its two loops part at the third re-estimation (log evidence
        # -39.8722 against -39.8687) and settle at neighbouring minima,
        # predictions 2.4e-3 apart.
        return _KINKS
    if estimator.solver == "gd" and estimator.batch_size is not None:
        return _STOCHASTIC
    if getattr(estimator, "loss", None) == "poisson":
        return _POISSON
    return {}


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
