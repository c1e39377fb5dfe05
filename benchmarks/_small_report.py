"""The report of ``bench_small.py``: ``small.md`` and ``small.png``.

The targets are those of the small-data speed issue: every cell of the grid
at least 1.3x faster than scikit-learn, their geometric mean at least 2x, the
four everyday fits at least 2x each and the grid search at least 1.3x.
"""

import numpy as np

from _common import (
    SETTLE_S,
    blas_setting,
    environment_lines,
    geometric_mean,
    md_table,
)

CELL_TARGET, MEAN_TARGET, FIT_TARGET, SEARCH_TARGET = 1.3, 2.0, 2.0, 1.3
SOLVER_TITLES = {
    "L-BFGS-B": "L-BFGS-B against scikit-learn's `lbfgs`",
    "gd": "mini-batch `gd` against scikit-learn's `sgd`",
}


def _hidden(c):
    return str(tuple(c["hidden"]))


def _slowest(cells, n=5):
    return sorted(cells, key=lambda c: c["ratio"])[:n]


def targets(results):
    """The issue's targets: ``{"target", "measured", "met"}`` each."""
    cells = results["cells"]
    gm = geometric_mean(c["ratio"] for c in cells)
    slow = [c for c in cells if c["ratio"] < CELL_TARGET]
    worst = _slowest(cells, 1)[0]
    checks = [
        (
            f"every cell >= {CELL_TARGET}x",
            f"{len(slow)} of {len(cells)} cells below; slowest "
            f"{worst['ratio']:.2f}x ({_name(worst)})",
            not slow,
        ),
        (f"geometric mean >= {MEAN_TARGET}x", f"{gm:.2f}x", gm >= MEAN_TARGET),
    ]
    for row in results["everyday"]:
        want = SEARCH_TARGET if row["fit"].startswith("GridSearchCV") else FIT_TARGET
        checks.append(
            (f"{row['fit']} >= {want}x", f"{row['ratio']:.2f}x", row["ratio"] >= want)
        )
    return [{"target": t, "measured": v, "met": ok} for t, v, ok in checks]


def summary(results):
    """The summary bullets: geometric means, the slowest cells, the shares
    of the fits outside the gradient."""
    cells = results["cells"]

    def gm_of(**where):
        sel = [c["ratio"] for c in cells if all(c[k] == v for k, v in where.items())]
        return f"{geometric_mean(sel):.2f}x" if sel else "-"

    def spread(values):
        if not values:
            return "-"
        return (
            f"median {np.median(values):.0%} ({min(values):.0%} to {max(values):.0%})"
        )

    fast = sum(c["ratio"] >= CELL_TARGET for c in cells)
    lines = [
        f"- Geometric mean of the ratios (scikit-learn time / skbackprop time) "
        f"over the {len(cells)} cells: **{gm_of()}** (L-BFGS-B "
        f"{gm_of(solver='L-BFGS-B')}, mini-batch {gm_of(solver='gd')}; float64 "
        f"{gm_of(dtype='float64')}, float32 {gm_of(dtype='float32')}).",
        f"- Cells at least {CELL_TARGET}x faster than scikit-learn: "
        f"{fast} of {len(cells)}.  Slowest: "
        + "; ".join(f"{_name(c)} {c['ratio']:.2f}x" for c in _slowest(cells))
        + ".",
    ]
    for solver in SOLVER_TITLES:
        share = {
            lib: [c[lib]["outside_gradient"] for c in cells if c["solver"] == solver]
            for lib in ("skbackprop", "sklearn")
        }
        lines.append(
            f"- Share of the fit outside the gradient evaluations, {solver}: "
            f"skbackprop {spread(share['skbackprop'])}; scikit-learn "
            f"{spread(share['sklearn'])}."
        )
    return lines


def _name(c):
    return f"{c['solver']} m={c['m']} {_hidden(c)} {c['dtype']}"


# The timing columns of every table: both times, the ratio, then each
# library's iterations / evaluations, loss and share outside the gradient.
TIMING_HEAD = [
    "skbackprop s",
    "sklearn s",
    "sklearn / skbackprop",
    "it / evals",
    "loss",
    "outside grad.",
    "sklearn it / evals",
    "sklearn loss",
    "sklearn outside grad.",
]


def _timing_columns(r):
    """The :data:`TIMING_HEAD` cells of one fit or cell ``r`` of the results."""
    return [
        f"{r['skbackprop']['seconds']:.3f}",
        f"{r['sklearn']['seconds']:.3f}",
        f"**{r['ratio']:.2f}x**",
        *_fit_columns(r["skbackprop"]),
        *_fit_columns(r["sklearn"]),
    ]


def _fit_columns(r):
    """Iterations / evaluations, loss and the share outside the gradient."""
    if "n_iter" not in r:  # the grid search
        return [
            "-",
            f"best CV accuracy {r['best_score']:.4f}",
            "-",
        ]
    return [
        f"{r['n_iter']} / {r['n_evals']}",
        f"{r['loss']:.6g}",
        f"{r['outside_gradient']:.0%}",
    ]


