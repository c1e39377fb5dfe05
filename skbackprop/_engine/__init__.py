"""The engine: the network's arithmetic, with no knowledge of estimators.

* :mod:`~skbackprop._engine.params`: layer sizes, the flat parameter layout,
  Glorot initialisation.
* :mod:`~skbackprop._engine.activations`, :mod:`~skbackprop._engine.losses`:
  tables of small array functions.
* :mod:`~skbackprop._engine.threads`: BLAS threads and the row workers that
  split a batch between them.
* :mod:`~skbackprop._engine.network`: :class:`Network`, the forward cascade
  and the backward two-step rule, cost and gradient over row blocks.
* :mod:`~skbackprop._engine.r_operator`: Hessian and Gauss-Newton products by
  the R-operator.
* :mod:`~skbackprop._engine.jacobian`: the logits' Jacobian, by its
  products and in dense blocks.
* :mod:`~skbackprop._engine.gauss_newton`: the dense Gauss-Newton matrix,
  with the cost and gradient of the same pass.
* :mod:`~skbackprop._engine.gradcheck`: central finite differences.
* :mod:`~skbackprop._engine.functional`,
  :mod:`~skbackprop._engine.functional_jacobian`: the public functions over
  them, whose arguments :mod:`~skbackprop._engine.arguments` checks.

Nothing here imports from the training layer or the estimators.
"""
