"""The one outcome handler (``_training/solve.py``): however a run ends, the
parameters kept, ``loss_``, ``loss_curve_`` and ``n_iter_`` belong together."""

import re
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import OptimizeResult
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from skbackprop import BackpropClassifier, BackpropRegressor, cost_grad, pack_params
from skbackprop._training import solvers
from skbackprop._training.objective import InMemoryObjective

X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
y_reg = X[:, 0] - 0.5 * X[:, 1] ** 2

SOLVERS = [
    "L-BFGS-B",
    "CG",
    "BFGS",
    "TNC",
    "SLSQP",
    "Newton-CG",
    "trust-ncg",
    "trust-constr",
    "Nelder-Mead",
    "COBYQA",
    "gd",
    "lm",
    "least_squares",
]


def _estimator(solver, **params):
    Est = BackpropRegressor if solver == "least_squares" else BackpropClassifier
    params = {"max_iter": 40, **params}
    return Est((4,), "tanh", solver=solver, random_state=0, **params)


def _cost_at_fit(est):
    """The cost of the returned weights, from the public engine function."""
    if isinstance(est, BackpropRegressor):
        Y, target = y_reg[:, None], y_reg
    else:
        Y, target = np.eye(3)[y], y
    theta = pack_params(est.coefs_, est.intercepts_)
    sizes = (X.shape[1], *(W.shape[1] for W in est.coefs_))
    del target
    return cost_grad(theta, X, Y, sizes, est.activation, est.loss_function_, est.alpha)[
        0
    ]


def _check_consistent(est, averaged=False):
    assert len(est.loss_curve_) == est.n_iter_
    J = _cost_at_fit(est)
    # The same cost, up to the order of the sums (one evaluation path or
    # another): a few ulps of the largest term.
    assert est.loss_ == pytest.approx(J, rel=1e-12, abs=1e-14)
    if est.n_iter_ and not averaged:
        assert est.loss_curve_[-1] == pytest.approx(J, rel=1e-12, abs=1e-14)


class _InterruptAt:
    """Replace ``InMemoryObjective.<name>``: the ``k``-th call evaluates and
    then raises KeyboardInterrupt, as a Ctrl-C landing just after an
    evaluation returned (before the solver could note its result)."""

    def __init__(self, monkeypatch, names, k):
        self.count, self.k = 0, k
        for name in names:
            real = getattr(InMemoryObjective, name)
            monkeypatch.setattr(InMemoryObjective, name, self._wrap(real))

    def _wrap(self, real):
        def wrapped(objective, *args):
            value = real(objective, *args)
            self.count += 1
            if self.count == self.k:
                raise KeyboardInterrupt
            return value

        return wrapped


@pytest.mark.parametrize("k", [1, 3, 8, 17])
@pytest.mark.parametrize("solver", SOLVERS)
def test_an_interrupt_anywhere_keeps_weights_and_loss_together(monkeypatch, solver, k):
    names = ["cost_grad", "cost", "hessp", "gauss_newton", "geodesic"]
    interrupt = _InterruptAt(monkeypatch, names, k)
    est = _estimator(solver)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, y_reg if solver == "least_squares" else y)
        except KeyboardInterrupt:
            # It landed after the solver's run, in the final evaluation: the
            # fit is abandoned and the estimator left as it was.
            assert not hasattr(est, "coefs_")
            return
    monkeypatch.undo()  # the checks below evaluate the objective too
    if interrupt.count >= k:
        assert any("interrupted" in str(w.message) for w in caught)
    _check_consistent(est)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("stop", ["callback", "KeyboardInterrupt", "StopIteration"])
def test_a_stop_from_the_callback_keeps_weights_and_loss_together(solver, stop):
    def callback(state):
        if state.nit == 3:
            if stop == "KeyboardInterrupt":
                raise KeyboardInterrupt
            if stop == "StopIteration":
                raise StopIteration
            return True
        return False

    est = _estimator(solver, callback=callback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y_reg if solver == "least_squares" else y)
    assert est.n_iter_ == 3
    _check_consistent(est)


