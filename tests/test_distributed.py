"""Fine-tuning over several processes (tpt.launch): real 2-process DDP and FSDP runs on the CPU (gloo) with the
shipped accelerate configs, compared weight by weight with one process, killed and resumed; the commands the
finetune rule builds for GPUs and nodes, the shipped accelerate configs, and the config errors."""
import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from helpers import REPO, TINY, _merge, snakemake
from tpt import artifacts, launch, train
from tpt.config import ConfigError

ACCELERATE = os.path.join(REPO, "config", "accelerate")
CFG = {"method": "full", "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
       "epochs": 2, "learning_rate": 1e-3, "lr_scheduler": "cosine", "warmup_ratio": 0.1, "batch_size": 4,
       "grad_accum": 1, "weight_decay": 0.0, "max_grad_norm": 1.0, "max_length": 128, "bf16": True, "seed": 0,
       "save_steps": 2, "logging_steps": 1, "gradient_checkpointing": False,
       "distributed": {"strategy": "auto", "processes": None, "main_process_port": 29500}}
ROWS = [{"sample_id": f"s{i}", "problem_id": f"p{i}", "prompt": f"Mia has {i} apples. How many apples does Mia have?",
         "completion": f"She has {i}.\n#### {i}", "weight": 1.0} for i in range(2, 34)]


def _config(gpu=0, nodes=1, **distributed):
    """The config keys that tpt.launch reads."""
    return {"finetune": {**CFG, "distributed": {**CFG["distributed"], **distributed}},
            "resources": {"finetune": {"gpu": gpu, "nodes": nodes}}, "threads": {"finetune": 2}}


def _run(tmp_path, model, name, cfg, processes, wait=True, strategy="auto", env=None):
    """The finetune rule's command for `processes` CPU processes on the SFT rows above (env: more environment
    variables); returns the process."""
    data = tmp_path / "data"
    if not data.exists():
        data.mkdir()
        artifacts.write(pd.DataFrame(ROWS), str(data / "train.parquet"), artifacts.SFT)
        artifacts.write(pd.DataFrame(ROWS[:2]), str(data / "val.parquet"), artifacts.SFT)
    config = _config(processes=processes, strategy=strategy)
    cfg = {**cfg, "distributed": config["finetune"]["distributed"]}
    cmd = (launch.command(config, ACCELERATE) + f" --train {data}/train.parquet --val {data}/val.parquet"
           f" --model {model} --out {tmp_path}/{name} --scratch {tmp_path}/{name}-scratch"
           f" --finetune '{json.dumps(cfg)}' --threads 2 --log {tmp_path}/{name}.log"
           f" || {launch.keep_finished()} --out {tmp_path}/{name} --log {tmp_path}/{name}.log")
    output = tmp_path / f"{name}.out"  # a file, not a pipe: nobody reads a pipe while the run goes on
    with open(output, "w") as out:
        proc = subprocess.Popen(cmd, shell=True, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})
    if wait:
        assert proc.wait(timeout=600) == 0, output.read_text()[-4000:]
    return proc


def _weights(path):
    return load_file(os.path.join(path, "model.safetensors"))


def _close(a, b, atol):
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol) for k in a)


@pytest.fixture(scope="module")
def one_process(tiny_model, tmp_path_factory):
    """(figures, folder) of the one-process fine-tune with CFG's settings and `changes` (4 examples a step), that
    the 2-process ones are compared with; made once for all strategies."""
    runs = {}

    def run(**changes):
        key = json.dumps(changes, sort_keys=True)
        if key not in runs:
            out = tmp_path_factory.mktemp("one")
            runs[key] = (train.finetune(tiny_model, str(out / "model"), ROWS, ROWS[:2],
                                        {**CFG, **changes, "batch_size": 4}, str(out / "scratch")), out / "model")
        return runs[key]
    return run


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize("strategy, distributed", [("auto", "multi_cpu"), ("fsdp", "fsdp"),
                                                   ("deepspeed", "deepspeed")])