def markdown(results):
    cfg, info = results["config"], results["system"]
    env = environment_lines(info)
    if results["quick"]:
        env[0] += " (quick run)"
    threads = ", ".join(f"{k}={v}" for k, v in info["thread_variables"].items())
    lo, hi = cfg["lbfgs_iter"]
    elo, ehi = cfg["gd_epochs"]
    out = [
        "# Everyday-size fits: skbackprop against scikit-learn",
        "",
        *env,
        f"- BLAS threads: {blas_setting(info)}; thread variables {threads}",
        f"- Total run time: {results['total_seconds']:.0f} s",
        "",
        "Grid: `make_classification` (20 features, 10 informative and 5 "
        "redundant, 10 classes, one cluster per class, `random_state=0`, not "
        f"scaled) for every m; ReLU, `alpha={1e-4:g}`, the same Glorot initial "
        "weights in both libraries (`random_state=0`).  L-BFGS-B: "
        f"`max_iter` = {cfg['lbfgs_work']:.2g} / (m x weights), within [{lo}, "
        f"{hi}], `tol=0` (both run the budget unless SciPy's own tests stop "
        "them: the iterations are stated).  Mini-batch: batch 200, momentum "
        "0.9 (not Nesterov's), constant learning rate 0.01, shuffled, epochs = "
        f"{cfg['gd_work']:.2g} / (m x weights) within [{elo}, {ehi}], `tol=0`; "
        "the penalties "
        "differ (skbackprop scales alpha by the batch's share of the data).  "
        f"Times: the fastest of {cfg['repeats']} fit(s), the two libraries in "
        f"turns, each after a {SETTLE_S} s pause.  `it / evals`: iterations "
        "(epochs for mini-batch) / cost-gradient evaluations (batches).  "
        "`outside grad.`: the share of the fit spent outside the gradient "
        "evaluations (skbackprop's `InMemoryObjective.cost_grad` and "
        "`cost_grad_rows`, scikit-learn's `_backprop`): the optimizer, "
        "validation, set-up and Python overhead.",
        "",
        "## Summary",
        "",
        *summary(results),
        "",
        "## Targets",
        "",
        *md_table(
            ["target", "measured", "met"],
            [
                [t["target"], t["measured"], "yes" if t["met"] else "**no**"]
                for t in results["targets"]
            ],
            "lll",
        ),
        "",
        "## Everyday fits",
        "",
        "Digits: `load_digits`, standardized.  Regression: `make_friedman1` "
        "(noise 1, inputs and target standardized).  The grid search: "
        "`alpha` in {1e-4, 1e-3, 1e-2, 0.1} x hidden {(50,), (100,)}, 100 "
        "L-BFGS iterations (`tol=0`), 3 folds, refit, `n_jobs=2`; timed "
        "after one untimed search each (the worker processes start).",
        "",
    ]
    head = ["fit", *TIMING_HEAD]
    rows = [[r["fit"], *_timing_columns(r)] for r in results["everyday"]]
    out += md_table(head, rows, "l" + "r" * len(TIMING_HEAD))
    for solver, title in SOLVER_TITLES.items():
        cells = [c for c in results["cells"] if c["solver"] == solver]
        if not cells:
            continue
        out += ["", f"## Grid: {title}", ""]
        head = ["m", "hidden", "dtype", "budget", *TIMING_HEAD]
        rows = [
            [c["m"], _hidden(c), c["dtype"], c["budget"], *_timing_columns(c)]
            for c in cells
        ]
        out += md_table(head, rows, "rllr" + "r" * len(TIMING_HEAD))
    out += ["", "![ratios per cell](small.png)", ""]
    return "\n".join(out)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [2, 2, 1.3]}
    )
    cells = results["cells"]
    ms = sorted({c["m"] for c in cells})
    hiddens = list(dict.fromkeys(_hidden(c) for c in cells))
    dtypes = list(dict.fromkeys(c["dtype"] for c in cells))
    series = [(h, d) for h in hiddens for d in dtypes]
    width = 0.8 / len(series)
    for ax, solver in zip(axes[:2], SOLVER_TITLES, strict=True):
        for k, (h, d) in enumerate(series):
            by_m = {
                c["m"]: c["ratio"]
                for c in cells
                if c["solver"] == solver and _hidden(c) == h and c["dtype"] == d
            }
            x = np.arange(len(ms)) - 0.4 + (k + 0.5) * width
            ax.bar(
                x,
                [by_m.get(m, np.nan) for m in ms],
                width,
                color=f"C{hiddens.index(h)}",
                alpha=1.0 if d == "float64" else 0.55,
                hatch="" if d == "float64" else "//",
                label=f"{h} {d}",
            )
        ax.set_xticks(np.arange(len(ms)), [f"m={m:,}" for m in ms])
        ax.set_title(SOLVER_TITLES[solver].replace("`", ""), fontsize=10)
    ax = axes[2]
    everyday = results["everyday"]
    x = np.arange(len(everyday))
    ax.bar(x, [r["ratio"] for r in everyday], color="C7")
    ax.set_xticks(x, [r.get("short", str(i + 1)) for i, r in enumerate(everyday)])
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("Everyday fits (see small.md)", fontsize=10)
    ratios = [c["ratio"] for c in cells] + [r["ratio"] for r in everyday]
    lo, hi = min(0.9, min(ratios) / 1.1), max(2.2, max(ratios) * 1.15)
    ticks = [t for t in (0.25, 0.5, 0.75, 1, 1.3, 2, 3, 5, 10) if lo <= t <= hi]
    for ax in axes:
        ax.set_yscale("log")
        ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
        ax.set_ylim(lo, hi)
        ax.minorticks_off()
        ax.axhline(1.0, color="k", lw=0.8)
        ax.axhline(CELL_TARGET, color="C3", lw=0.8, ls=":")
        ax.axhline(MEAN_TARGET, color="C2", lw=0.8, ls=":")
        ax.set_ylabel("scikit-learn time / skbackprop time")
    axes[0].legend(fontsize=7, ncol=2)
    info = results["system"]
    limit = info.get("blas_threads_limit")
    blas = "default BLAS threads" if limit is None else f"BLAS limited to {limit}"
    fig.suptitle(
        f"skbackprop vs scikit-learn, everyday sizes: {info['cpu']}, "
        f"{info['cores']} cores, {blas}, {info['date']} (dotted: 1.3x and 2x)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
