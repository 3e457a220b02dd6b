"""Evaluate: Pass@k and the other figures of one round's eval verdicts (eval_metrics), and of its think verdicts
with the pruned SFT set (think_metrics).

Pass@k is the unbiased estimator of Chen et al. (2021), 1 - C(n-c, k) / C(n, k) for a problem with c correct of
n samples, averaged over problems; Pass@1 is the mean accuracy over all n samples (not greedy decoding).
Correct@k is majority voting (self-consistency): the most common strict answer among k samples is right. It is
averaged over the n // k disjoint groups of k samples of each problem (in sample order), then over problems.
"""
from math import comb

import numpy as np
import pandas as pd

from tpt import diversity
from tpt.artifacts import FAILURE_KINDS, SCORINGS, judged  # the verdict vocabulary (every scoring a task may fill)


def pass_at_k(n, c, k):
    """Unbiased pass@k for one problem with c correct of n samples."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_at_k_rows(correct, n, metric, round_):
    """METRICS rows of `metric` for every k up to n: the mean over problems of pass_at_k, with its standard error.
    correct: the number of correct samples of each problem."""
    rows = []
    for k in range(1, n + 1):
        per = np.array([pass_at_k(n, int(c), k) for c in correct])
        stderr = per.std(ddof=1) / np.sqrt(len(per)) if len(per) > 1 else None
        rows.append({"round": round_, "metric": metric, "k": k, "value": float(per.mean()),
                     "stderr": None if stderr is None else float(stderr)})
    return rows


def eval_metrics(samples, verdicts, round_):
    """The METRICS rows of one round: pass@k for every k <= n under each scoring the task fills (with the standard
    error over problems), majority-vote correct@k where answers can be compared, no-answer and truncation rates,
    the share of each failure kind (code tasks), mean completion tokens, and the diversity figures of
    tpt.diversity (coverage, distinct correct solutions and distinct answers per problem)."""
    df = samples[["sample_id", "problem_id", "sample_index", "completion_tokens"]].merge(
        verdicts.drop(columns="problem_id"), on="sample_id", validate="one_to_one").sort_values(
        ["problem_id", "sample_index"])
    per_problem = df.groupby("problem_id")
    n = per_problem.size()
    if n.nunique() != 1:
        raise ValueError(f"round {round_}: problems have different numbers of eval samples ({sorted(n.unique())})")
    n = int(n.iloc[0])
    rows = []

    def add(metric, value, stderr=None, k=None):
        rows.append({"round": round_, "metric": metric, "k": k, "value": float(value),
                     "stderr": None if stderr is None else float(stderr)})

    for scoring in [s for s in SCORINGS if df[f"correct_{s}"].notna().all()]:
        correct = per_problem[f"correct_{scoring}"].sum().astype(int)
        rows += pass_at_k_rows(correct, n, f"pass@k_{scoring}", round_)
    code = judged(verdicts)
    # majority vote needs answers to compare: code tasks have none, nor a user's scorer that returns none
    comparable = not code and not (df["parsed"].any() and df.loc[df["parsed"], "answer_strict"].isna().all())
    if comparable:
        for k in range(1, n + 1):
            per = np.array([majority_vote(g["answer_strict"].tolist(), g["correct_strict"].tolist(), k)
                            for _, g in per_problem])
            add("correct@k_strict", per.mean(), per.std(ddof=1) / np.sqrt(len(per)) if len(per) > 1 else None, k)
    add("no_answer_rate", 1.0 - df["parsed"].mean())
    add("truncation_rate", df["truncated"].mean())
    if code:
        for kind in FAILURE_KINDS:
            if kind != "no_code":  # that is no_answer_rate
                add(f"{kind}_rate", (df["failure"] == kind).mean())
    add("mean_completion_tokens", df["completion_tokens"].mean())
    add("problems", len(correct))
    add("samples_per_problem", n)
    rows += diversity.diversity_rows(samples, verdicts, round_)
    return pd.DataFrame(rows)


def think_metrics(samples, verdicts, sft, round_):
    """The METRICS of a round's think phase: strict Pass@k for every k up to n on the train problems, their
    diversity, and the SFT set's figures (tpt.diversity)."""
    correct = verdicts.groupby("problem_id")["correct_strict"].sum().astype(int)
    n = int(verdicts.groupby("problem_id").size().max())
    rows = pass_at_k_rows(correct, n, "pass@k_strict", round_)
    rows += [{"round": round_, "metric": m, "k": None, "value": float(v), "stderr": None}
             for m, v in (("problems", len(correct)), ("samples_per_problem", n))]
    rows += diversity.diversity_rows(samples, verdicts, round_) + diversity.sft_rows(sft, samples, verdicts, round_)
    return pd.DataFrame(rows)


def majority_vote(answers, correct, k):
    """Share of the disjoint groups of k samples whose most common answer (ties: the earliest) is a correct one.
    answers: extracted answers in sample order (None: no answer, never a vote); correct: whether each is right."""
    groups = [range(start, start + k) for start in range(0, len(answers) - k + 1, k)]
    wins = 0
    for group in groups:
        votes = [i for i in group if answers[i] is not None]
        if votes:
            counts = {}
            for i in votes:
                counts[answers[i]] = counts.get(answers[i], 0) + 1
            best = max(votes, key=lambda i: (counts[answers[i]], -i))  # most votes, then earliest
            wins += bool(correct[best])
    return wins / len(groups)


def per_problem_accuracy(verdicts, scoring="strict"):
    """Share of correct samples for each problem (the report's solve-rate plot)."""
    return verdicts.groupby("problem_id")[f"correct_{scoring}"].mean()
