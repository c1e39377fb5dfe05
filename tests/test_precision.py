"""The per-dtype stopping rules of L-BFGS-B (``_training/precision.py``).

The estimator-level outcome (float32 reaching float64's accuracy on the
digits example) is in ``test_sklearn_parity.py``; here, the restart loop
against a scripted ``minimize``.
"""

import numpy as np
import pytest
from scipy.optimize import OptimizeResult

from skbackprop._training.precision import minimize_float32, restarts_apply
from skbackprop._training.progress import StopTraining

STALL = "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH"
GTOL = "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"


def test_restarts_apply_to_float32_lbfgs_only():
    assert restarts_apply("L-BFGS-B", np.float32, None)
    assert not restarts_apply("L-BFGS-B", np.float64, None)
    assert not restarts_apply("BFGS", np.float32, None)
    assert not restarts_apply("L-BFGS-B", np.float32, {"ftol": 1e-9})
    assert restarts_apply("L-BFGS-B", np.float32, {"maxcor": 20})


def _scripted(runs):
    """A ``minimize`` returning the scripted ``(fun, max|D|, message, nit)`` runs."""
    calls = []

    def minimize(method, fun, theta, options, on_iteration):
        calls.append(dict(options))
        J, g, message, nit = runs[len(calls) - 1]
        theta = theta + 1.0
        result = OptimizeResult(
            x=theta,
            fun=J,
            jac=np.full(3, g),
            status=0 if "CONVERGENCE" in message else 1,
            success="CONVERGENCE" in message,
            message=message,
            nit=nit,
            nfev=nit + 2,
            njev=nit + 2,
        )
        return result

    return minimize, calls


def test_a_stall_above_gtol_restarts_until_the_gradient_test_holds():
    minimize, calls = _scripted([(3.0, 1e-2, STALL, 10), (2.0, 1e-5, GTOL, 5)])
    options = {"maxiter": 100, "maxfun": 1000, "gtol": 1e-4, "maxcor": 7}
    result = minimize_float32(minimize, None, np.zeros(3), options, None)
    assert result.success and result.fun == 2.0
    assert (result.nit, result.nfev, result.njev) == (15, 19, 19)
    np.testing.assert_array_equal(result.x, np.full(3, 2.0))  # from where it stopped
    # Each run gets what is left of the budgets, and the user's options.
    assert calls[1] == {"maxiter": 90, "maxfun": 988, "gtol": 1e-4, "maxcor": 7}


def test_a_restart_that_gains_nothing_ends_unsuccessfully():
    minimize, calls = _scripted([(3.0, 1e-2, STALL, 10), (3.0, 1e-2, STALL, 1)])
    result = minimize_float32(minimize, None, np.zeros(3), {"gtol": 1e-4}, None)
    assert len(calls) == 2
    assert not result.success
    assert "float32" in result.message and "tol = 0.0001" in result.message


@pytest.mark.parametrize(
    "run",
    [
        (3.0, 1e-5, STALL, 10),  # the gradient test holds too: converged
        (3.0, 1e-2, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT", 10),
        (3.0, 1e-2, STALL, 100),  # no iterations left
    ],
)
def test_no_restart_otherwise(run):
    minimize, calls = _scripted([run])
    options = {"maxiter": 100, "gtol": 1e-4}
    result = minimize_float32(minimize, None, np.zeros(3), options, None)
    assert len(calls) == 1 and result.message == run[2]


def test_a_gradient_blocked_by_a_bound_is_no_stall():
    # At an active bound (x = 1 = upper, D < 0 pushing up) the projected
    # gradient is 0: L-BFGS-B's gradient test holds, however large D is.
    minimize, calls = _scripted([(3.0, -1e-2, STALL, 10)])
    bounds = (np.full(3, -np.inf), np.full(3, 1.0))
    result = minimize_float32(minimize, None, np.zeros(3), {"gtol": 1e-4}, None, bounds)
    assert len(calls) == 1 and result.success
    # Without the bound the same run stalled and restarts.
    minimize, calls = _scripted([(3.0, -1e-2, STALL, 10), (2.0, 1e-5, GTOL, 1)])
    minimize_float32(minimize, None, np.zeros(3), {"gtol": 1e-4}, None)
    assert len(calls) == 2


def test_a_callback_stop_is_passed_through():
    def minimize(method, fun, theta, options, on_iteration):
        raise StopTraining

    with pytest.raises(StopTraining):
        minimize_float32(minimize, None, np.zeros(3), {}, None)