def test_two_processes_train_the_weights_of_one_process_with_the_same_global_batch(tiny_model, tmp_path, method,
                                                                                  strategy, distributed,
                                                                                  one_process):
    """DDP (auto on CPU processes), FSDP2 and DeepSpeed ZeRO-3 from the shipped config/accelerate/*.yaml, full
    fine-tuning and LoRA: the gathered, saved model equals the one-process one."""
    cfg = {**CFG, "method": method}
    one, one_dir = one_process(method=method)
    # 2 processes x 2 examples a step
    _run(tmp_path, tiny_model, "two", {**cfg, "batch_size": 2}, processes=2, strategy=strategy)

    log = (tmp_path / "two.log").read_text()
    assert "in 2 process(es)" in log and f"'steps': {one['steps']}" in log
    assert f"'distributed': '{distributed}'" in log  # not a silent fallback to plain data parallel
    assert log.count("step 1/") == 1  # the main process alone writes the log
    AutoModelForCausalLM.from_pretrained(str(tmp_path / "two"))  # a plain HF folder
    assert not (tmp_path / "two-scratch").exists() and not (tmp_path / "two.tmp").exists()
    assert _close(_weights(one_dir), _weights(tmp_path / "two"), atol=1e-5)


@pytest.mark.parametrize("strategy", ["auto", pytest.param("fsdp", marks=pytest.mark.slow),
                                      pytest.param("deepspeed", marks=pytest.mark.slow)])
def test_a_killed_two_process_finetune_resumes_from_its_checkpoint(tiny_model, tmp_path, strategy, one_process):
    cfg = {**CFG, "batch_size": 2, "epochs": 12, "save_steps": 4}  # 96 steps, a checkpoint every 4
    first = _run(tmp_path, tiny_model, "two", cfg, processes=2, wait=False, strategy=strategy)
    scratch = tmp_path / "two-scratch"
    deadline = time.time() + 300
    # kill the launcher and both processes once a complete checkpoint exists (maybe while the next is written)
    while not list(scratch.glob("checkpoint-*/trainer_state.json")) and first.poll() is None \
            and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "two").exists(), "the fine-tune ended before the kill: make it longer"
    checkpoint = train.newest_checkpoint(str(scratch))
    assert checkpoint is not None
    if strategy == "fsdp":  # each process wrote its shard of the weights and of the optimizer state
        assert os.path.isdir(os.path.join(checkpoint, "pytorch_model_fsdp_0"))
        assert os.path.isdir(os.path.join(checkpoint, "optimizer_0"))
    if strategy == "deepspeed":  # DeepSpeed's own checkpoint: each process's partition of weights and optimizer
        assert [d.name for d in Path(checkpoint).glob("global_step*")] == [f"global_step{checkpoint.split('-')[-1]}"]

    _run(tmp_path, tiny_model, "two", cfg, processes=2, strategy=strategy)
    done = (tmp_path / "two.log").read_text().split("done: ")[1]
    assert re.search(r"'resumed_from': '[^']*checkpoint-\d+'", done) and "'steps': 96" in done
    assert _close(_weights(one_process(epochs=12, save_steps=4)[1]), _weights(tmp_path / "two"), atol=1e-5)


# Makes the process of rank 1 abort (SIGABRT, as a C++ std::terminate does) at start or at exit: Python imports
# sitecustomize from PYTHONPATH in every process, the launcher's too (which has no RANK)
ABORT_RANK_1 = """import atexit, os
if os.environ.get("RANK") == "1":
    if os.environ["ABORT_WHEN"] == "at exit":
        atexit.register(os.abort)
    else:
        os.abort()
"""


