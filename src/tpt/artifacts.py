"""Every artifact that passes between stages: its columns (one pyarrow schema each) and its atomic read/write.

A record keeps its identity end to end: `problem_id` names a problem in every artifact, and `sample_id`
(`<phase>/r<round>/<problem_id>/<sample_index>`) names one sample from generation through verdicts, the pruned
training set and the eval metrics. Every artifact that a stage reads goes through `write` and `read`, so a file
whose columns drift from these schemas is an error at the stage that wrote it. The report's and the comparison's
own tables (summary.parquet, diversity.parquet, the comparison's table.parquet), whose columns follow the task's
scorings and the variants, are outputs that no stage reads: they are written with `atomic` and have no schema here.
Where each file lives: tpt.paths.
"""
import os
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

# Problems of a task split. `answer` is what the task's scorer checks against: for math tasks the gold final
# answer as a string (GSM8K's text after "#### "); for code tasks a JSON string of the tests and limits
# (tpt.code.verify.encode_answer). `solution` is the gold worked solution where the task has one (not used for
# training by the loop: rounds train on the model's own samples).
PROBLEMS = pa.schema([
    ("problem_id", pa.string()),
    ("question", pa.string()),
    ("answer", pa.string()),
    ("solution", pa.string()),
])

# Code tasks: per problem of a split, what its known solutions did in the judge (tpt.code.validate, task.validate).
# checked: the record had Python 3 solutions to run; kinds: "", "correct_fails", "incorrect_passes" or both
# (comma-separated); action: keep, flag or drop (dropped problems are not in that split's PROBLEMS).
PROBLEM_CHECKS = pa.schema([
    ("problem_id", pa.string()),
    ("checked", pa.bool_()),
    ("correct_checked", pa.int32()),
    ("correct_failed", pa.int32()),
    ("incorrect_checked", pa.int32()),
    ("incorrect_passed", pa.int32()),
    ("kinds", pa.string()),
    ("action", pa.string()),
    ("detail", pa.string()),
])

# Generated samples ("think" on train problems, "eval" on test problems). `prompt` is the user message before the
# chat template; `seed` regenerates the sample; finish_reason is "stop" or "length" (truncated).
SAMPLES = pa.schema([
    ("sample_id", pa.string()),
    ("problem_id", pa.string()),
    ("phase", pa.string()),
    ("round", pa.int32()),
    ("sample_index", pa.int32()),
    ("seed", pa.int64()),
    ("model", pa.string()),
    ("prompt", pa.string()),
    ("completion", pa.string()),
    ("prompt_tokens", pa.int32()),
    ("completion_tokens", pa.int32()),
    ("finish_reason", pa.string()),
    # the mean log-probability of the completion's tokens (the stop token included) under the model at temperature
    # 1, as it sampled them: how likely the model found this solution (prune.weights: unlikely)
    ("logprob", pa.float64()),
])

# The verdict vocabulary. SCORINGS: the ways a completion can be scored correct, each a `correct_<scoring>` column
# of VERDICTS and a `pass@k_<scoring>` metric; "strict" is every task's main one (the exact `####` answer, or all
# tests passed); the math tasks fill all three (tpt.gsm8k_scorer), code tasks strict only. FAILURE_KINDS: why the
# judge failed a code sample (VERDICTS.failure; "" when it passed), each a `<kind>_rate` metric but no_code (that
# is no_answer_rate).
SCORINGS = ("strict", "numeric", "flexible")
FAILURE_KINDS = ("wrong_answer", "time_limit", "memory_limit", "runtime_error", "no_code")


def judged(verdicts):
    """Whether VERDICTS come from the code judge, i.e. a code task's: the judge records a failure kind ("" when
    passed) on every sample, the answer scorers on none. (Of a task itself, tpt.tasks.is_code says it.)"""
    return "failure" in verdicts and len(verdicts) > 0 and bool(verdicts["failure"].notna().all())


# One verdict per sample. `correct` is the scoring chosen in config (verify.criterion); every scoring the task has
# is kept so a report can put them side by side. parsed: the completion has something to check (math: a
# `#### <number>` line; code: a fenced code block). Math tasks fill the answer_* and correct_numeric/flexible
# columns, code tasks the judge's columns (tests_passed .. wall_s, see tpt.code.judge); the others stay null.
# correct_strict is every task's main scoring: the exact `####` answer, or all tests passed.
VERDICTS = pa.schema([
    ("sample_id", pa.string()),
    ("problem_id", pa.string()),
    ("parsed", pa.bool_()),
    ("truncated", pa.bool_()),
    ("correct", pa.bool_()),
    *[(f"correct_{scoring}", pa.bool_()) for scoring in SCORINGS],  # correct_strict, correct_numeric, ...
    ("answer_strict", pa.string()),
    ("answer_flexible", pa.string()),
    ("tests_passed", pa.int32()),
    ("tests_total", pa.int32()),
    ("failure", pa.string()),     # "" if passed, else one of FAILURE_KINDS
    ("failed_test", pa.int32()),  # index of the first failing test
    ("detail", pa.string()),      # a short hint about that failure
    ("backend", pa.string()),     # the sandbox that ran the program, e.g. "unshare+fork"
    ("wall_s", pa.float64()),     # seconds spent judging the sample
])

