"""Compare an experiment's variants (tpt.experiment): one table of variant x round, plots, and each variant's
last-round difference from the reference, paired by test problem. With replicates (experiment.replicates): per
variant and round the mean over seeds with its spread, and the difference paired by seed and by problem, with a
standard error of both sources of noise and the claim rule's verdict (`verdict`)."""
import glob

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tpt import experiment, paths, stages  # noqa: E402


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


def _cell(x, fmt):
    """x formatted with fmt, or an empty cell for NaN."""
    return "" if x != x else fmt.format(x)


def markdown(tab, paired, reference):
    lines = ["| variant | round | Pass@1 strict | Pass@n | coverage | distinct correct | think coverage "
             "| SFT examples | SFT distinct | samples | wall s (shared: run by) |", "|---" * 11 + "|"]
    for r in tab.to_dict("records"):
        lines.append(f"| {r['variant']} | {r['round']} | {100 * r['pass@1']:.1f} ± {100 * r['pass@1_stderr']:.1f} | "
                     f"{100 * r['pass@n']:.1f} (n={r['n']}) | {100 * r['coverage']:.1f} | "
                     f"{r['distinct_correct']:.2f} | {_cell(100 * r['think_coverage'], '{:.1f}')} | "
                     f"{_cell(r['sft_examples'], '{:.0f}')} | {_cell(r['sft_distinct'], '{:.0f}')} | {r['samples']} | "
                     f"{_cell(r['wall_s'], '{:.0f}')}"
                     + (f" ({r['shared_wall_s']:.0f}: {r['ran_by']})" if r.get("ran_by") else "") + " |")
    lines += ["", f"Each variant's strict Pass@1 at its last round minus the reference's ({reference}) at the same "
              "round, paired by test problem (a variant evaluated on other problems, e.g. a validation twin, "
              "against the first variant evaluated on the same ones):", "",
              "| variant | round | against | difference (points) | standard error | problems |",
              "|---|---|---|---|---|---|"]
    for r in paired.to_dict("records"):
        lines.append(f"| {r['variant']} | {r['round']} | {r['against']} | {100 * r['diff']:+.1f} | "
                     f"{_cell(100 * r['stderr'], '{:.1f}')} | {r['problems']} |")
    return "\n".join(lines) + "\n"


