import os
import subprocess

import pytest

# No test reaches the Hugging Face hub, on a machine with internet as on one without: a rehearsal of a hub id takes
# the shipped family files (tpt.rehearsal.from_hub); the tests of the hub path mock the hub and turn this off
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A 1-layer tiny Llama and word-level tokenizer for the arith task, saved as an HF folder (random weights).
    head_dim 32, as vLLM's CPU attention needs."""
    from tpt import tiny, train
    from tpt.tasks import arith

    problems = arith.load("warmup", {"seed": 0, "test_problems": 5, "train_problems": 5, "warmup_problems": 200,
                                     "teacher_slip_rate": 0.4})
    tokenizer, model = tiny.build(problems, {"hidden_size": 64, "intermediate_size": 128, "num_layers": 1,
                                             "num_heads": 2, "max_length": 128})
    path = str(tmp_path_factory.mktemp("models") / "tiny")
    train.save_model(model, tokenizer, path)
    return path


# The real single-node SLURM cluster of tests/test_slurm*.py (opt-in: helpers.SLURM_TESTS)
CLUSTER = os.path.join(os.path.dirname(__file__), "slurm", "cluster.sh")


def _cluster(action):
    """Run `cluster.sh action`; return an error message, or None when it worked."""
    run = subprocess.run(["bash", CLUSTER, action], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        return f"cluster.sh {action} failed (rc {run.returncode}):\n{run.stderr[-3000:]}"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    error = _cluster("up")
    if error:
        _cluster("down")  # a half-started cluster must not outlive the test
        pytest.fail(error)
    yield
    if os.environ.get("TPT_SLURM_KEEP_CLUSTER") != "1":
        error = _cluster("down")
        assert error is None, error
