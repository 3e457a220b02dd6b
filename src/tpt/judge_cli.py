"""tpt-judge: score a Parquet file of completions of a code task, outside the workflow (e.g. to check a model or
a sampling setting before a run). The verdicts are the workflow's VERDICTS artifact.

    tpt-judge completions.parquet --task codecontests --source sample.jsonl --split test --out verdicts.parquet

The completions file needs the columns `problem_id` (the task's ids, e.g. "codecontests/test/1575_B. Building an
Amusement Park" or "mbpp/11", as in the workflow's data/<split>.parquet) and `completion`; `sample_id` and
`finish_reason` are used when present. A workflow's samples.parquet is such a file.

It lives here, not in tpt.code: the judge library imports nothing above it, while this command needs the tasks
(their loaders) and the verify driver.
"""
import argparse
import sys
import time

import pandas as pd

from tpt import artifacts, tasks, verify
from tpt.code import sandbox
from tpt.code.sandbox import SandboxUnavailable
from tpt.tasks import codecontests


def load_completions(path):
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as e:  # missing file, or not Parquet
        raise SystemExit(f"tpt-judge: cannot read {path} as Parquet ({e})")
    missing = {"problem_id", "completion"} - set(df.columns)
    if missing:
        raise SystemExit(f"tpt-judge: {path} needs the columns problem_id and completion (missing {sorted(missing)}; has "
                         f"{list(df.columns)})")
    if "sample_id" not in df:
        df["sample_id"] = df["problem_id"] + "/" + df.groupby("problem_id").cumcount().astype(str)
    if "finish_reason" not in df:
        df["finish_reason"] = "stop"
    return df


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tpt-judge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("completions", help="Parquet file with problem_id and completion columns")
    ap.add_argument("--task", required=True, choices=tasks.code_tasks())
    ap.add_argument("--source", help="the task's data: hub id, folder, or one .jsonl/.parquet file (default: the "
                                     "task's hub dataset)")
    ap.add_argument("--split", default="test", choices=["train", "test"])
    ap.add_argument("--tests", nargs="+", default=list(codecontests.TEST_SPLITS),
                    choices=list(codecontests.TEST_SPLITS), help="codecontests: the tests to run")
    ap.add_argument("--out", help="where to write the verdicts (Parquet); default: only print the summary")
    ap.add_argument("--workers", type=int, default=None, help="tests run at once (default: every core)")
    ap.add_argument("--backend", default="auto", choices=sandbox.CHOICES)
    ap.add_argument("--allow-unsafe", action="store_true", help="run WITHOUT isolation if no sandbox works")
    ap.add_argument("--time-factor", type=float, default=1.0, help="multiplies each problem's time limit")
    ap.add_argument("--all-tests", action="store_true",
                    help="run every test even after one fails (exact tests_passed counts; slower)")
    args = ap.parse_args(argv)

    task = tasks.get(args.task)
    completions = load_completions(args.completions)
    problems = task.load(args.split, {"source": args.source, "code_tests": args.tests})
    options = {"criterion": "strict", "workers": args.workers,
               "code": {"backend": args.backend, "allow_unsafe": args.allow_unsafe, "time_factor": args.time_factor,
                        "stop_at_first_failure": not args.all_tests}}
    t0 = time.monotonic()
    try:
        verdicts = verify.verify(completions, problems, task, options)
    except (SandboxUnavailable, ValueError) as e:
        raise SystemExit(f"tpt-judge: {e}")
    seconds = time.monotonic() - t0
    if args.out:
        artifacts.write(verdicts, args.out, artifacts.VERDICTS)
    kinds = verdicts["failure"].replace("", "passed").value_counts()
    print(f"{len(verdicts)} completions of {verdicts['problem_id'].nunique()} problems judged in {seconds:.1f}s "
          f"({verdicts['backend'].iloc[0]}): {100 * verdicts['correct'].mean():.1f}% pass every test")
    for kind, count in kinds.items():
        print(f"  {kind:14s} {count}")
    if args.out:
        print(f"verdicts -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
