"""The GPU check: what tpt does on one GPU, and how fast. Started by benchmarks/gpu_check.sh (see it for the set-up).

    1. the tiny default run's rounds (config.yaml: `snakemake`), sampling with the `hf` backend on CUDA in bf16
       and fine-tuning with bf16 autocast;
    2. one fine-tune step with FSDP2 over 1 GPU: the shipped config/accelerate/fsdp.yaml under accelerate launch,
       the final model gathered and saved as a plain HF folder, which then loads;
    3. a report (printed, and written to <out>/report.md): the machine, the versions, what ran, in how long.

With --cpu the same steps run small on the CPU (1 round of a tiny config, FSDP over 1 CPU process): that is how
the script itself is tested on machines without a GPU. It does not stand for a GPU run.
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import time

import pandas as pd
import torch
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# --cpu: the default run made small (one round of a few problems), as the tests' TINY config
SMALL = {"rounds": 1,
         "task": {"arith": {"test_problems": 20, "train_problems": 40, "warmup_problems": 200}},
         "model": {"builtin": {"hidden_size": 64, "intermediate_size": 128, "num_layers": 1, "num_heads": 2,
                               "max_length": 128, "warmup": {"epochs": 1}}},
         "think": {"n": 2, "max_new_tokens": 32, "problems_per_round": 20},
         "eval": {"n": 2, "max_new_tokens": 32},
         # a random tiny model answers nothing right and rarely stops: keep every sample to have data to train on
         "prune": {"strategy": "none", "per_problem": None, "drop_truncated": False, "dedupe": False, "val_size": 2},
         "finetune": {"epochs": 1, "max_length": 128}}


def run(cmd, log):
    """Run cmd (a list), its output to the file log; returns (exit status, wall seconds)."""
    start = time.time()
    with open(log, "w") as f:
        status = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO).returncode
    return status, time.time() - start


def default_run(out, cpu, cores, report):
    """Step 1: the default run's rounds with the hf backend, bf16 on the GPU."""
    from tpt import cost, paths

    overlay = {"results": os.path.join(out, "results"), "sampling": {"backend": "hf", "dtype": "bfloat16"}}
    if cpu:
        overlay.update(SMALL)
    path = os.path.join(out, "gpu-check-config.yaml")
    again = os.path.exists(overlay["results"])  # Snakemake redoes only what is missing or changed
    with open(path, "w") as f:
        yaml.safe_dump(overlay, f)
    snakemake = os.path.join(os.path.dirname(sys.executable), "snakemake")
    # the overlay laid over the default run (config.yaml is read alone only when no --configfile is given)
    status, seconds = run([snakemake, "--cores", str(cores), "--configfile", "config.yaml", path, "-q"],
                          os.path.join(out, "snakemake.log"))
    report.append(f"## 1. The default run's rounds (hf backend, {'CPU, small' if cpu else 'CUDA, bf16'})\n")
    report.append(f"`snakemake --cores {cores} --configfile config.yaml {path}`: exit {status}, {seconds:.0f} s wall "
                  f"(log: {out}/snakemake.log)" + (": an earlier check's results were kept, only missing or "
                  "changed jobs ran (remove the folder for a timing from scratch)" if again else "") + "\n")
    if status:
        return False
    results = overlay["results"]
    summary = pd.read_parquet(paths.report(results, "summary.parquet"))
    report.append("Pass@1 (strict) per round: " + ", ".join(
        f"round {r['round']} {100 * r['pass@1_strict']:.1f}" for r in summary.to_dict("records")) + "\n")
    jobs = cost.read_benchmarks(paths.benchmarks(results))  # every job's benchmark file, shards as their stage
    stages = jobs.groupby("stage").agg(jobs=("wall_s", "size"), total_s=("wall_s", "sum"),
                                       peak_rss_mb=("peak_rss_mb", "max"))
    report.append("Wall time per stage (all rounds):\n\n```\n" + stages.sort_values("total_s", ascending=False)
                  .round(1).to_string() + "\n```\n")
    samples = pd.concat(pd.read_parquet(p) for p in glob.glob(paths.samples(results, "*", "*")))
    generate_s = stages.loc[[s for s in stages.index if s.startswith("generate")], "total_s"].sum()
    report.append(f"Sampling: {len(samples)} samples, {samples['completion_tokens'].sum()} tokens"
                  + (f", {samples['completion_tokens'].sum() / generate_s:,.0f} tokens/s over the sampling jobs'"
                     f" {generate_s:.0f} s (model loading included)" if generate_s else "") + "\n")
    return True


