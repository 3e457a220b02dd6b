"""Prune: turn a round's verified samples into its SFT training and validation sets.

The paper's recipe (the default): keep correct samples only (code: passing every test), at most one per problem
(the first correct one in sample order), then draw a fixed-size training set with a seed, plus a held-out
validation set. Options cover its ablations and common variants: no pruning at all, "soft" pruning of code (at
least one test passes), up to k correct per problem, dropping truncated samples and exact duplicates.
"""
import pandas as pd


class NoSurvivors(RuntimeError):
    pass


def prune(samples, verdicts, cfg, round_):
    """samples, verdicts: one round's SAMPLES and VERDICTS. cfg: the config's `prune` section.
    Returns (train, val) DataFrames with the SFT columns."""
    df = samples.merge(verdicts[["sample_id", "correct", "truncated", "tests_passed"]], on="sample_id",
                       validate="one_to_one")
    if len(df) != len(samples):
        raise ValueError(f"round {round_}: {len(samples) - len(df)} samples have no verdict: rerun verify")
    total, reasons = len(df), []
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
    if cfg["per_problem"] is not None:
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
    cols = ["sample_id", "problem_id", "prompt", "completion"]
    return train[cols].reset_index(drop=True), val[cols].reset_index(drop=True)