# think.auto_temperature: a round's probe of the think temperatures (tpt.probe), one row per temperature of the
# grid: its samples on the probe problems, the share correct, the distinct correct solutions per problem (mean),
# the balance score, and whether it is the one the round thinks at (exactly one row).
PROBE = pa.schema([
    ("round", pa.int32()),
    ("temperature", pa.float64()),
    ("problems", pa.int32()),
    ("samples", pa.int32()),
    ("correct", pa.float64()),
    ("distinct_correct", pa.float64()),
    ("score", pa.float64()),
    ("chosen", pa.bool_()),
])

# The pruned SFT sets (train and validation) of a round. weight: the example's weight in the loss (1 unless
# prune.weights sets one: tpt.prune.example_weights).
SFT = pa.schema([
    ("sample_id", pa.string()),
    ("problem_id", pa.string()),
    ("prompt", pa.string()),
    ("completion", pa.string()),
    ("weight", pa.float64()),
])

# Metrics in long form: one row per (round, metric, k). k is null for metrics without one; stderr is null where
# it is not defined. Names: pass@k_<scoring>, correct@k_<scoring>, no_answer_rate, truncation_rate, ...
METRICS = pa.schema([
    ("round", pa.int32()),
    ("metric", pa.string()),
    ("k", pa.int32()),
    ("value", pa.float64()),
    ("stderr", pa.float64()),
])

# A fine-tune's training curve, written beside its log: one row per logging step (finetune.logging_steps) and
# split. split "train": the mean training loss since the previous logged step, with the learning rate then;
# split "val": the loss on the held-out SFT examples (after each epoch, when prune.val_size > 0).
TRAINING_CURVE = pa.schema([
    ("step", pa.int32()),
    ("epoch", pa.float64()),
    ("split", pa.string()),
    ("loss", pa.float64()),
    ("learning_rate", pa.float64()),
])

# The cost of a run (tpt.cost), one row per (round, stage): round is null for run-wide jobs (problems, judge
# self-test), 0 for the base model; stage is the benchmark file's name without its shard (generate_think,
# verify_eval, finetune, ...). Times and memory from Snakemake's benchmark files, summed over the stage's jobs
# (peak: the largest job's); gpu_s = GPUs the job asked for x its wall time; tokens by the sampler's tokenizer.
# ran_by: in an experiment, the variant that ran the stage's jobs when this variant shares them (tpt.stages), else
# empty: a variant's cost counts every job its results depend on, its own and the shared ones.
COST = pa.schema([
    ("round", pa.int32()),
    ("stage", pa.string()),
    ("jobs", pa.int32()),
    ("wall_s", pa.float64()),
    ("cpu_s", pa.float64()),
    ("peak_rss_mb", pa.float64()),
    ("gpu_s", pa.float64()),
    ("samples", pa.int64()),
    ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()),
    ("train_examples", pa.int64()),
    ("train_tokens", pa.int64()),
    ("ran_by", pa.string()),
])


def write(df, path, schema):
    """Write a DataFrame as Parquet with exactly `schema`'s columns, atomically (temp file, then rename), so a
    killed job never leaves a half-written artifact where a later stage would read it."""
    missing = [name for name in schema.names if name not in df.columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} are missing (expected {schema.names})")
    table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    with atomic(path) as tmp:
        pq.write_table(table, tmp)


@contextmanager
def atomic(path):
    """Yield a temporary name beside `path`; rename it to `path` only if the block succeeds."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read(path, schema, columns=None):
    """Read an artifact, checking its columns against `schema`. Returns a pandas DataFrame (of `columns` only,
    if given: a large artifact need not be held whole to count its tokens)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist: run the stage that makes it (snakemake {path})")
    table = None if columns else pq.read_table(path)
    found = pq.read_schema(path) if columns else table.schema
    if not found.equals(schema):
        raise ValueError(f"{path} does not have the expected columns:\n  has {found.names}\n  "
                         f"expected {schema.names}\nIt was made by another version of tpt: delete it and rerun.")
    return (table if table is not None else pq.read_table(path, columns=columns)).to_pandas()
