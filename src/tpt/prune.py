"""Prune: turn a round's verified samples into its SFT training and validation sets.

The paper's recipe (the default): keep correct samples only (code: passing every test), at most one per problem
(the first correct one in sample order), then draw a fixed-size training set with a seed, plus a held-out
validation set. Options cover its ablations and common variants: no pruning at all, "soft" pruning of code (at
least one test passes), up to k correct per problem, dropping truncated samples and exact duplicates.

Variants against the loss of diversity over rounds (see tpt.diversity), each one config key:
- `select` (SELECTORS): which k survivors of a problem to keep: `first` in sample order (the paper), or `distinct`:
  solutions with distinct signatures, chosen far apart (RFT, arXiv 2308.01825).
- `allocation` (ALLOCATIONS): how many examples each problem gets: `fixed` (up to per_problem: the paper),
  `uniform` (exactly per_problem per solved problem, repeating its solutions if it has fewer) or `difficulty`
  (the same total, shared out in proportion to how often the model failed the problem: DART-Math's Prop2Diff,
  arXiv 2407.13690).
- `accumulate`: train on this round's set plus the earlier rounds' (deduplicated; `accumulate_cap` examples at
  most, the newest first).
- `weights` (WEIGHTS): each example's weight in the fine-tune's loss (the SFT's `weight` column): `none` (1 each:
  the paper); `dco`: F(N, p) of its problem's think pass rate p (DCO, arXiv 2502.07154), at least `dco.floor`,
  which moves the gradient towards the problems the model rarely solves; or `unlikely`: 1 - beta x rank / G, rank
  0 for the least likely of a problem's survivors by the model's mean token log-probability (arXiv 2506.02355),
  which moves it towards the solutions the model was least likely to give.
"""
import math

import pandas as pd

from tpt import diversity
from tpt.artifacts import judged


class NoSurvivors(RuntimeError):
    pass


def select_first(group, k, code):
    """The first k survivors in sample order (the paper's choice, with k = 1)."""
    return group.head(k)


def select_distinct(group, k, code):
    """Up to k survivors with distinct signatures, far apart: the first one, then each time the one whose
    signature is farthest (edit distance) from the nearest one already kept; ties go to the earliest sample."""
    sigs = diversity.signatures(group["completion"], code)
    first_of = {}
    for i, sig in enumerate(sigs):
        first_of.setdefault(sig, i)
    left = sorted(first_of.values())
    chosen = [left.pop(0)]
    while left and len(chosen) < k:
        far = max(left, key=lambda i: (min(diversity.edit_distance(sigs[i], sigs[j]) for j in chosen), -i))
        chosen.append(far)
        left.remove(far)
    return group.iloc[sorted(chosen)]


SELECTORS = {"first": select_first, "distinct": select_distinct}  # prune.select


def quota_k(solve_rate, k):
    """k per problem. `fixed` takes up to k (a problem with fewer survivors gives fewer), `uniform` exactly k per
    solved problem (allocate repeats its survivors to fill the quota)."""
    return {p: k for p in solve_rate.index}


def quota_difficulty(solve_rate, k):
    """k per problem on average, in proportion to the failure rate (1 - solve rate), at least 1 each: the
    problems the model rarely solves get more examples."""
    fail = 1.0 - solve_rate
    total = k * len(fail)
    if fail.sum() == 0:
        return quota_k(solve_rate, k)
    return {p: max(1, int(math.floor(total * f / fail.sum() + 0.5))) for p, f in fail.items()}


ALLOCATIONS = {"fixed": quota_k, "uniform": quota_k, "difficulty": quota_difficulty}  # prune.allocation


def allocate(df, solve_rate, cfg, code):
    """Per problem, pick its quota of examples with the selector; `uniform` and `difficulty` fill a quota larger
    than the distinct picks by repeating them in order."""
    quota = ALLOCATIONS[cfg["allocation"]](solve_rate[solve_rate.index.isin(df["problem_id"])], cfg["per_problem"])
    select, parts = SELECTORS[cfg["select"]], []
    for pid, group in df.groupby("problem_id", sort=False):
        picked = select(group, quota[pid], code)
        if cfg["allocation"] != "fixed" and len(picked) < quota[pid]:
            picked = picked.iloc[[i % len(picked) for i in range(quota[pid])]]
        parts.append(picked)
    return pd.concat(parts) if parts else df.head(0)


def dco_weight(p, n):
    """F(N, p) = N p (1 - p)^(N - 1) / (1 - (1 - p)^N) (DCO, arXiv 2502.07154): the share of a problem's Pass@N
    gradient that one correct sample carries, for a problem solved in a share p of the samples. 1 as p -> 0, 0 at
    p = 1; e.g. 0.30 at p = 0.25 and 0.03 at p = 0.5 for N = 8."""
    if p <= 0:
        return 1.0
    return n * p * (1 - p) ** (n - 1) / (1 - (1 - p) ** n)


