"""What the report's cost table adds to the default run: read the token columns of a default-sized run's samples
(6 think rounds of 4,800 samples, 7 evals of 1,600), re-tokenize ~1,000 training completions a round, build the
COST table, its HTML and its plot. Prints seconds (wall and CPU) and the process's peak memory.

    PYTHONPATH=src python benchmarks/report_cost.py
"""
import os
import resource
import tempfile
import time

import numpy as np
import pandas as pd

from tpt import artifacts, cost, report, tiny
from tpt import paths as tpt_paths  # (`paths` below: this script's own files)
from tpt.tasks import arith

rng = np.random.default_rng(0)
work = tempfile.mkdtemp()
problems = arith.load("warmup", {"seed": 0, "test_problems": 200, "train_problems": 3600, "warmup_problems": 4000,
                                 "teacher_slip_rate": 0.4})
tokenizer = tiny.build_tokenizer(problems["question"] + "\n" + problems["solution"])
tokenizer.save_pretrained(f"{work}/model")
solutions = problems["solution"].tolist()


def samples(phase, round_, n):
    text = [solutions[i] for i in rng.integers(0, len(solutions), n)]
    return pd.DataFrame({"sample_id": [f"{phase}/r{round_}/p{i // 8}/{i % 8}" for i in range(n)],
                         "problem_id": [f"p{i // 8}" for i in range(n)], "phase": phase, "round": round_,
                         "sample_index": [i % 8 for i in range(n)], "seed": 0, "model": "m",
                         "prompt": "What is it?", "completion": text, "prompt_tokens": rng.integers(60, 90, n),
                         "completion_tokens": rng.integers(20, 96, n), "finish_reason": "stop",
                         "logprob": -rng.random(n)})


paths = {}
for r in range(7):
    paths[r, "eval"] = f"{work}/eval_{r}.parquet"
    artifacts.write(samples("eval", r, 1600), paths[r, "eval"], artifacts.SAMPLES)
    if r:
        think = samples("think", r, 4800)
        paths[r, "think"] = f"{work}/think_{r}.parquet"
        artifacts.write(think, paths[r, "think"], artifacts.SAMPLES)
        paths[r, "sft"] = f"{work}/sft_{r}.parquet"
        artifacts.write(think.iloc[::5].assign(weight=1.0), paths[r, "sft"], artifacts.SFT)  # ~1,000 a round
for r in range(7):  # the benchmark files of a run in `work`, as Snakemake writes them
    os.makedirs(os.path.dirname(tpt_paths.benchmark(work, "x", r)))
    for stage in ["generate_eval_0", "verify_eval", "eval_metrics"] + (
            ["generate_think_0", "verify_think", "prune", "finetune"] if r else []):
        pd.DataFrame({"s": [1.0], "h:m:s": ["0:00:01"], "max_rss": [100.0], "max_vms": [1.0], "max_uss": [1.0],
                      "max_pss": [1.0], "io_in": [0.0], "io_out": [0.0], "mean_load": [0.0],
                      "cpu_time": [1.0]}).to_csv(tpt_paths.benchmark(work, stage, r), sep="\t", index=False)

wall, cpu = time.perf_counter(), time.process_time()
counts = ["sample_id", "prompt_tokens", "completion_tokens"]
think = {r: artifacts.read(paths[r, "think"], artifacts.SAMPLES, counts) for r in range(1, 7)}
generated = {**{(r, "generate_think"): s for r, s in think.items()},
             **{(r, "generate_eval"): artifacts.read(paths[r, "eval"], artifacts.SAMPLES, counts) for r in range(7)}}
trained = {r: (artifacts.read(paths[r, "sft"], artifacts.SFT), think[r], 3, cost.load_tokenizer(f"{work}/model"))
           for r in range(1, 7)}
table = cost.cost_table(cost.read_benchmarks(tpt_paths.benchmarks(work)), {}, generated, trained)
artifacts.write(table, f"{work}/cost.parquet", artifacts.COST)
html = cost.html(table, f"{work}/cost.parquet")
report.plot_cost(table, f"{work}/cost.png")
print(f"cost table of a default-sized run: {time.perf_counter() - wall:.2f} s wall, "
      f"{time.process_time() - cpu:.2f} s CPU; peak memory of this process "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (with the set-up)")
print(f"  {int(table['samples'].sum()):,} samples, {int(table['train_examples'].sum()):,} examples trained")