def fsdp_step(out, cpu, report):
    """Step 2: one fine-tune step with FSDP over 1 GPU, from the default run's base model and its first round's
    training examples, through the shipped accelerate config, as the finetune rule runs it with several GPUs."""
    from safetensors.torch import load_file
    from snakemake.utils import validate
    from transformers import AutoModelForCausalLM

    from tpt import artifacts, paths, stages

    results = os.path.join(out, "results")
    with open(os.path.join(REPO, "config.yaml")) as f:
        config = yaml.safe_load(f)
    if cpu:
        config["finetune"].update(SMALL["finetune"])
    validate(config, os.path.join(REPO, "workflow", "schemas", "config.schema.yaml"))  # fills the defaults
    rows = artifacts.read(paths.sft(results, 1), artifacts.SFT)
    batch = min(len(rows), config["finetune"]["batch_size"])
    step = os.path.join(out, "fsdp")
    os.makedirs(step, exist_ok=True)
    artifacts.write(rows.iloc[:batch], os.path.join(step, "train.parquet"), artifacts.SFT)
    artifacts.write(rows.iloc[:2], os.path.join(step, "val.parquet"), artifacts.SFT)
    cfg = {**stages.param(config, "finetune", "finetune", round_=1), "epochs": 1, "batch_size": batch, "grad_accum": 1, "save_steps": 1,
           "warmup_ratio": 0}  # one step, at the full learning rate (a warm-up would make it 0)
    model = paths.model_dir(results, 0)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           os.path.join(REPO, "config", "accelerate", "fsdp.yaml"), "--num_processes", "1", "--main_process_port",
           "0", "-m", "tpt.launch", "--train", os.path.join(step, "train.parquet"), "--val",
           os.path.join(step, "val.parquet"), "--model", model, "--out", os.path.join(step, "model"), "--scratch",
           os.path.join(step, "scratch"), "--finetune", json.dumps(cfg), "--threads", "2", "--log",
           os.path.join(step, "finetune.log")]
    status, seconds = run(cmd, os.path.join(step, "launch.log"))
    report.append(f"## 2. One FSDP2 fine-tune step over 1 {'CPU process' if cpu else 'GPU'}\n")
    report.append(f"accelerate launch --config_file config/accelerate/fsdp.yaml --num_processes 1 ... "
                  f"({batch} examples in one step): exit {status}, {seconds:.0f} s wall, start-up included "
                  f"(logs: {step}/launch.log, finetune.log)\n")
    if status:
        return False
    done = open(os.path.join(step, "finetune.log")).read().split("done: ")[-1]
    report.append(f"Figures: `{done.split(' -> ')[0]}`\n")
    saved = AutoModelForCausalLM.from_pretrained(os.path.join(step, "model"))  # a plain HF folder
    before, after = load_file(os.path.join(model, "model.safetensors")), load_file(
        os.path.join(step, "model", "model.safetensors"))
    moved = max((after[k].float() - before[k].float()).abs().max().item() for k in before)
    ok = "'distributed': 'fsdp'" in done and "'steps': 1," in done and 0 < moved < 1 and saved is not None
    report.append(f"Trained with FSDP, 1 step, saved model loads, largest weight change {moved:.2e}: "
                  f"{'yes' if ok else 'NO'}\n")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO, "gpu-check"), help="folder of the check's files")
    parser.add_argument("--cpu", action="store_true", help="run the steps small on the CPU (tests this script)")
    parser.add_argument("--cores", type=int, default=min(os.cpu_count() or 2, 8))
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("gpu_check: torch sees no GPU here (torch.cuda.is_available() is False); on a machine without "
                 "one, `bash benchmarks/gpu_check.sh --cpu` runs the same steps small on the CPU")
    os.makedirs(args.out, exist_ok=True)
    import accelerate
    import peft
    import snakemake
    import transformers

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    report = [f"# tpt GPU check ({'CPU dry run' if args.cpu else 'GPU'})\n",
              f"Machine: {platform.node()}, GPU: {gpu}, bf16: "
              f"{torch.cuda.is_available() and torch.cuda.is_bf16_supported()}, CPU cores: {os.cpu_count()}; "
              f"Python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
              f"transformers {transformers.__version__}, peft {peft.__version__}, accelerate "
              f"{accelerate.__version__}, snakemake {snakemake.__version__}\n"]
    start = time.time()
    ok = default_run(args.out, args.cpu, args.cores, report) and fsdp_step(args.out, args.cpu, report)
    report.append(f"Total: {time.time() - start:.0f} s; {'all steps passed' if ok else 'FAILED (see the logs)'}\n")
    text = "\n".join(report)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(text)
    print(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
