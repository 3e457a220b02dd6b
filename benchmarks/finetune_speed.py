"""Benchmark of the fine-tune: examples and tokens trained per second by tpt.train, as the finetune rule runs it,
against a bare HF Trainer on the same examples (and any TrainingArguments you want to try on it), with their loss
curves, in one run.

    python benchmarks/finetune_speed.py --results results --round 3
    python benchmarks/finetune_speed.py --results results --round 3 --bare train_sampling_strategy=group_by_length

The examples are the round's SFT set (results/round_<r>/prune/sft_train.parquet) and the model is the one the
round started from (round r-1's); the settings are config.yaml's finetune section with the schema's defaults. Each
trainer runs in turn in this process with --threads torch threads (threads.finetune: 2 by default), timed from
the first step to the last (loading and saving the model are left out). Tokens: the real ones of the examples
(prompt and completion, the EOS included), and the padded ones the batches held.
"""
import argparse
import os
import tempfile
import time

import torch
import yaml
from snakemake.utils import validate
from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainerCallback,
                          TrainingArguments)

from tpt import artifacts, paths, train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--results", default="results", help="a finished run's results folder")
parser.add_argument("--round", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--bare", nargs="*", default=[], metavar="ARG=VALUE",
                    help="more runs of the bare Trainer, each with these TrainingArguments (comma-separated)")
args = parser.parse_args()

config = yaml.safe_load(open(os.path.join(REPO, "config.yaml")))
validate(config, os.path.join(REPO, "workflow", "schemas", "config.schema.yaml"))
cfg = config["finetune"]
cfg["seed"] = config["seed"] if cfg["seed"] is None else cfg["seed"]  # null: the run's seed, as the rule hands it
rows = artifacts.read(paths.sft(args.results, args.round), artifacts.SFT).to_dict("records")
model_dir = paths.model_dir(args.results, args.round - 1)
tokenizer = AutoTokenizer.from_pretrained(model_dir)
features = train.encode(tokenizer, rows, cfg["max_length"])
real_tokens = sum(len(f["input_ids"]) for f in features)
torch.set_num_threads(args.threads)


class Clock(TrainerCallback):
    """The seconds from the first step's start to the last step's end, and the padded tokens of every batch."""

    def __init__(self):
        self.start = self.end = None
        self.padded = 0

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = self.start or time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.end = time.perf_counter()


def counting(collate, clock):
    def wrapped(batch):
        out = collate(batch)
        clock.padded += out["input_ids"].numel()
        return out
    return wrapped


def report(name, clock, history):
    seconds = clock.end - clock.start
    losses = [h["loss"] for h in history if "loss" in h]
    examples = len(features) * cfg["epochs"]
    print(f"{name:45s} {seconds:7.1f} s  {examples / seconds:7.1f} examples/s  "
          f"{real_tokens * cfg['epochs'] / seconds:8.0f} tokens/s  real/padded tokens "
          f"{real_tokens * cfg['epochs'] / max(clock.padded, 1):.0%}  loss every {cfg['logging_steps']} steps: "
          + " ".join(f"{loss:.3f}" for loss in losses), flush=True)


print(f"round {args.round} of {args.results}: {len(features)} examples, {real_tokens:,} tokens, from {model_dir}; "
      f"{cfg['epochs']} epochs, batch {cfg['batch_size']}, {args.threads} threads\n")

# tpt.train, as the finetune rule runs it
with tempfile.TemporaryDirectory() as tmp:
    clock = Clock()
    original = train._collate
    train._collate = lambda pad_id, weights=False: counting(original(pad_id, weights), clock)
    history = []

    class Keep(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            history.append(dict(logs or {}))

    train.finetune(model_dir, os.path.join(tmp, "out"), rows, [], cfg, os.path.join(tmp, "scratch"),
                   threads=args.threads, callbacks=[clock, Keep()])
    train._collate = original
    report("tpt.train", clock, history)

# the bare Trainer: HF's own collator, the same hyperparameters
for extra in [""] + args.bare:
    overrides = dict(kv.split("=", 1) for kv in extra.split(",") if kv)
    overrides = {k: yaml.safe_load(v) for k, v in overrides.items()}
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(cfg["seed"])
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        targs = TrainingArguments(
            output_dir=tmp, num_train_epochs=cfg["epochs"], per_device_train_batch_size=cfg["batch_size"],
            learning_rate=cfg["learning_rate"], lr_scheduler_type=cfg["lr_scheduler"], warmup_steps=cfg["warmup_ratio"],
            weight_decay=cfg["weight_decay"], max_grad_norm=cfg["max_grad_norm"], seed=cfg["seed"], use_cpu=True,
            save_strategy="no", logging_steps=cfg["logging_steps"], report_to="none", disable_tqdm=True,
            remove_unused_columns=False, **overrides)
        clock = Clock()
        collate = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=train.IGNORE)
        trainer = Trainer(model=model, args=targs, processing_class=tokenizer, callbacks=[clock],
                          train_dataset=[{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features],
                          data_collator=counting(collate, clock))
        trainer.train()
        report("bare Trainer " + (extra or "(defaults)"), clock, trainer.state.log_history)
