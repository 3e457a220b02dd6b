"""Benchmark of an experiment (default: the shipped diversity study): run it, then print its comparison.

    python benchmarks/experiment.py --run                     # snakemake --cores 2 with the study, from scratch
    python benchmarks/experiment.py --run --config rounds=2   # a reduced study (any snakemake --config keys)
    python benchmarks/experiment.py --dry-run                 # only count the jobs: shared steps appear once
    python benchmarks/experiment.py                           # only print an existing run's comparison

The comparison is results/<experiment>/comparison/table.md (written by the workflow's experiment_report rule):
variant x round, and each variant's last-round paired difference from the reference.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import time

import yaml

from tpt import paths, stages

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--experiment", default=os.path.join(REPO, "config", "experiments", "diversity.yaml"))
parser.add_argument("--results", default="results-experiment", help="results folder (default: results-experiment)")
parser.add_argument("--run", action="store_true", help="run the experiment first")
parser.add_argument("--dry-run", action="store_true", help="print the jobs per rule of a dry run, and stop")
parser.add_argument("--cores", type=int, default=2)
parser.add_argument("--config", nargs="*", default=[], help="more KEY=VALUE for snakemake --config")
args = parser.parse_args()

name = yaml.safe_load(open(args.experiment))["experiment"]["name"]
snakemake = [os.path.join(os.path.dirname(sys.executable), "snakemake"), "-s", os.path.join(REPO, "Snakefile"),
             "--cores", str(args.cores), "--configfile", os.path.join(REPO, "config.yaml"), args.experiment, "--config", f"results={args.results}",
             *args.config]
if args.dry_run:
    out = subprocess.run(snakemake + ["-n"], capture_output=True, text=True, check=True).stdout
    # a variant's rule is v_<variant as an identifier>_<workflow rule>; variant names may hold '_' themselves. The
    # rules: the stages' (tpt.stages) and the one that joins a phase's shards
    rules = {s.rule for s in stages.STAGES} | {"gather_samples", "all"}
    pattern = re.compile(r"^v_(\w+?)_(" + "|".join(sorted(rules, key=len, reverse=True)) + r")$")
    names = re.findall(r"^(?:local)?rule (\S+):", out, re.M)
    split = [pattern.match(n) for n in names]
    jobs = collections.Counter("share" if n.startswith("share_") else m.group(2) if m else n
                               for n, m in zip(names, split))
    variants = collections.Counter(m.group(1) for m in split if m)
    print("jobs per rule (every variant; share: an artifact linked from a variant that computes it):")
    for rule, count in sorted(jobs.items()):
        print(f"  {rule:20s} {count}")
    print("jobs per variant:", dict(variants))
    sys.exit(0)
if args.run:
    start = time.time()
    subprocess.run(snakemake + ["-q", "--keep-going"], check=True)  # a failed job does not stop the other variants
    print(f"experiment {name}: {time.time() - start:.0f} s wall on {args.cores} cores "
          f"({' '.join(snakemake[3:])})\n")
print(open(paths.experiment(args.results, name, "comparison/table.md")).read())
