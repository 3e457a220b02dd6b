"""Benchmark of an experiment (default: the shipped diversity study): its plan, its cost against the default run's,
and its comparison.

    python benchmarks/experiment.py --plan                    # the plan: jobs computed against a run per variant
    python benchmarks/experiment.py --dry-run                 # snakemake -n: jobs per rule and per variant
    python benchmarks/experiment.py --run                     # snakemake --cores 2 with the study, from scratch
    python benchmarks/experiment.py --run --config rounds=2   # a reduced study (any snakemake --config keys)
    python benchmarks/experiment.py --against-default         # on an idle machine: the default run, then the
                                                              # study, back to back, from scratch; their wall times
    python benchmarks/experiment.py                           # only print an existing run's comparison

The comparison is results/<experiment>/comparison/table.md (written by the workflow's experiment_report rule):
variant x round, and each variant's last-round paired difference from the reference.
"""
import argparse
import collections
import os
import re
import resource
import shutil
import subprocess
import sys
import time

import yaml

from tpt import paths, stages

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--experiment", default=os.path.join(REPO, "config", "experiments", "diversity.yaml"))
parser.add_argument("--results", default="results-experiment", help="results folder (default: results-experiment)")
parser.add_argument("--run", action="store_true", help="run the experiment first")
parser.add_argument("--dry-run", action="store_true", help="print the jobs per rule of a dry run, and stop")
parser.add_argument("--plan", action="store_true", help="print what is computed and what is shared, and stop")
parser.add_argument("--against-default", action="store_true",
                    help="run the default run and then the experiment from scratch, and print both wall times")
parser.add_argument("--cores", type=int, default=2)
parser.add_argument("--config", nargs="*", default=[], help="more KEY=VALUE for snakemake --config")
args = parser.parse_args()

name = yaml.safe_load(open(args.experiment))["experiment"]["name"]
SNAKEMAKE = [os.path.join(os.path.dirname(sys.executable), "snakemake"), "-s", os.path.join(REPO, "Snakefile"),
             "--cores", str(args.cores)]
snakemake = SNAKEMAKE + ["--configfile", os.path.join(REPO, "config.yaml"), args.experiment, "--config",
                         f"results={args.results}", *args.config]

if args.plan:
    # the plan from tpt.stages, as the workflow builds it: each variant's artifacts and their keys
    from snakemake.utils import validate

    from tpt import experiment, sharing

    config = yaml.safe_load(open(os.path.join(REPO, "config.yaml")))
    config.update(yaml.safe_load(open(args.experiment)))
    for kv in args.config:
        key, value = kv.split("=", 1)
        config[key] = yaml.safe_load(value)
    schema = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")
    _, _, variants = experiment.expand(config, lambda cfg: validate(cfg, schema))
    own = {v: set(sharing.stage_keys(cfg).items()) for v, cfg in variants.items()}
    computed = set().union(*own.values())
    shared = sharing.shared(variants)
    per_variant = collections.Counter(v for v, _, _ in shared)
    print(f"{len(variants)} variants; artifacts a run per variant would compute: {sum(map(len, own.values()))}; "
          f"computed once here: {len(computed)}; linked: {len(shared)} (rules: share, share_folder)")
    for v in variants:
        print(f"  {v:20s} computes {len(own[v]) - per_variant[v]:3d}, links {per_variant[v]:3d}")
    sys.exit(0)
if args.dry_run:
    out = subprocess.run(snakemake + ["-n"], capture_output=True, text=True, check=True).stdout
    # a variant's rule is v_<variant as an identifier>_<workflow rule>; variant names may hold '_' themselves. The
    # rules: the stages' (tpt.stages) and the one that joins a phase's shards
    rules = {s.rule for s in stages.STAGES} | {"gather_samples", "all"}
    pattern = re.compile(r"^v_(\w+?)_(" + "|".join(sorted(rules, key=len, reverse=True)) + r")$")
    names = re.findall(r"^(?:local)?rule (\S+):", out, re.M)
    split = [pattern.match(n) for n in names]
    jobs = collections.Counter(m.group(2) if m else n for n, m in zip(names, split))
    variants = collections.Counter(m.group(1) for m in split if m)
    print(f"{len(names)} jobs of {len(set(names))} rules (share, share_folder: artifacts linked from the variant "
          "that computes them)")
    print("jobs per rule (every variant):")
    for rule, count in sorted(jobs.items()):
        print(f"  {rule:20s} {count}")
    print("jobs per variant:", dict(variants))
    sys.exit(0)


def timed(command, results):
    """Run snakemake from scratch into `results`; its wall seconds, and the CPU seconds of the Snakemake process
    itself (its scheduling: sampled once a second from /proc) and of its jobs (every descendant it waited for)."""
    shutil.rmtree(results, ignore_errors=True)
    start = time.time()
    # --keep-going: a failed job does not stop the other variants
    process = subprocess.Popen(command + ["-q", "--keep-going"])
    own, tick = 0.0, os.sysconf("SC_CLK_TCK")
    while process.poll() is None:
        try:  # fields 14 and 15 of /proc/<pid>/stat: user and system ticks of the process alone
            fields = open(f"/proc/{process.pid}/stat").read().rsplit(")", 1)[1].split()
            own = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
        time.sleep(1)
    wall = time.time() - start
    if process.returncode:
        sys.exit(f"snakemake failed (exit {process.returncode}): {' '.join(command)}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every run so far: take the difference
    total = usage.ru_utime + usage.ru_stime - timed.children
    timed.children += total
    print(f"{results}: {wall:.0f} s wall; CPU: Snakemake process {own:.0f} s, its jobs {total - own:.0f} s; "
          f"cores busy {100 * total / wall / args.cores:.0f}%", flush=True)
    return wall


timed.children = 0.0


if args.against_default:  # back to back on the same machine: run it idle, nothing else on the cores
    default = timed(SNAKEMAKE + ["--config", f"results={args.results}-default", *args.config],
                    f"{args.results}-default")
    study = timed(snakemake, args.results)
    print(f"default run: {default:.0f} s; experiment {name}: {study:.0f} s ({study / default:.2f} x) on "
          f"{args.cores} cores\n")
elif args.run:
    print(f"experiment {name}: {timed(snakemake, args.results):.0f} s wall on {args.cores} cores "
          f"({' '.join(snakemake[3:])})\n")
print(open(paths.experiment(args.results, name, "comparison/table.md")).read())