@pytest.mark.parametrize("when", ["at exit", "at start"])
def test_a_process_that_fails_after_the_model_is_done_does_not_lose_it(tiny_model, tmp_path, when):
    """The finetune rule's command when a training process aborts: at exit, after the main process saved the model
    and recorded the job done, the job succeeds and keeps the model, and the log says what happened; at start,
    the job fails with the launcher's status."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(ABORT_RANK_1)
    env = {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]), "ABORT_WHEN": when}
    run = _run(tmp_path, tiny_model, "two", {**CFG, "batch_size": 2, "epochs": 1}, processes=2, wait=False,
               env=env)
    status = run.wait(timeout=600)
    output = (tmp_path / "two.out").read_text()
    assert "exitcode: -6" in output or "SIGABRT" in output, output[-3000:]  # rank 1 did abort
    if when == "at exit":
        assert status == 0, output[-3000:]
        AutoModelForCausalLM.from_pretrained(str(tmp_path / "two"))
        assert json.loads((tmp_path / "two" / launch.DONE).read_text())["steps"] == 8
        assert "the model is kept and the job succeeds" in (tmp_path / "two.log").read_text()
    else:
        assert status != 0
        assert not (tmp_path / "two" / launch.DONE).exists()


def test_one_process_is_a_plain_python_process():
    assert launch.command(_config(), ACCELERATE) == f"{sys.executable} -m tpt.launch"
    assert launch.command(_config(gpu=1), ACCELERATE) == f"{sys.executable} -m tpt.launch"


def test_several_gpus_of_one_node_run_one_process_each_under_accelerate_launch():
    cmd = launch.command(_config(gpu=8), ACCELERATE)
    assert cmd == (f"{sys.executable} -m accelerate.commands.launch --config_file {ACCELERATE}/fsdp.yaml "
                   "--num_processes 8 --main_process_port 0 -m tpt.launch")
    assert "/ddp.yaml --num_processes 2 " in launch.command(_config(processes=2), ACCELERATE)  # CPU processes
    assert "/ddp.yaml --num_processes 4 " in launch.command(_config(gpu=4, strategy="ddp"), ACCELERATE)


def test_several_nodes_start_one_launcher_per_node_with_srun():
    cmd = launch.command(_config(gpu=8, nodes=4), ACCELERATE)
    assert cmd.startswith("printenv SLURM_JOB_ID >/dev/null || ")  # inside a SLURM job only (see below)
    assert cmd[cmd.index("; srun ") + 2:] == (
        "srun --nodes=4 --ntasks=4 --ntasks-per-node=1 --cpus-per-task=2 --mem=0 --kill-on-bad-exit=1 "
        f"{sys.executable} -m tpt.launch slurm-node --config_file {ACCELERATE}/fsdp.yaml "
        "--num_processes 32 --num_machines 4 --main_process_port 29500 -m tpt.launch")


@pytest.mark.parametrize("nodelist, first", [("gpu[03-05,07],cpu01", "gpu03"), ("node7", "node7"),
                                             ("a1,a2", "a1"), ("rack[1-2]-node[01-02]", "rack1-node01")])
def test_each_node_finds_its_rank_and_the_main_node_from_srun_variables(nodelist, first):
    assert launch.node_rank_and_address({"SLURM_NODEID": "2", "SLURM_STEP_NODELIST": nodelist}) == (2, first)


def test_several_nodes_outside_slurm_say_what_to_do(tmp_path):
    cmd = launch.command(_config(nodes=2), ACCELERATE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    run = subprocess.run(["bash", "-c", f"set -euo pipefail; {cmd} --train x"], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert run.stderr == "resources.finetune.nodes=2 trains over the nodes of a SLURM job: run with --profile " \
                         "profiles/slurm\n"
    with pytest.raises(SystemExit, match="--profile profiles/slurm"):
        launch.node_rank_and_address({})


@pytest.mark.parametrize("config, message", [
    (_config(gpu=1, strategy="fsdp"), "strategy=fsdp needs several processes.*gpu=1 and resources.finetune.nodes=1"),
    (_config(gpu=8, processes=4), "processes=4 with resources.finetune.gpu=8: tpt runs one process per GPU"),
])
def test_impossible_combinations_say_what_to_change(config, message):
    with pytest.raises(ConfigError, match=message):
        launch.plan(config)


def test_deepspeed_without_the_package_says_what_to_install(monkeypatch):
    real = launch.importlib.util.find_spec
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None if name == "deepspeed" else real(name))
    with pytest.raises(ConfigError, match="pip install deepspeed"):
        launch.plan(_config(gpu=8, strategy="deepspeed"))


def _launcher_args(config_file):
    """`accelerate launch --config_file config_file --num_processes 8` as accelerate's launcher reads it."""
    from accelerate.commands import launch as accelerate_launch

    args = accelerate_launch.launch_command_parser().parse_args(
        ["--config_file", config_file, "--num_processes", "8", "train.py"])
    return accelerate_launch._validate_launch_command(args)[0]