def unlikely_weights(survivors, samples_per_problem, beta):
    """The unlikeliness weight of each of a round's survivors (arXiv 2506.02355, there a reward in RL; here a soft
    weight): rank a problem's survivors by their mean token log-probability, the least likely first (rank 0; ties
    in sample order), and weigh each 1 - beta x rank / G, G the problem's samples. A Series on survivors' index."""
    if survivors["logprob"].isna().any():
        raise ValueError("prune.weights: unlikely needs each sample's log-probability, and these samples have none: "
                         "rerun this round's think with this version of tpt")
    ranked = survivors.sort_values(["problem_id", "logprob", "sample_index"], kind="stable")
    rank = ranked.groupby("problem_id").cumcount()
    return 1 - beta * rank / ranked["problem_id"].map(samples_per_problem)


def example_weights(df, solve_rate, samples_per_problem, cfg):
    """Each survivor's weight (prune.weights), given before selection (selection keeps a row's weight): 1; dco's
    F(N, p) of its problem, at least dco.floor; or its unlikeliness weight among its problem's survivors."""
    weights = cfg.get("weights", "none")
    if weights == "none":
        return [1.0] * len(df)
    if weights == "unlikely":
        return unlikely_weights(df, samples_per_problem, cfg["unlikely"]["beta"]).reindex(df.index).tolist()
    dco = cfg["dco"]
    return [max(dco_weight(solve_rate[pid], dco["n"]), dco["floor"]) for pid in df["problem_id"]]


WEIGHTS = ("none", "dco", "unlikely")  # prune.weights


def accumulate(train, earlier, cap):
    """This round's training set followed by the earlier rounds' examples it does not already hold (same problem
    and text), newest first, cut to `cap` examples (null: no cap)."""
    have = set(zip(train["problem_id"], train["completion"]))
    keep = [key not in have for key in zip(earlier["problem_id"], earlier["completion"])]
    pooled = pd.concat([train, earlier[keep]], ignore_index=True)
    return pooled if cap is None else pooled.head(cap)


def prune(samples, verdicts, cfg, round_, earlier=None):
    """samples, verdicts: one round's SAMPLES and VERDICTS. cfg: the config's `prune` section. earlier: the previous
    round's training set (SFT), pooled in when cfg["accumulate"] is set.
    Returns (train, val) DataFrames with the SFT columns."""
    select, allocation = cfg.get("select", "first"), cfg.get("allocation", "fixed")
    df = samples.merge(verdicts[["sample_id", "correct", "truncated", "tests_passed"]], on="sample_id",
                       validate="one_to_one")
    if len(df) != len(samples):
        raise ValueError(f"round {round_}: {len(samples) - len(df)} samples have no verdict: rerun verify")
    total, reasons = len(df), []
    solve_rate = df.groupby("problem_id")["correct"].mean()  # how often the model solves each problem
    if cfg["strategy"] == "correct":
        df = df[df["correct"]]
        reasons.append(f"{len(df)} correct")
    elif cfg["strategy"] == "soft":
        df = df[df["tests_passed"].fillna(0) > 0]
        reasons.append(f"{len(df)} passing at least one test")
    if cfg["drop_truncated"]:
        df = df[~df["truncated"]]
        reasons.append(f"{len(df)} after dropping truncated samples")
    if cfg["dedupe"]:
        df = df.drop_duplicates(["problem_id", "completion"])
        reasons.append(f"{len(df)} after dropping duplicates")
    df = df.sort_values(["problem_id", "sample_index"], kind="stable")
    # weighed among all of a problem's survivors (unlikely ranks them), before selection keeps some of them
    df = df.assign(weight=example_weights(df, solve_rate, samples.groupby("problem_id").size(), cfg))
    if (select, allocation) != ("first", "fixed"):
        df = allocate(df, solve_rate, {**cfg, "select": select, "allocation": allocation}, judged(verdicts))
        reasons.append(f"{len(df)} after {select} selection with {allocation} allocation")
    elif cfg["per_problem"] is not None:
        df = df.groupby("problem_id", sort=False).head(cfg["per_problem"])
        reasons.append(f"{len(df)} after keeping {cfg['per_problem']} per problem")
    if df.empty:
        raise NoSurvivors(f"round {round_}: no sample survived pruning (of {total}: {', '.join(reasons)}). "
                          "The model solves none of these problems: check the think samples and verdicts of this "
                          "round, or start from a stronger model")

    # Hold out whole problems for validation, in a seeded order, until they hold val_size examples (at most half
    # the problems: training comes first), so no problem sits in both sets.
    shuffled = df.sample(frac=1.0, random_state=cfg["seed"] + round_)
    counts = shuffled.groupby("problem_id", sort=False).size()
    before = counts.cumsum() - counts  # examples held out before each problem
    val_problems = set(before.index[before < cfg["val_size"]][:len(counts) // 2])
    val = shuffled[shuffled["problem_id"].isin(val_problems)]
    train = shuffled[~shuffled["problem_id"].isin(val_problems)]
    if cfg["size"] is not None:
        train = train.head(cfg["size"])
    cols = ["sample_id", "problem_id", "prompt", "completion", "weight"]
    train = train[cols].reset_index(drop=True)
    if earlier is not None and cfg.get("accumulate"):  # round 1 reads no accumulate key (tpt.stages)
        train = accumulate(train, earlier[cols], cfg.get("accumulate_cap"))
    return train, val[cols].reset_index(drop=True)
