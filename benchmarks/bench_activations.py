"""Cost of a gradient with each hidden activation, relative to ReLU.

``Network.cost_grad`` (``J`` and ``D``, reused buffers) on m rows x 100
features, hidden layers (256, 256), 10 classes, float64 and float32, for every
activation of the estimators; and the exact Hessian-vector product
(``network_hessp``), whose forward pass also needs ``g''``.  BLAS on one
thread; each time is the process CPU time of one call, the minimum over
``--repeats`` calls made in turns across the activations, so that a shared
machine's load hits all of them alike.

Run ``python benchmarks/bench_activations.py`` (about a minute); it writes
``benchmarks/results/activations.md``.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from skbackprop import init_params
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import network_hessp

ORDER = ["relu", "identity", "tanh", "logistic", "leaky_relu", "softplus", "elu"]
ORDER += ["gelu", "silu"]
assert sorted(ORDER) == sorted(HIDDEN_ACTIVATIONS)


def _cpu_time(fn, *args, **kwargs):
    start = time.process_time()
    fn(*args, **kwargs)
    return time.process_time() - start


def measure(m, dtype, repeats, hessp_rows):
    rng = np.random.default_rng(0)
    sizes = (100, 256, 256, 10)
    X = rng.normal(size=(m, sizes[0])).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, m)]
    nets = {a: Network(sizes, a, "log_loss", dtype=dtype) for a in ORDER}
    thetas = {a: init_params(sizes, a, random_state=0, dtype=dtype) for a in ORDER}
    v = rng.normal(size=thetas["relu"].size).astype(dtype)
    grad = {a: [] for a in ORDER}
    hess = {a: [] for a in ORDER}
    Xh, Yh = X[:hessp_rows], Y[:hessp_rows]
    for a in ORDER:  # warm-up: buffers allocated once
        nets[a].cost_grad(thetas[a], X, Y)
    for _ in range(repeats):
        for a in ORDER:
            net, theta = nets[a], thetas[a]
            grad[a].append(_cpu_time(net.cost_grad, theta, X, Y))
            hess[a].append(_cpu_time(network_hessp, net, theta, v, Xh, Yh, alpha=1e-4))
    return {a: (min(grad[a]), min(hess[a])) for a in ORDER}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    lines = [
        "# Gradient and Hessian-vector cost by hidden activation",
        "",
        f"Network 100-256-256-10, {args.rows} rows for the gradient and "
        f"{args.rows // 4} for `H v`; BLAS on one thread; process CPU time, "
        f"minimum of {args.repeats} calls made in turns.",
        "",
        "| activation | dtype | gradient (ms) | vs relu | H v (ms) | vs relu |",
        "|---|---|---:|---:|---:|---:|",
    ]
    with threadpool_limits(1, user_api="blas"):
        for dtype in (np.float64, np.float32):
            times = measure(args.rows, dtype, args.repeats, args.rows // 4)
            g0, h0 = times["relu"]
            for a in ORDER:
                g, h = times[a]
                row = (
                    f"| {a} | {np.dtype(dtype).name} | {1e3 * g:.1f} | "
                    f"{g / g0:.2f} | {1e3 * h:.1f} | {h / h0:.2f} |"
                )
                lines.append(row)
                print(row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "activations.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
