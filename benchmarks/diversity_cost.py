"""What the diversity figures cost on rounds of the default run's size (600 train problems x 8 think samples, 200
test problems x 8 eval samples), written by the built-in task's sloppy teacher (40% slip), on one core:

    PYTHONPATH=src python benchmarks/diversity_cost.py

Prints the seconds of eval_metrics (which now includes tpt.diversity's rows) against the same without them, and of
a round's think metrics (rule think_metrics). Best of 5.
"""
import random
import time

import pandas as pd

from tpt import diversity, gsm8k_scorer, metrics
from tpt.tasks import arith


def round_of(problems, n, seed):
    rng, samples, verdicts = random.Random(seed), [], []
    for i, p in enumerate(problems):
        for j in range(n):
            text = arith.solve(p, rng, slip_rate=0.4)
            sid = f"r/{i}/{j}"
            samples.append({"sample_id": sid, "problem_id": str(i), "sample_index": j, "completion": text,
                            "completion_tokens": len(text.split())})
            ok = gsm8k_scorer.score(text, p["answer"])["correct_strict"]
            verdicts.append({"sample_id": sid, "problem_id": str(i), "parsed": True, "truncated": False,
                             "correct": ok, "correct_strict": ok, "correct_numeric": ok, "correct_flexible": ok,
                             "answer_strict": text.rsplit("#### ", 1)[-1], "failure": None})
    return pd.DataFrame(samples), pd.DataFrame(verdicts)


def best(f, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


problems = arith.make_problems(800, seed=7)
think_s, think_v = round_of(problems[:600], 8, 1)
eval_s, eval_v = round_of(problems[600:], 8, 2)
sft = think_s.merge(think_v[["sample_id", "correct"]])
sft = sft[sft["correct"]].groupby("problem_id").head(2).assign(prompt="q")

with_div = best(lambda: metrics.eval_metrics(eval_s, eval_v, 1))
rows = diversity.diversity_rows
diversity.diversity_rows = lambda *a: []
without = best(lambda: metrics.eval_metrics(eval_s, eval_v, 1))
diversity.diversity_rows = rows
think = best(lambda: metrics.think_metrics(think_s, think_v, sft, 1))
print(f"eval_metrics, 1600 samples: {without:.3f} s without diversity, {with_div:.3f} s with it "
      f"(+{with_div - without:.3f} s a round)")
print(f"think metrics, 4800 samples and {len(sft)} SFT examples: {think:.3f} s a round (plus the job's start-up)")