def test_the_fsdp_config_shards_everything_and_wraps_transformer_layers(monkeypatch):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env

    env = prepare_multi_gpu_env(_launcher_args(os.path.join(ACCELERATE, "fsdp.yaml")))  # each process's variables
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["ACCELERATE_MIXED_PRECISION"] == "no"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True  # full shard
    assert plugin.state_dict_type.name == "SHARDED_STATE_DICT"  # checkpoints; the final model is gathered
    assert plugin.auto_wrap_policy.__name__.startswith("transformer_auto_wrap_policy")
    assert plugin.cpu_ram_efficient_loading  # one copy of the weights in the node's memory, not one a process


def test_the_deepspeed_config_is_zero3_and_can_gather_the_final_model():
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args = _launcher_args(os.path.join(ACCELERATE, "deepspeed.yaml"))
    args.deepspeed_fields_from_accelerate_config = ""  # set by accelerate's launch_command before this step
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "3"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "true"
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS" not in env  # the Trainer fills it from finetune.grad_accum


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_gathered_state_dict_becomes_a_plain_model(tiny_model, tmp_path, method):
    """What the main process does with the state dict an FSDP or DeepSpeed run gathers."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    if method == "lora":
        model = train._with_lora(model, CFG["lora"])
        for name, weight in model.named_parameters():
            if "lora_B" in name:  # as if trained: B starts at zero
                torch.nn.init.normal_(weight)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    whole = train._from_state_dict(tiny_model, {**CFG, "method": method}, state, model.generation_config)
    if method == "lora":
        whole, model = whole.merge_and_unload(), model.merge_and_unload()
    train.save_model(whole, train.AutoTokenizer.from_pretrained(tiny_model), str(tmp_path / "whole"))
    saved = AutoModelForCausalLM.from_pretrained(str(tmp_path / "whole"))
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    assert torch.allclose(saved(ids).logits, model(ids).logits, atol=1e-5)


def test_the_70b_preset_plans_its_finetune_over_8_gpus_with_accelerate_launch(tmp_path):
    with open(os.path.join(REPO, "config", "presets", "gsm8k-llama70b.yaml")) as f:
        config = yaml.safe_load(f)
    run = snakemake(tmp_path, {**config, "results": "results"}, "-n", "-p", "results/models/round_1",
                    default_run=False)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    job = out[out.index("rule finetune:"):]
    assert re.search(r"resources: [^\n]*gpu=8, tasks_per_gpu=0", job)
    assert re.search(r"Shell command: \S+ -m accelerate.commands.launch --config_file \S+/config/accelerate/fsdp.yaml "
                     r"--num_processes 8 --main_process_port 0 -m tpt.launch --train", job)


@pytest.mark.slow
def test_the_workflow_fine_tunes_with_two_processes(tmp_path):
    """The finetune rule itself with 2 CPU processes, after the earlier stages of one round."""
    config = _merge(copy.deepcopy(TINY), {"finetune": {"distributed": {"processes": 2}}})
    run = snakemake(tmp_path, config, "-p", "results/models/round_1")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "-m accelerate.commands.launch --config_file" in run.stdout + run.stderr
    log = (tmp_path / "results/logs/round_1/finetune.log").read_text()
    assert "in 2 process(es)" in log and "done: " in log
    AutoModelForCausalLM.from_pretrained(str(tmp_path / "results/models/round_1"))
