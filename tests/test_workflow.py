"""End-to-end runs of the Snakemake workflow on a tiny config, one per sampling backend."""
import base64
import json
import os

import pandas as pd
import pytest

from conftest import SHARED_DATA
from helpers import TINY, _merge, kill_snakemake_when, snakemake
from tpt import artifacts
from tpt.artifacts import FAILURE_KINDS
from tpt.code.sandbox import available_backends

CODECONTESTS = os.path.join(SHARED_DATA, "codecontests", "sample.jsonl")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_one_round_end_to_end(tmp_path, backend):
    # the vllm run weighs its examples by the log-probabilities vLLM records (prune.weights: unlikely), and its
    # think temperature is chosen by a probe sampled with vLLM (think.auto_temperature)
    unlikely = backend == "vllm"
    config = _merge(TINY, {"sampling": {"backend": backend}, "prune": {"weights": "unlikely" if unlikely else "none"},
                           "think": {"auto_temperature": {"grid": [0.7, 1.3] if unlikely else None,
                                                          "probe_problems": 2}}})
    run = snakemake(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    res = tmp_path / "results"

    problems = artifacts.read(str(res / "data/train.parquet"), artifacts.PROBLEMS)
    think = artifacts.read(str(res / "round_1/think/samples.parquet"), artifacts.SAMPLES)
    assert len(think) == 4 * 2 and set(think["problem_id"]) <= set(problems["problem_id"])
    assert (think["phase"] == "think").all() and (think["round"] == 1).all()
    assert think["model"].iloc[0].endswith("models/round_0")          # round 1 thinks with the base model
    assert think["seed"].nunique() == len(think)
    assert ((think["completion_tokens"] <= 16) & (think["prompt_tokens"] > 0)).all()
    assert (think["logprob"] < 0).all()

    verdicts = artifacts.read(str(res / "round_1/think/verdicts.parquet"), artifacts.VERDICTS)
    assert verdicts["sample_id"].tolist() == think["sample_id"].tolist()
    assert (verdicts["truncated"] == (think["finish_reason"] == "length")).all()

    sft_train = artifacts.read(str(res / "round_1/prune/sft_train.parquet"), artifacts.SFT)
    sft_val = artifacts.read(str(res / "round_1/prune/sft_val.parquet"), artifacts.SFT)
    assert len(sft_train) + len(sft_val) == len(think) and len(sft_val) >= 1
    # every sample is kept (TINY), 2 per problem: unlikely weighs the likelier of the two 1 - 0.25 x 1 / 2
    weights = sorted(pd.concat([sft_train, sft_val])["weight"])
    assert weights == ([0.875] * 4 + [1.0] * 4 if unlikely else [1.0] * 8)
    assert (res / "models/round_1/model.safetensors").exists()

    for round_, model in [(0, "models/round_0"), (1, "models/round_1")]:
        samples = artifacts.read(str(res / f"round_{round_}/eval/samples.parquet"), artifacts.SAMPLES)
        assert len(samples) == 3 * 3 and samples["model"].iloc[0].endswith(model)
        m = artifacts.read(str(res / f"round_{round_}/eval/metrics.parquet"), artifacts.METRICS)
        assert sorted(m[m.metric == "pass@k_strict"]["k"]) == [1, 2, 3]

    think_m = artifacts.read(str(res / "round_1/think/metrics.parquet"), artifacts.METRICS)
    value = dict(zip(think_m["metric"], think_m["value"]))
    assert value["sft_examples"] == len(sft_train) and value["sft_problems"] == sft_train["problem_id"].nunique()
    assert value["coverage"] == verdicts.groupby("problem_id")["correct"].any().mean()
    assert pd.read_parquet(res / "report/diversity.parquet")["round"].tolist() == [0, 1]

    summary = pd.read_parquet(res / "report/summary.parquet")
    assert summary["round"].tolist() == [0, 1]
    assert "| 1 |" in (res / "report/summary.md").read_text()
    cost = artifacts.read(str(res / "report/cost.parquet"), artifacts.COST)
    if unlikely:  # the probe: 2 problems x 2 samples at each of 2 temperatures, in the cost table and the summary
        probe = artifacts.read(str(res / "round_1/think/probe_samples.parquet"), artifacts.SAMPLES)
        assert len(probe) == 8 and (probe["phase"] == "probe").all()
        assert cost.loc[cost["stage"] == "probe", "samples"].tolist() == [8]
        assert "chosen by its probe" in (res / "report/summary.md").read_text()
    else:
        assert "probe" not in set(cost["stage"]) and not (res / "round_1/think/probe.parquet").exists()
    for plot in ("pass1.png", "passk.png", "solve_rate.png"):
        assert (res / "report" / plot).read_bytes()[:4] == b"\x89PNG"

    # a second run finds everything done and runs nothing
    again = snakemake(tmp_path, config, "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_sharded_sampling_writes_the_same_artifact_as_one_job(tmp_path):
    target = "results/round_0/eval/samples.parquet"
    frames = []
    for shards in (1, 3):
        workdir = tmp_path / f"shards{shards}"
        workdir.mkdir()
        run = snakemake(workdir, _merge(TINY, {"eval": {"shards": shards}}), target)
        assert run.returncode == 0, run.stderr[-3000:]
        frames.append(artifacts.read(str(workdir / target), artifacts.SAMPLES))
    assert len(list((tmp_path / "shards3/results/round_0/eval/shards").iterdir())) == 3
    pd.testing.assert_frame_equal(frames[0], frames[1])

    # resampling on purpose (--forcerun of a shard) draws the same samples again: every seed comes from the ids
    shard = tmp_path / "shards3/results/round_0/eval/shards/samples_1.parquet"
    before = shard.stat().st_mtime_ns
    run = snakemake(tmp_path / "shards3", _merge(TINY, {"eval": {"shards": 3}}), target, "--forcerun",
                    str(shard.relative_to(tmp_path / "shards3")))
    assert run.returncode == 0, run.stderr[-3000:]
    assert shard.stat().st_mtime_ns != before
    pd.testing.assert_frame_equal(artifacts.read(str(tmp_path / "shards3" / target), artifacts.SAMPLES), frames[1])


@pytest.mark.slow
def test_snakemake_killed_during_generation_reruns_only_the_unfinished_shards(tmp_path, tiny_model):
    """SIGKILL Snakemake while sharded sampling runs: the rerun keeps the finished shards as they were, redoes the
    others, and ends with the same samples and metrics as a run that was never killed (same seeds)."""
    config = _merge(TINY, {"model": {"base": tiny_model}, "task": {"arith": {"test_problems": 24}},
                           "eval": {"n": 4, "max_new_tokens": 32, "shards": 4}})
    target = "results/round_0/eval/metrics.parquet"
    shards = tmp_path / "results/round_0/eval/shards"

    def finished():
        """The shard files whose job Snakemake has recorded as complete (it keeps an `incomplete` marker, named by
        the output path in urlsafe base64, from a job's start until it has seen the job succeed)."""
        marker = lambda p: tmp_path / ".snakemake/incomplete" / base64.urlsafe_b64encode(  # noqa: E731
            str(p.relative_to(tmp_path)).encode()).decode()
        return [p for p in sorted(shards.glob("samples_*.parquet")) if not marker(p).exists()]

    kill_snakemake_when(tmp_path, config, lambda: 1 <= len(finished()) < 4, "one shard done, not all")
    kept = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished()}

    # a killed Snakemake leaves its lock behind: --unlock, then the same command (profiles/default, which Snakemake
    # reads by itself, reruns the jobs the killed run left incomplete)
    assert snakemake(tmp_path, config, "--unlock").returncode == 0
    again = snakemake(tmp_path, config, target)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished() if p.name in kept} == kept
    assert len(finished()) == 4

    straight = tmp_path / "straight"
    straight.mkdir()
    assert snakemake(straight, config, target).returncode == 0
    for artifact, schema in [("samples.parquet", artifacts.SAMPLES), ("metrics.parquet", artifacts.METRICS)]:
        pd.testing.assert_frame_equal(artifacts.read(str(tmp_path / "results/round_0/eval" / artifact), schema),
                                      artifacts.read(str(straight / "results/round_0/eval" / artifact), schema))