def test_mini_batch_loss_is_its_last_epoch_average():
    # As scikit-learn's stochastic solvers: loss_ is the last entry of the
    # curve of epoch averages, also when interrupted mid-epoch (the weights
    # kept are those at the end of the last whole epoch).
    batches = []

    def callback(state):
        batches.append(state.x.copy())
        if state.nit == 4:
            raise KeyboardInterrupt

    est = _estimator("gd", batch_size=30, callback=callback)
    with pytest.warns(ConvergenceWarning, match="interrupted"):
        est.fit(X, y)
    assert est.n_iter_ == 4 and est.loss_ == est.loss_curve_[-1]
    np.testing.assert_array_equal(pack_params(est.coefs_, est.intercepts_), batches[-1])


def _lying_solver(fun, x0, args=(), jac=None, callback=None, **options):
    """A custom minimizer that reports a wrong cost, to the callback and in
    its result."""
    x = np.array(x0, copy=True)
    for nit in range(1, 4):
        x = x - 0.1 * jac(x, *args)
        if callback is not None:
            callback(OptimizeResult(x=x.copy(), fun=-1.0, nit=nit))
    return OptimizeResult(x=x, fun=-123.0, nit=3, success=True, message="done")


def test_a_custom_solvers_fun_is_never_the_loss():
    est = _estimator(_lying_solver).fit(X, y)
    assert est.n_iter_ == 3
    _check_consistent(est)
    assert est.loss_ > 0 and all(v > 0 for v in est.loss_curve_)


@pytest.mark.parametrize("solver", ["SLSQP", "COBYLA", "L-BFGS-B", "TNC"])
def test_an_unlimited_max_iter_is_clamped_for_scipy(solver):
    # sys.maxsize means "no limit": SciPy's compiled methods take a C int.
    est = BackpropClassifier(
        (2,), "tanh", solver=solver, max_iter=sys.maxsize, random_state=0, tol=1e-2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[:60], y[:60])
    assert est.n_iter_ > 0
    _check_consistent_subset(est)


def _check_consistent_subset(est):
    theta = pack_params(est.coefs_, est.intercepts_)
    sizes = (X.shape[1], *(W.shape[1] for W in est.coefs_))
    Y = np.eye(len(est.classes_))[y[:60]]
    if len(est.classes_) == 2:
        Y = Y[:, 1:]
    J = cost_grad(
        theta, X[:60], Y, sizes, est.activation, est.loss_function_, est.alpha
    )[0]
    assert est.loss_ == pytest.approx(J, rel=1e-12)


@pytest.mark.parametrize("solver", ["L-BFGS-B", "lm", "gd", "TNC"])
def test_verbose_ends_with_one_closing_line(capsys, solver):
    est = _estimator(solver, verbose=True, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(rf"{re.escape(solver)} stopped \(.+\): .+\. Kept .+, loss ", last)
    assert f"loss {est.loss_:.8f}." in last
    assert ("Final damping mu" in last) == (solver == "lm")


def test_registry_drives_the_names():
    assert {"gd", "lm", "least_squares", "L-BFGS-B", "trust-ncg"} <= set(
        solvers.SOLVERS
    )
    assert solvers.get_solver("lbfgs") is solvers.get_solver("L-BFGS-B")
    assert solvers.get_solver("l-bfgs-b") is solvers.get_solver("L-BFGS-B")
    assert solvers.names(lambda s: s.incremental) == ["gd"]
    assert set(solvers.names(lambda s: s.bounds)) == {
        "L-BFGS-B",
        "SLSQP",
        "TNC",
        "gd",
        "rprop",
        "trust-constr",
    }
    with pytest.raises(ValueError, match="already registered"):
        solvers.register(solvers.get_solver("gd"))


@pytest.mark.parametrize("solver", ["L-BFGS-B", "rprop"])
def test_convergence_warning_advises_scaling_only_unscaled_inputs(solver, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    reg = BackpropRegressor((8,), solver=solver, max_iter=3, random_state=seed)
    with pytest.warns(ConvergenceWarning, match="Increase max_iter") as caught:
        reg.fit(X, y)
    assert not any("scale" in str(w.message) for w in caught)
    # Dollars and years, sparse too: the same warning advises scaling.
    for unscaled in (X * [1e4, 1.0, 1.0], X + [0.0, 2000.0, 0.0]):
        for data in (unscaled, sp.csr_matrix(unscaled)):
            with pytest.warns(ConvergenceWarning, match="scale the inputs"):
                reg.fit(data, y)
