"""Compare an experiment's variants (tpt.experiment): one table of variant x round, plots, and each variant's
last-round difference from the reference, paired by test problem."""
import glob

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tpt import paths, stages  # noqa: E402


def _value(m, metric, k=None, field="value"):
    sel = m[(m["metric"] == metric) & ((m["k"] == k) if k is not None else m["k"].isna())]
    return float(sel[field].iloc[0]) if len(sel) else float("nan")


def wall_time(variant, round_, results, owners, shared=None):
    """Seconds of the jobs that made a variant's round (tpt.stages.of_round; round 0: the base model and its
    evaluation), read from the benchmark files of whichever variant ran them (a shared artifact's jobs ran in its
    owner's folder). results: variant -> results folder; owners: {(variant, artifact path under its results
    folder): owner}. NaN when no benchmark file is found (e.g. a model from the hub has none). shared: a dict that
    gets {the variant that ran them: seconds} of the jobs another variant ran."""
    total, found = 0.0, False
    for stage in stages.of_round(round_):
        artifact = paths.relative(stage.writes(results[variant], round_)[0], results[variant])
        owner = owners.get((variant, artifact), variant)
        for f in glob.glob(stages.benchmark_files(stage, results[owner], round_)):
            seconds = float(pd.read_csv(f, sep="\t")["s"].iloc[-1])
            total += seconds
            found = True
            if owner != variant and shared is not None:
                shared[owner] = shared.get(owner, 0.0) + seconds
    return total if found else float("nan")


def table(eval_metrics, think_metrics, results=None, owners=None):
    """One row per variant and round. eval_metrics, think_metrics: variant -> METRICS of all its rounds."""
    rows = []
    for variant, m in eval_metrics.items():
        t = think_metrics.get(variant)
        for round_, e in m.groupby("round"):
            n = int(_value(e, "samples_per_problem"))
            shared = {}
            th = t[t["round"] == round_] if t is not None else e.head(0)
            think_samples = _value(th, "problems") * _value(th, "samples_per_problem") if len(th) else 0.0
            rows.append({
                "variant": variant, "round": int(round_),
                "pass@1": _value(e, "pass@k_strict", 1), "pass@1_stderr": _value(e, "pass@k_strict", 1, "stderr"),
                "pass@n": _value(e, "pass@k_strict", n), "n": n,
                "coverage": _value(e, "coverage"), "distinct_correct": _value(e, "distinct_correct"),
                "think_coverage": _value(th, "coverage") if len(th) else float("nan"),
                "sft_examples": _value(th, "sft_examples") if len(th) else float("nan"),
                "sft_distinct": _value(th, "sft_distinct") if len(th) else float("nan"),
                "samples": int(think_samples + _value(e, "problems") * n),
                "wall_s": wall_time(variant, int(round_), results, owners or {}, shared) if results else float("nan"),
                # of which run by other variants (shared jobs), and by which
                "shared_wall_s": sum(shared.values()), "ran_by": ",".join(sorted(shared)),
            })
    return pd.DataFrame(rows)


def paired_difference(verdicts):
    """Each variant's strict Pass@1 at a round minus the variant it is compared with at the same round (its
    partner: the reference, see experiment.partners), paired by problem: the mean of the per-problem differences
    of accuracy, with its standard error.
    verdicts: variant -> (round, its eval VERDICTS of that round, the partner's name, the partner's VERDICTS)."""
    rows = []
    for variant, (round_, mine, against, theirs) in verdicts.items():
        a, b = (d.groupby("problem_id")["correct_strict"].mean() for d in (mine, theirs))
        diff = (a - b).dropna()
        if len(diff) != len(b) or len(diff) != len(a):
            raise ValueError(f"variant {variant!r} and {against!r} were evaluated on different problems: a paired "
                             "difference needs the same ones")
        rows.append({"variant": variant, "round": round_, "against": against, "diff": diff.mean(),
                     "stderr": diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan"),
                     "problems": len(diff)})
    return pd.DataFrame(rows)


def markdown(tab, paired, reference):
    lines = ["| variant | round | Pass@1 strict | Pass@n | coverage | distinct correct | think coverage "
             "| SFT examples | SFT distinct | samples | wall s (shared: run by) |", "|---" * 11 + "|"]

    def f(x, fmt):
        return "" if x != x else fmt.format(x)

    for r in tab.to_dict("records"):
        lines.append(f"| {r['variant']} | {r['round']} | {100 * r['pass@1']:.1f} ± {100 * r['pass@1_stderr']:.1f} | "
                     f"{100 * r['pass@n']:.1f} (n={r['n']}) | {100 * r['coverage']:.1f} | "
                     f"{r['distinct_correct']:.2f} | {f(100 * r['think_coverage'], '{:.1f}')} | "
                     f"{f(r['sft_examples'], '{:.0f}')} | {f(r['sft_distinct'], '{:.0f}')} | {r['samples']} | "
                     f"{f(r['wall_s'], '{:.0f}')}"
                     + (f" ({r['shared_wall_s']:.0f}: {r['ran_by']})" if r.get("ran_by") else "") + " |")
    lines += ["", f"Each variant's strict Pass@1 at its last round minus the reference's ({reference}) at the same "
              "round, paired by test problem (a variant evaluated on other problems, e.g. a validation twin, "
              "against the first variant evaluated on the same ones):", "",
              "| variant | round | against | difference (points) | standard error | problems |",
              "|---|---|---|---|---|---|"]
    for r in paired.to_dict("records"):
        lines.append(f"| {r['variant']} | {r['round']} | {r['against']} | {100 * r['diff']:+.1f} | "
                     f"{f(100 * r['stderr'], '{:.1f}')} | {r['problems']} |")
    return "\n".join(lines) + "\n"


def plot(tab, column, label, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, t in tab.groupby("variant", sort=False):
        yerr = 100 * t[f"{column}_stderr"] if f"{column}_stderr" in t else None
        ax.errorbar(t["round"], 100 * t[column], yerr=yerr, marker="o", capsize=3, label=variant)
    ax.set(xlabel="round", ylabel=f"{label} (%)", title=f"{label} per round and variant")
    ax.set_xticks(sorted(tab["round"].unique()))
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