@pytest.mark.slow
def test_snakemake_killed_during_finetune_resumes_from_a_checkpoint(tmp_path):
    """SIGKILL the whole Snakemake process group mid fine-tune, rerun the same command: the run completes, the
    fine-tune resumes from its newest checkpoint, finished artifacts are kept as they were, and the model and
    metrics equal those of a run that was never killed."""
    import torch
    from safetensors.torch import load_file

    config = _merge(TINY, {"finetune": {"epochs": 40, "batch_size": 1, "save_steps": 5}})
    scratch = tmp_path / "results/scratch/finetune/round_1"
    # kill once a complete checkpoint exists (the kill may land while the next one is being written)
    kill_snakemake_when(tmp_path, config, lambda: list(scratch.glob("checkpoint-*/trainer_state.json")),
                        "the fine-tune wrote a checkpoint")
    assert not (tmp_path / "results/models/round_1/model.safetensors").exists()
    samples = tmp_path / "results/round_1/think/samples.parquet"
    before = (samples.stat().st_mtime_ns, samples.read_bytes())

    # a killed Snakemake leaves its lock behind: --unlock, then the same command, no other flag
    assert snakemake(tmp_path, config, "--unlock").returncode == 0
    again = snakemake(tmp_path, config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (samples.stat().st_mtime_ns, samples.read_bytes()) == before   # finished work is not redone
    log = (tmp_path / "results/logs/round_1/finetune.log").read_text()
    assert "'resumed_from': '" in log and "checkpoint-" in log.split("'resumed_from': '")[1][:200]

    straight = tmp_path / "straight"
    straight.mkdir()
    assert snakemake(straight, config).returncode == 0
    a = load_file(str(tmp_path / "results/models/round_1/model.safetensors"))
    b = load_file(str(straight / "results/models/round_1/model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    for round_ in (0, 1):
        m = [artifacts.read(str(d / f"results/round_{round_}/eval/metrics.parquet"), artifacts.METRICS)
             for d in (tmp_path, straight)]
        pd.testing.assert_frame_equal(*m)


@pytest.fixture(scope="module")
def tiny_code_model(tmp_path_factory):
    """A tiny random Llama whose word-level tokenizer knows the CodeContests sample's words and the self-test
    programs, with room for long problem statements (random weights: it scores about zero)."""
    from tpt import tiny, train
    from tpt.code import selftest

    texts = [json.loads(line)["description"] for line in open(CODECONTESTS)]
    for folder, _, files in os.walk(selftest.SOLUTIONS_DIR):
        texts += ["```python\n" + open(os.path.join(folder, f)).read() + "```" for f in files if f.endswith(".py")]
    tokenizer = tiny.build_tokenizer(texts)
    model = tiny.build_model(tokenizer, hidden_size=64, intermediate_size=128, num_layers=1, num_heads=2,
                             max_length=4096)
    path = str(tmp_path_factory.mktemp("models") / "tiny-code")
    train.save_model(model, tokenizer, path)
    return path


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CODECONTESTS), reason="no ../shared/data")
@pytest.mark.skipif(not available_backends(), reason="no isolating sandbox backend here")
def test_code_task_end_to_end(tmp_path, tiny_code_model):
    """One round of the loop on CodeContests: the same rules, the task's own loader, prompt and judge."""
    config = _merge(TINY, {
        "task": {"name": "codecontests", "source": CODECONTESTS, "validate": {"solutions": 2}},
        "model": {"base": tiny_code_model},
        "think": {"n": 2, "max_new_tokens": 24, "problems_per_round": 6, "temperature": 1.0},
        "eval": {"n": 2, "max_new_tokens": 24},
        "finetune": {"max_length": 4096},
        "threads": {"verify": 2},
    })
    run = snakemake(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    res = tmp_path / "results"
    assert "ok   builtin_pair_sums/correct.py" in (res / "judge/selftest.txt").read_text()
    test = artifacts.read(str(res / "data/test.parquet"), artifacts.PROBLEMS)
    assert test["problem_id"].str.startswith("codecontests/test/").all() and len(test) == 47  # 3 show images
    # the sample has no known solutions: every problem is kept, none checked (see tests/test_code_validate.py)
    checks = artifacts.read(str(res / "data/test_checks.parquet"), artifacts.PROBLEM_CHECKS)
    assert list(checks["problem_id"]) == list(test["problem_id"]) and not checks["checked"].any()
    for phase, round_, count in [("think", 1, 6 * 2), ("eval", 0, 47 * 2), ("eval", 1, 47 * 2)]:
        samples = artifacts.read(str(res / f"round_{round_}/{phase}/samples.parquet"), artifacts.SAMPLES)
        verdicts = artifacts.read(str(res / f"round_{round_}/{phase}/verdicts.parquet"), artifacts.VERDICTS)
        assert len(samples) == len(verdicts) == count
        assert "complete Python 3 program" in samples["prompt"].iloc[0]
        assert set(verdicts["failure"]) <= {"", *FAILURE_KINDS}
        assert (verdicts["parsed"] == (verdicts["failure"] != "no_code")).all()
        assert verdicts["backend"].str.endswith("+fork").all() and (verdicts["tests_total"] > 0).all()
        assert verdicts["correct_numeric"].isna().all() and verdicts["answer_strict"].isna().all()
    m = artifacts.read(str(res / "round_1/eval/metrics.parquet"), artifacts.METRICS)
    assert {"pass@k_strict", "wrong_answer_rate", "time_limit_rate"} <= set(m["metric"])
    assert "Pass@1 numeric" not in (res / "report/summary.md").read_text()
    assert (res / "models/round_1/model.safetensors").exists()
