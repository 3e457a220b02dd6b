"""What a run tells its user: errors and progress in the job logs, training curves, model cards, cost and the
estimate before a run (issue 12)."""
import os
import subprocess
import sys

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
