"""Benchmark of the default run: per-round Pass@1, wall time and peak memory per stage, verifier throughput.

    python benchmarks/default_run.py --run        # run `snakemake --cores 2` from scratch into results-bench/
    python benchmarks/default_run.py              # only read an existing run (default: results/)

Stage figures come from Snakemake's `benchmark:` files (wall seconds and peak resident memory of each job).
The verifier's throughput is measured here, on one core, over the run's own think samples.
"""
import argparse
import glob
import os
import subprocess
import sys
import time

import pandas as pd

from tpt import artifacts, cost, gsm8k_scorer, paths

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--results", default=None, help="results folder of the run (default: results, or "
                                                     "results-bench with --run)")
parser.add_argument("--run", action="store_true", help="run the default workflow from scratch first")
parser.add_argument("--cores", type=int, default=2)
args = parser.parse_args()
results = args.results or ("results-bench" if args.run else "results")

if args.run:
    if os.path.exists(results):
        sys.exit(f"{results} exists: remove it or pass another --results")
    start = time.time()
    snakemake = os.path.join(os.path.dirname(sys.executable), "snakemake")
    subprocess.run([snakemake, "--cores", str(args.cores), "--config", f"results={results}", "-q"], check=True)
    print(f"default run: {time.time() - start:.0f} s wall on {args.cores} cores (snakemake --cores {args.cores})")

summary = pd.read_parquet(paths.report(results, "summary.parquet"))
print("\nPass@1 per round (strict, ± standard error; flexible beside it)")
for r in summary.to_dict("records"):
    print(f"  round {r['round']}: {100 * r['pass@1_strict']:.1f} ± {100 * r['pass@1_strict_stderr']:.1f}   "
          f"flexible {100 * r['pass@1_flexible']:.1f}   Pass@{r['n']} {100 * r['pass@n_strict']:.1f}")
first, last = summary.iloc[0], summary.iloc[-1]
se = (first["pass@1_strict_stderr"] ** 2 + last["pass@1_strict_stderr"] ** 2) ** 0.5
gain = last["pass@1_strict"] - first["pass@1_strict"]
print(f"  gain: {100 * gain:+.1f} points = {gain / se:.1f} standard errors of the difference")

# every job's benchmark file, the shards of a stage counted as that stage (as the report's cost table reads them)
jobs = cost.read_benchmarks(paths.benchmarks(results))
stages = jobs.groupby("stage").agg(jobs=("wall_s", "size"), total_s=("wall_s", "sum"), mean_s=("wall_s", "mean"),
                                   peak_rss_mb=("peak_rss_mb", "max"))
print("\nWall time and peak memory per stage (all rounds)")
print(stages.sort_values("total_s", ascending=False).round(1).to_string())
print(f"  sum of job times: {stages['total_s'].sum():.0f} s; peak memory of any job: "
      f"{stages['peak_rss_mb'].max():.0f} MB")

samples = pd.concat([artifacts.read(p, artifacts.SAMPLES)
                     for p in glob.glob(paths.samples(results, "*", "think"))])
problems = artifacts.read(paths.problems(results, "train"), artifacts.PROBLEMS)
gold = dict(zip(problems["problem_id"], problems["answer"]))
pairs = [(c, gold[p]) for c, p in zip(samples["completion"], samples["problem_id"])]
start = time.perf_counter()
for c, g in pairs:
    gsm8k_scorer.score(c, g)
elapsed = time.perf_counter() - start
print(f"\nverifier: {len(pairs) / elapsed:,.0f} verdicts/s on one core ({len(pairs)} real completions, "
      f"{samples['completion'].str.len().mean():.0f} characters on average)")
