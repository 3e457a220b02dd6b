"""vLLM tensor parallelism on the CPU build: the `vllm` backend with sampling.vllm.tensor_parallel_size: 2 (two
worker processes, one core each, the tiny model's 2 attention heads split between them) keeps the seed-per-sample
contract, and draws the same samples as one process. Each engine runs in a process of its own, as in a job."""
import json
import os
import subprocess
import sys

import pytest

from tpt.sampling.vllm import cpu_binding

# the generate job's calls: load the sampler, draw every request, then request 4 alone (its seed, no neighbours)
SAMPLE = """
import json, sys
sys.path.insert(0, {tests!r})
from helpers import sample_requests as _requests
from tpt import sampling

cfg = {{"backend": "vllm", "dtype": None, "max_model_len": None,
        "vllm": {{"tensor_parallel_size": {tp}, "gpu_memory_utilization": 0.9, "enforce_eager": True,
                 "cpu_kvcache_gb": 1}}}}
sampler = sampling.load_sampler({model!r}, cfg)
requests = _requests(3)
whole = sampling.generate(sampler, requests, "tiny", 1.0, 1.0, 12)
alone = sampling.generate(sampler, requests.iloc[[4]], "tiny", 1.0, 1.0, 12)
json.dump({{"whole": whole[["completion", "completion_tokens", "finish_reason"]].values.tolist(),
           "alone": alone["completion"].iloc[0], "logprob": whole["logprob"].tolist()}}, open({out!r}, "w"))
"""


def _sample(tiny_model, tmp_path, tp):
    out = tmp_path / f"tp{tp}.json"
    code = SAMPLE.format(tests=os.path.dirname(__file__), tp=tp, model=tiny_model, out=str(out))
    env = {k: v for k, v in os.environ.items() if k != "VLLM_CPU_OMP_THREADS_BIND"}
    env.update(VLLM_CACHE_ROOT=str(tmp_path / "cache"), VLLM_RPC_BASE_PATH=str(tmp_path))
    with open(tmp_path / f"tp{tp}.out", "w") as log:  # a file, not a pipe nobody reads while it runs
        run = subprocess.run([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT,
                             timeout=600)
    assert run.returncode == 0, (tmp_path / f"tp{tp}.out").read_text()[-4000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_two_tensor_parallel_cpu_workers_draw_the_samples_of_one(tiny_model, tmp_path):
    one, two = _sample(tiny_model, tmp_path, 1), _sample(tiny_model, tmp_path, 2)
    assert "TP1" in (tmp_path / "tp2.out").read_text()  # the second worker ran (vLLM logs "Worker_TP1")
    completions = [c for c, _, _ in two["whole"]]
    assert len(completions) == 6 and len(set(completions)) > 1  # one sample per seed, and the seeds differ
    assert all(reason in ("stop", "length") and 0 < tokens <= 12 for _, tokens, reason in two["whole"])
    assert two["alone"] == completions[4]  # a sample depends on its seed, not on its neighbours
    # the shards' partial sums are added in another order than one process's, a float rounding apart: on this
    # model that never changes a drawn token
    assert two["whole"] == one["whole"]
    # SAMPLES' logprob (vLLM's cumulative log-probability of the drawn tokens over their number): the same model's,
    # a float rounding apart
    assert all(lp < 0 for lp in one["logprob"])
    assert two["logprob"] == pytest.approx(one["logprob"], abs=1e-3)


def test_tensor_parallel_cpu_workers_share_the_jobs_cores():
    assert cpu_binding([0, 1], 2) == "0|1"
    assert cpu_binding([4, 5, 6, 7, 8], 2) == "4,5|6,7"
    with pytest.raises(ValueError, match="tensor_parallel_size=2 runs 2 CPU worker processes, and this job has 1"):
        cpu_binding([3], 2)
