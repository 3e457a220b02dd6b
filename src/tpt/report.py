"""Report: the summary table (Parquet and Markdown), summary.md and the plots of a run, from every round's eval
artifacts (the cost table's rendering is tpt.cost's)."""
import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

from tpt import cost, probe  # noqa: E402
from tpt.artifacts import SCORINGS  # noqa: E402
from tpt.code import validate  # noqa: E402


def scorings(table):
    """The scorings a summary table has (a code task has strict only)."""
    return [s for s in SCORINGS if f"pass@1_{s}" in table]


def summary(metrics):
    """One row per round: Pass@1 under each scoring of the task (with standard errors), Pass@n, and the health
    figures."""
    present = [s for s in SCORINGS if (metrics["metric"] == f"pass@k_{s}").any()]
    rows = []
    for round_, m in metrics.groupby("round"):
        def get(metric, k=None, field="value"):
            sel = m[(m["metric"] == metric) & ((m["k"] == k) if k is not None else m["k"].isna())]
            return float(sel[field].iloc[0]) if len(sel) else float("nan")

        n = int(get("samples_per_problem"))
        row = {"round": int(round_)}
        for s in present:
            row[f"pass@1_{s}"] = get(f"pass@k_{s}", 1)
            row[f"pass@1_{s}_stderr"] = get(f"pass@k_{s}", 1, "stderr")
        row["pass@n_strict"], row["n"] = get("pass@k_strict", n), n
        row["correct@n_strict"] = get("correct@k_strict", n)  # majority vote over all n samples
        for name in ("no_answer_rate", "truncation_rate", "mean_completion_tokens", "problems"):
            row[name] = get(name)
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("round").reset_index(drop=True)
    base = table["pass@1_strict"].iloc[0]
    table["gain_strict"] = table["pass@1_strict"] - base
    return table


def markdown(table):
    names = scorings(table)
    lines = ["| round | " + " | ".join(f"Pass@1 {s}" for s in names) + " | Pass@n strict | Correct@n (majority) "
             "| no answer | truncated | mean tokens |", "|---" * (len(names) + 6) + "|"]
    for r in table.to_dict("records"):
        cells = [f"{100 * r[f'pass@1_{s}']:.1f} ± {100 * r[f'pass@1_{s}_stderr']:.1f}" for s in names]
        lines.append(f"| {r['round']} | {' | '.join(cells)} | "
                     f"{100 * r['pass@n_strict']:.1f} (n={r['n']}) | {100 * r['correct@n_strict']:.1f} | "
                     f"{100 * r['no_answer_rate']:.1f}% | "
                     f"{100 * r['truncation_rate']:.1f}% | {r['mean_completion_tokens']:.0f} |")
    first, last = table.iloc[0], table.iloc[-1]
    se = (first["pass@1_strict_stderr"] ** 2 + last["pass@1_strict_stderr"] ** 2) ** 0.5
    lines += ["", f"Strict Pass@1 from round {int(first['round'])} to round {int(last['round'])}: "
              f"{100 * first['pass@1_strict']:.1f} -> {100 * last['pass@1_strict']:.1f} "
              f"({100 * (last['pass@1_strict'] - first['pass@1_strict']):+.1f} points, "
              f"{(last['pass@1_strict'] - first['pass@1_strict']) / se if se else float('nan'):.1f} standard errors)."]
    return "\n".join(lines) + "\n"


def summary_md(table, spread, costs, cost_path, checks, probes=()):
    """The run's summary.md: the summary table, the cost line and table, what the known solutions of a code task's
    problems did (task.validate; only when some were checked), the think temperatures the probes chose
    (think.auto_temperature) and the diversity table. table: summary(); spread: diversity(); costs: the COST table,
    at cost_path; checks: {split: PROBLEM_CHECKS}; probes: each round's PROBE."""
    text = markdown(table) + "\n" + cost.line(costs, cost_path) + "\n\n" + cost.markdown(costs)
    if probes:
        text += ("\nThink temperature of each round, chosen by its probe (think.auto_temperature): the balance score "
                 "of each temperature (tpt.probe)\n\n" + probe.markdown(probes))
    if any(c["checked"].any() for c in checks.values()):
        text += "\n" + validate.markdown(checks)
    return (text + "\nDiversity (tpt.diversity): coverage = share of problems with a correct sample; distinct = "
            "distinct correct solutions per problem by their equations (math) or normalized tokens (code)\n\n"
            + diversity_markdown(spread))


def _scalar(metrics, round_, metric):
    sel = metrics[(metrics["round"] == round_) & (metrics["metric"] == metric) & metrics["k"].isna()]
    return float(sel["value"].iloc[0]) if len(sel) else float("nan")


def diversity(eval_metrics, think_metrics):
    """One row per round: eval's coverage, distinct correct solutions and distinct answers per test problem;
    think's Pass@1, coverage and distinct correct solutions per train problem; the SFT set's examples, problems,
    distinct solutions and spread over difficulty (tpt.diversity). Round 0 has no think phase (NaN there)."""
    rows = []
    for round_ in sorted(eval_metrics["round"].unique()):
        row = {"round": int(round_)}
        for name in ("coverage", "distinct_correct", "distinct_answers"):
            row[f"eval_{name}"] = _scalar(eval_metrics, round_, name)
        think = think_metrics[(think_metrics["round"] == round_)]
        p1 = think[(think["metric"] == "pass@k_strict") & (think["k"] == 1)]["value"]
        row["think_pass@1_strict"] = float(p1.iloc[0]) if len(p1) else float("nan")
        for name in ("coverage", "distinct_correct"):
            row[f"think_{name}"] = _scalar(think_metrics, round_, name)
        for name in sorted(set(think_metrics["metric"]), key=list(think_metrics["metric"]).index):
            if name.startswith("sft_"):
                row[name] = _scalar(think_metrics, round_, name)
        rows.append(row)
    return pd.DataFrame(rows)


