"""What a run tells its user: errors and progress in the job logs, training curves, model cards, cost and the
estimate before a run (issue 12)."""
import logging
import os
import subprocess
import sys

import pandas as pd
import pytest

from test_workflow import TINY, _merge, snakemake

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def test_an_uncaught_exception_ends_the_log_with_its_traceback(tmp_path):
    log = tmp_path / "logs" / "job.log"
    script = ("import argparse\nfrom tpt import runlog\n"
              f"log = runlog.start(argparse.Namespace(log=[{str(log)!r}], rule='demo'))\n"
              "log.info('first line')\n"
              "def inner():\n    raise ValueError('the prompts do not fit')\n"
              "inner()\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert run.returncode == 1
    text = log.read_text()
    assert text.splitlines()[0].endswith("tpt.demo: first line")
    assert "job failed: ValueError: the prompts do not fit" in text and "Traceback (most recent call last)" in text
    assert "in inner" in text and text.rstrip().endswith("ValueError: the prompts do not fit")
    assert run.stderr.count("Traceback") == 1  # the terminal gets it once, not twice


@pytest.mark.slow
def test_failing_jobs_leave_their_error_in_their_log(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    # sampling (a script rule): the eval prompts do not leave room for max_new_tokens in the model's context
    run = snakemake(tmp_path / "a", _merge(TINY, {"eval": {"max_new_tokens": 200}}),
                    "results/round_0/eval/samples.parquet")
    assert run.returncode != 0
    log = (tmp_path / "a/results/logs/round_0/generate_eval_0.log").read_text()
    assert "Traceback" in log and log.rstrip().splitlines()[-1].startswith(
        "ValueError: 3 prompts do not leave room for max_new_tokens=200")

    # fine-tune (a shell rule through tpt.launch): the training examples do not fit in finetune.max_length
    run = snakemake(tmp_path / "b", _merge(TINY, {"finetune": {"max_length": 20}}), "results/models/round_1")
    assert run.returncode != 0
    log = (tmp_path / "b/results/logs/round_1/finetune.log").read_text()
    assert "fine-tuning" in log.splitlines()[0]
    assert "Traceback" in log and "more than finetune.max_length=20" in log.rstrip().splitlines()[-1]


def _lines(caplog, prefix):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def test_progress_logs_done_of_total_speed_and_time_left(caplog, monkeypatch):
    from tpt import progress

    clock = iter([0.0, 10.0, 20.0, 25.0, 40.0])  # start, then one reading per update
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    caplog.set_level(logging.INFO)
    p = progress.Progress("sampling", 40, interval_s=15)
    p.update(10, tokens=1000)   # t=10: not yet 15 s since the start
    p.update(10, tokens=1000)   # t=20: due
    p.update(10, tokens=1000)   # t=25: 5 s after the last line
    p.update(10, tokens=1000)   # t=40: the end is always logged
    assert _lines(caplog, "sampling") == ["sampling: 20/40 samples (50%), 100 tokens/s, 20s left",
                                          "sampling: 40/40 samples (100%), 100 tokens/s, done in 40s"]


@pytest.mark.parametrize("backend", ["hf", pytest.param("vllm", marks=pytest.mark.slow)])
def test_sampling_logs_progress_on_both_backends(tiny_model, caplog, backend):
    from tpt import sampling

    caplog.set_level(logging.INFO)
    problems = pd.DataFrame({"problem_id": [f"p{i}" for i in range(3)], "question": ["What is 2 plus 3?"] * 3})
    requests = sampling.make_requests(problems, lambda q: q, "eval", 0, 4, 0)
    cfg = {"backend": backend, "batch_size": 4, "progress_interval_s": 0,
           "vllm": {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.9, "enforce_eager": True,
                    "cpu_kvcache_gb": 1}}
    samples = sampling.generate(sampling.load_sampler(tiny_model, cfg), requests, "tiny", 0.8, 1.0, 8)
    lines = _lines(caplog, "sampling: ")
    done = [int(line.split(": ")[1].split("/")[0].replace(",", "")) for line in lines]
    assert done == sorted(done) and done[-1] == 12 and len(done) >= (3 if backend == "hf" else 1)
    assert "12/12 samples (100%)" in lines[-1] and "done in" in lines[-1]
    speed = float(lines[-1].split(", ")[1].split(" tokens/s")[0].replace(",", ""))
    assert speed > 0 and samples["completion_tokens"].sum() > 0


def test_the_judge_logs_progress(caplog):
    from tpt.code.judge import judge_many
    from tpt.progress import Progress

    caplog.set_level(logging.INFO)
    rows = [{"completion": "no code here", "tests": [("1\n", "2\n")], "time_limit_s": 1.0,
             "memory_limit_bytes": 2 ** 28}] * 5
    verdicts = judge_many(rows, workers=2, progress=Progress("judge", len(rows), 0))
    assert [v["failure"] for v in verdicts] == ["no_code"] * 5
    lines = _lines(caplog, "judge: ")
    assert len(lines) == 5 and lines[-1].startswith("judge: 5/5 samples (100%)")
