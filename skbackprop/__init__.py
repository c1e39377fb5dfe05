"""scikit-learn compatible neural networks trained by exact batch backpropagation.

The public API:

* :class:`BackpropClassifier`, :class:`BackpropRegressor`: the estimators.
* :func:`cost_grad`: the cost ``J`` and the regularized batch gradient ``D``,
  ready for :func:`scipy.optimize.minimize` with ``jac=True``.
* :func:`hessian_vector_product`, :func:`gauss_newton_vector_product`: exact
  curvature products for Newton-type solvers.
* :func:`jacobian_vector_product`, :func:`jacobian_transpose_vector_product`,
  :func:`output_jacobian`, :func:`gauss_newton_matrix`: the Jacobian of the
  network's logits and the dense Gauss-Newton matrix (Levenberg-Marquardt).
* :func:`check_gradient`: central finite differences against ``D``.
* :func:`init_params`, :func:`pack_params`, :func:`unpack_params`,
  :func:`n_params`, :func:`predict_network`: the flat parameter layout.
* :func:`trusted_types`, :class:`InconsistentVersionWarning`: loading saved
  estimators safely with skops, and the warning for files from another
  version.
* :func:`register_onnx_converters`: ONNX export through skl2onnx.
"""

from skbackprop._classes import BackpropClassifier, BackpropRegressor
from skbackprop._engine.functional import (
    cost_grad,
    gauss_newton_vector_product,
    hessian_vector_product,
    predict_network,
)
from skbackprop._engine.functional_jacobian import (
    gauss_newton_matrix,
    jacobian_transpose_vector_product,
    jacobian_vector_product,
    output_jacobian,
)
from skbackprop._engine.gradcheck import check_gradient
from skbackprop._engine.params import init_params, n_params, pack_params, unpack_params
from skbackprop._onnx import register_onnx_converters
from skbackprop._persistence import InconsistentVersionWarning, trusted_types
from skbackprop._version import __version__

__all__ = [
    "BackpropClassifier",
    "BackpropRegressor",
    "InconsistentVersionWarning",
    "__version__",
    "check_gradient",
    "cost_grad",
    "gauss_newton_matrix",
    "gauss_newton_vector_product",
    "hessian_vector_product",
    "init_params",
    "jacobian_transpose_vector_product",
    "jacobian_vector_product",
    "n_params",
    "output_jacobian",
    "pack_params",
    "predict_network",
    "register_onnx_converters",
    "trusted_types",
    "unpack_params",
]