def diversity_markdown(table):
    """The diversity table of summary.md."""
    shares = [c for c in table.columns if c.startswith("sft_share_solve_rate_")]
    bins = ["/".join(c.split("_")[-2:]) for c in shares]
    lines = ["| round | coverage (eval) | distinct correct (eval) | distinct answers (eval) | Pass@1 (think) "
             "| coverage (think) | distinct correct (think) | SFT examples | SFT problems | SFT distinct "
             f"| SFT share by think solve rate % ({', '.join(bins)}) |", "|---" * 11 + "|"]

    def pct(x):
        return "" if x != x else f"{100 * x:.1f}"

    def num(x, fmt="{:.2f}"):
        return "" if x != x else fmt.format(x)

    for r in table.to_dict("records"):
        spread = " / ".join(f"{100 * r[c]:.0f}" for c in shares) if shares and r[shares[0]] == r[shares[0]] else ""
        lines.append(f"| {r['round']} | {pct(r['eval_coverage'])} | {num(r['eval_distinct_correct'])} | "
                     f"{num(r['eval_distinct_answers'])} | {pct(r['think_pass@1_strict'])} | "
                     f"{pct(r['think_coverage'])} | {num(r['think_distinct_correct'])} | "
                     f"{num(r.get('sft_examples', float('nan')), '{:.0f}')} | "
                     f"{num(r.get('sft_problems', float('nan')), '{:.0f}')} | "
                     f"{num(r.get('sft_distinct', float('nan')), '{:.0f}')} | {spread} |")
    return "\n".join(lines) + "\n"


def plot_pass1(table, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for s in scorings(table):
        ax.errorbar(table["round"], 100 * table[f"pass@1_{s}"], yerr=100 * table[f"pass@1_{s}_stderr"],
                    marker="o", capsize=3, label=s)
    ax.set(xlabel="round", ylabel="Pass@1 (%)", title="Pass@1 per round (± 1 standard error)")
    ax.set_xticks(table["round"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def plot_passk(metrics, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    strict = metrics[metrics["metric"] == "pass@k_strict"]
    for round_, m in strict.groupby("round"):
        ax.plot(m["k"], 100 * m["value"], marker=".", label=f"round {int(round_)}")
    ax.set(xlabel="k", ylabel="Pass@k strict (%)", title="Pass@k per round", xscale="log")
    ks = sorted(int(k) for k in strict["k"].dropna().unique())
    ax.xaxis.set_major_locator(FixedLocator(_log_ticks(ks)))  # k is an integer: 1, 2, 5, 10, 20, ... not 2x10^0
    ax.xaxis.set_major_formatter(FuncFormatter(lambda k, _: f"{k:.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def _log_ticks(ks):
    """Integer ticks for a log axis over ks: 1, 2, 5, 10, 20, 50, ... up to the largest k, and that k."""
    if not ks:
        return []
    ticks = [m * 10 ** e for e in range(len(str(ks[-1]))) for m in (1, 2, 5) if m * 10 ** e <= ks[-1]]
    ticks = [t for t in ticks if t >= ks[0]]
    return sorted(set(ticks + [ks[-1]]))


def plot_training_curves(curves, path):
    """curves: {round: TRAINING_CURVE DataFrame}. The training loss per logging step of each round's fine-tune
    (solid) and its validation loss (dots, when there is a validation set)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (round_, c) in enumerate(sorted(curves.items())):
        colour = f"C{i % 10}"
        train, val = c[c["split"] == "train"], c[c["split"] == "val"]
        ax.plot(train["step"], train["loss"], color=colour, label=f"round {round_}")
        if len(val):
            ax.plot(val["step"], val["loss"], "o--", color=colour, markersize=4, label=f"round {round_} (val)")
    ax.set(xlabel="step of the round's fine-tune", ylabel="loss", title="Training loss per round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if curves:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def plot_cost(costs, path):
    """Stacked bars: each round's job wall time (minutes) by stage."""
    t = costs.assign(round=costs["round"].astype("string").fillna("-"))
    wide = t.pivot_table(index="round", columns="stage", values="wall_s", aggfunc="sum", sort=False).fillna(0) / 60
    gpu_h = t.groupby("round", sort=False)["gpu_s"].sum() / 3600
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = None
    for stage in wide.columns:
        ax.bar(wide.index, wide[stage], bottom=bottom, label=stage)
        bottom = wide[stage] if bottom is None else bottom + wide[stage]
    for x, h in gpu_h.items():
        if h > 0:
            ax.annotate(f"{h:.2f} GPU-h", (x, wide.loc[x].sum()), ha="center", va="bottom", fontsize="small")
    ax.set(xlabel="round (-: run-wide jobs)", ylabel="job wall time (min)", title="Wall time per round and stage")
    ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def plot_solve_rate(per_problem, path):
    """per_problem: DataFrame, one column per round, one row per test problem, values = share of samples correct.
    Problems sorted by their round-0 solve rate, so movement between rounds shows as colour changes."""
    order = per_problem.sort_values(list(per_problem.columns)).index
    fig, ax = plt.subplots(figsize=(6, 4))
    im = ax.imshow(per_problem.loc[order].T.to_numpy(), aspect="auto", interpolation="nearest", cmap="viridis",
                   vmin=0, vmax=1)
    ax.set(xlabel="test problem (sorted by solve rate)", ylabel="round", title="Per-problem solve rate (strict)")
    ax.set_yticks(range(len(per_problem.columns)), [str(c) for c in per_problem.columns])
    fig.colorbar(im, ax=ax, label="share of samples correct")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