def plot(tab, column, label, path):
    """One line per variant over the rounds: with its standard error bars, or (over_seeds' table) the mean over
    seeds with the range of the seeds as a band."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, t in tab.groupby("variant", sort=False):
        if f"{column}_min" in t:
            line, = ax.plot(t["round"], 100 * t[column], marker="o", label=f"{variant} ({int(t['seeds'].iloc[0])} "
                            "seeds)")
            ax.fill_between(t["round"], 100 * t[f"{column}_min"], 100 * t[f"{column}_max"], alpha=0.2,
                            color=line.get_color())
            continue
        yerr = 100 * t[f"{column}_stderr"] if f"{column}_stderr" in t else None
        ax.errorbar(t["round"], 100 * t[column], yerr=yerr, marker="o", capsize=3, label=variant)
    ax.set(xlabel="round", ylabel=f"{label} (%)", title=f"{label} per round and variant")
    ax.set_xticks(sorted(tab["round"].unique()))
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


# ---- Replicates (experiment.replicates): the same variant with several seeds

SPREAD = ("pass@1", "pass@n")  # the columns given with their spread over seeds; the others' mean is shown


def over_seeds(tab):
    """table()'s rows of replicates (variant `<variant>/seed_<s>`) -> one row per variant and round: `seeds`, the
    mean over seeds of every figure (samples and wall seconds: per seed), and for SPREAD's columns their standard
    deviation over seeds (`_sd`, NaN with one seed), minimum and maximum."""
    tab = tab.copy()
    tab["variant"], tab["seed"] = zip(*tab["variant"].map(experiment.replicate_of))
    rows = []
    for (variant, round_), t in tab.groupby(["variant", "round"], sort=False):
        row = {"variant": variant, "round": round_, "seeds": len(t), "n": int(t["n"].iloc[0])}
        for column in ("pass@1", "pass@n", "coverage", "distinct_correct", "think_coverage", "sft_examples",
                       "sft_distinct", "samples", "wall_s"):
            row[column] = t[column].mean()
        for column in SPREAD:
            row.update({f"{column}_sd": t[column].std(ddof=1), f"{column}_min": t[column].min(),
                        f"{column}_max": t[column].max()})
        rows.append(row)
    return pd.DataFrame(rows)


def crossed_stderr(d):
    """The standard error of the mean of d, a seeds x problems array of paired differences, with both sources of
    noise: sqrt(var over seeds of the per-seed means / seeds + var over problems of the per-problem means /
    problems) (sample variances). Under d = mean + seed effect + problem effect + noise it estimates the variance of
    the mean with the noise term counted twice: conservative. (seed term, problem term, standard error); the seed
    term and the standard error are NaN with one seed."""
    d = np.asarray(d, dtype=float)
    seeds, problems = d.shape
    seed_term = d.mean(axis=1).var(ddof=1) / seeds if seeds > 1 else float("nan")
    problem_term = d.mean(axis=0).var(ddof=1) / problems if problems > 1 else float("nan")
    return seed_term, problem_term, float(np.sqrt(seed_term + problem_term))


def verdict(diff, stderr, claim_stderrs):
    """The claim rule: "better" (or "worse") only when the difference is above claim_stderrs standard errors,
    otherwise "not distinguishable"; "one seed: no claim" without a standard error over seeds."""
    if stderr != stderr:
        return "one seed: no claim"
    if diff > claim_stderrs * stderr:
        return "better"
    if diff < -claim_stderrs * stderr:
        return "worse"
    return "not distinguishable"


def _per_problem(verdicts):
    """Per problem (sorted): strict Pass@1 (the share of correct samples) and Pass@n (any sample correct)."""
    by = verdicts.groupby("problem_id")["correct_strict"]
    return by.mean().sort_index(), by.max().astype(float).sort_index()


def paired_over_seeds(verdicts, claim_stderrs):
    """Each variant's strict Pass@1 and Pass@n at a round minus its partner's (the reference's replicate of the same
    seed), paired by seed and by problem: the mean difference over seeds and problems, its standard error
    (crossed_stderr) and the claim rule's verdict (verdict), one row per variant.
    verdicts: replicate name -> (round, its eval VERDICTS, the partner's replicate name, the partner's VERDICTS),
    as paired_difference takes them."""
    groups = {}
    for name, (round_, mine, against, theirs) in verdicts.items():
        variant, seed = experiment.replicate_of(name)
        groups.setdefault(variant, []).append((seed, round_, mine, experiment.replicate_of(against)[0], theirs))
    rows = []
    for variant, runs in groups.items():
        d1, dn, problems = [], [], None
        for seed, round_, mine, against, theirs in sorted(runs, key=lambda r: r[0]):
            (a1, an), (b1, bn) = _per_problem(mine), _per_problem(theirs)
            if problems is None:
                problems = list(b1.index)
            if list(a1.index) != problems or list(b1.index) != problems:
                raise ValueError(f"variant {variant!r} (seed {seed}) and {against!r} were evaluated on different "
                                 "problems: a paired difference needs the same ones in every replicate")
            d1.append((a1 - b1).to_numpy())
            dn.append((an - bn).to_numpy())
        row = {"variant": variant, "round": round_, "against": against, "seeds": len(d1), "problems": len(problems)}
        for label, d in (("pass@1", d1), ("pass@n", dn)):
            seed_term, problem_term, se = crossed_stderr(np.vstack(d))
            row.update({f"{label}_diff": float(np.mean(d)), f"{label}_stderr": se,
                        f"{label}_stderr_seeds": np.sqrt(seed_term), f"{label}_stderr_problems": np.sqrt(problem_term),
                        f"{label}_verdict": "(the reference)" if variant == against else
                        verdict(float(np.mean(d)), se, claim_stderrs)})
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_over_seeds(summary, paired, reference, claim_stderrs):
    """The comparison of a study with replicates: over_seeds' table and paired_over_seeds' differences."""
    def spread(r, column):
        return (f"{100 * r[column]:.1f} ± {_cell(100 * r[column + '_sd'], '{:.1f}') or '-'} "
                f"[{100 * r[column + '_min']:.1f}, {100 * r[column + '_max']:.1f}]")

    lines = ["Mean over seeds ± standard deviation over seeds [lowest, highest seed]; the other figures are means "
             "over seeds.", "",
             "| variant | round | seeds | Pass@1 strict | Pass@n | coverage | distinct correct | think coverage "
             "| SFT examples | SFT distinct | samples per seed | wall s per seed |", "|---" * 12 + "|"]
    for r in summary.to_dict("records"):
        lines.append(f"| {r['variant']} | {r['round']} | {r['seeds']} | {spread(r, 'pass@1')} | "
                     f"{spread(r, 'pass@n')} (n={r['n']}) | {100 * r['coverage']:.1f} | {r['distinct_correct']:.2f} | "
                     f"{_cell(100 * r['think_coverage'], '{:.1f}')} | {_cell(r['sft_examples'], '{:.0f}')} | "
                     f"{_cell(r['sft_distinct'], '{:.0f}')} | {r['samples']:.0f} | {_cell(r['wall_s'], '{:.0f}')} |")
    lines += ["", f"Each variant at its last round minus the reference ({reference}) at the same round, paired by "
              "seed and by test problem (a validation twin: against the reference's twin): the mean difference over "
              "seeds and problems. Standard error: sqrt(variance over seeds of the per-seed mean differences / "
              "seeds + variance over problems of the per-problem mean differences / problems), the two terms "
              f"given as (seeds; problems). Claim rule: better or worse only beyond {claim_stderrs:g} standard "
              "errors; otherwise not distinguishable.", "",
              "| variant | round | against | seeds | Pass@1 difference (points) | standard error (seeds; problems) "
              "| Pass@1 verdict | Pass@n difference | standard error (seeds; problems) | Pass@n verdict | problems |",
              "|---" * 11 + "|"]
    for r in paired.to_dict("records"):
        cells = []
        for label in ("pass@1", "pass@n"):
            se, by_seeds, by_problems = (_cell(100 * r[label + part], "{:.1f}") or "-"
                                         for part in ("_stderr", "_stderr_seeds", "_stderr_problems"))
            cells += [f"{100 * r[label + '_diff']:+.1f}", f"{se} ({by_seeds}; {by_problems})", r[label + "_verdict"]]
        lines.append(f"| {r['variant']} | {r['round']} | {r['against']} | {r['seeds']} | " + " | ".join(cells)
                     + f" | {r['problems']} |")
    return "\n".join(lines) + "\n"
