"""skbackprop against the machine's GEMM peak and against scikit-learn's MLP.

One process, one run, side by side (each part in its own script):

1. numpy's GEMM throughput (float64, float32): the reference peak, and
2. the batch gradient (``J`` and ``D``) of both libraries
   (``bench_gradient.py``);
3. ``fit`` with L-BFGS-B against ``MLPClassifier(solver="lbfgs")``, and
4. mini-batch ``solver="gd"`` against ``solver="sgd"`` (``bench_fit.py``);
5. the peak memory of each L-BFGS fit, each in a fresh subprocess, for
   every m (``bench_memory.py``).

It checks the targets and writes ``results/results.md``,
``results/results.json`` and ``results/results.png`` next to this file.
Usage::

    python benchmarks/run.py            # full run (about 5 minutes, 2 cores)
    python benchmarks/run.py --quick    # smoke run (under a minute)
"""

import argparse
import json
import os
import time
from pathlib import Path

import bench_fit
import bench_gradient
import bench_memory
from _common import RESULTS, environment_lines, system_info, write_outputs
from bench_gradient import ALPHA, HIDDEN, N_CLASSES, N_FEATURES

PARTS = (bench_gradient, bench_fit, bench_memory)
FULL = {k: v for part in PARTS for k, v in part.FULL.items()}
QUICK = {k: v for part in PARTS for k, v in part.QUICK.items()}


def check_targets(results):
    """The targets, each with the measured value and whether it is met."""
    checks = (
        bench_gradient.targets(results)
        + bench_fit.targets(results)
        + bench_memory.targets(results)
        + bench_gradient.linearity_targets(results)
    )
    return [{"target": t, "measured": v, "met": ok} for t, v, ok in checks]


def markdown(results):
    info, cfg = results["system"], results["config"]
    lines = environment_lines(info)
    if results["quick"]:
        lines[0] += " (quick run)"
    out = [
        "# skbackprop benchmark",
        "",
        *lines,
        f"- Network: {N_FEATURES} features, hidden {HIDDEN}, {N_CLASSES} classes, "
        f"ReLU, softmax + log-loss, alpha={ALPHA}; synthetic make_classification data",
        f"- Total run time: {results['total_seconds']:.0f} s",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(
            f"| {c['target']} | {c['measured']} | "
            f"{ {True: 'yes', False: '**no**', None: 'see value'}[c['met']] } |"
            for c in results["targets"]
        ),
        "",
        *bench_gradient.markdown(results),
        "",
        *bench_fit.markdown(results, cfg),
        "",
        *bench_memory.markdown(results, cfg),
    ]
    return "\n".join(out) + "\n"


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    bench_gradient.plot(axes[0], results)
    bench_fit.plot(axes[1], results)
    bench_memory.plot(axes[2], results)
    fig.suptitle(
        f"{results['system']['cpu']}, {results['system']['cores']} cores, "
        f"{results['system']['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results, out):
    write_outputs(out, "results", results, markdown(results), plot)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out", default=str(RESULTS), help="output dir")
    parser.add_argument(
        "--from-json", help="rewrite the table and plot from a results.json"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        results["targets"] = check_targets(results)
        write(results, Path(args.out))
        return
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    results = {"quick": args.quick, "config": cfg, "system": system_info()}
    for part in PARTS:
        results.update(part.run(cfg))
    results["system"]["load_average_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - start
    results["targets"] = check_targets(results)
    write(results, Path(args.out))


if __name__ == "__main__":
    main()
