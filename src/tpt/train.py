"""Train: supervised fine-tuning on pruned samples, with the HF `Trainer` (full fine-tuning or LoRA via PEFT).

The loss covers the completion only; the prompt is rendered with the same chat template as generation, and the
completion ends with the tokenizer's EOS, so the model learns to stop where generation stops it. The loss is the
model's own cross-entropy (the paper's), or, with finetune.loss: gem or examples weighted by prune.weights,
tpt.losses' (`WeightedTrainer`). Weights stay in fp32 (the master copy); on a GPU with bf16 the forward/backward
passes run in bf16 autocast.

Checkpoints go to a scratch folder outside the rule's declared output: Snakemake deletes a declared output before
a rerun, and a killed job should resume from its newest checkpoint, not start over.

The same function runs in one process or in each of several under `accelerate launch` (tpt.launch): the Trainer
then trains with DDP, FSDP or DeepSpeed as the launcher's config says. With several processes the main one claims
the scratch folder, and the main one alone saves the final model, gathered whole when the weights are sharded.
"""
import hashlib
import json
import logging
import os
import shutil

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, PrinterCallback, Trainer,
                          TrainerCallback, TrainingArguments, set_seed)
from transformers.utils import logging as hf_logging

from tpt import artifacts, losses
from tpt.chat import render_prompt

IGNORE = losses.IGNORE  # label of tokens that carry no loss
log = logging.getLogger("tpt.train")


def encode(tokenizer, rows, max_length):
    """Token ids and labels for prompt/completion rows; labels mask the prompt. A row that does not fit in
    max_length is an error naming the row: a silently cut solution would teach the model to stop mid-answer."""
    features = []
    for row in rows:
        prompt_ids = tokenizer(render_prompt(tokenizer, row["prompt"]), add_special_tokens=False)["input_ids"]
        completion_ids = tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
        completion_ids.append(tokenizer.eos_token_id)
        if len(prompt_ids) + len(completion_ids) > max_length:
            raise ValueError(
                f"training example {row.get('sample_id', '?')} has {len(prompt_ids) + len(completion_ids)} tokens, "
                f"more than finetune.max_length={max_length}: raise finetune.max_length or lower the sampling's "
                "max_new_tokens")
        features.append({"input_ids": prompt_ids + completion_ids,
                         "labels": [IGNORE] * len(prompt_ids) + completion_ids,
                         "weight": float(row.get("weight", 1.0))})
    return features


def _collate(pad_id, weights=False):
    """Pad a batch; with weights, the examples' weights too (for WeightedTrainer, which takes them out)."""
    def collate(batch):
        width = max(len(f["input_ids"]) for f in batch)
        ids = torch.full((len(batch), width), pad_id)
        labels = torch.full((len(batch), width), IGNORE)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, f in enumerate(batch):
            n = len(f["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(f["input_ids"]), torch.tensor(f["labels"]), 1
        out = {"input_ids": ids, "labels": labels, "attention_mask": mask}
        if weights:
            out["weights"] = torch.tensor([f["weight"] for f in batch], dtype=torch.float32)
        return out
    return collate


class WeightedTrainer(Trainer):
    """The Trainer with tpt.losses' loss: finetune.loss (ce or gem) and the examples' weights. Its loss is
    normalised by the accumulated batch's completion tokens, as the model's own. Evaluation keeps the plain
    cross-entropy, so that eval_loss compares across losses and weightings."""

    def __init__(self, *args, loss="ce", gem=None, **kwargs):
        super().__init__(*args, compute_loss_func=self._loss, **kwargs)
        gem = gem or {}
        self.loss_settings = {"loss": loss, "beta": gem.get("beta", 0.7), "h": gem.get("h", "linear")}
        self._weights, self._training = None, True

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._weights, self._training = inputs.pop("weights", None), model.training
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def _loss(self, outputs, labels, num_items_in_batch=None):
        if not self._training:
            return losses.sft_loss(outputs.logits, labels, num_items=num_items_in_batch)
        return losses.sft_loss(outputs.logits, labels, self._weights, num_items=num_items_in_batch,
                               **self.loss_settings)


class LogToFile(TrainerCallback):
    """Trainer's log lines through `logging`, so they reach the rule's log file as well as the terminal."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:  # every process gets the same figures: write them once
            log.info("step %d/%d: %s", state.global_step, state.max_steps,
                     ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()))


def newest_checkpoint(scratch_dir):
    """The newest complete `checkpoint-<step>` folder under scratch_dir, or None. The Trainer writes a checkpoint's
    trainer_state.json last, so a folder without it was cut off by a kill and is skipped."""
    if not os.path.isdir(scratch_dir):
        return None
    steps = [int(d.split("-")[1]) for d in os.listdir(scratch_dir)
             if d.startswith("checkpoint-") and d.split("-")[1].isdigit()
             and os.path.exists(os.path.join(scratch_dir, d, "trainer_state.json"))]
    return os.path.join(scratch_dir, f"checkpoint-{max(steps)}") if steps else None


def finetune(init_model, out_dir, train_rows, val_rows, cfg, scratch_dir, threads=None, callbacks=None,
             curve_path=None, card=None):
    """Fine-tune `init_model` (hub id or folder) on train_rows and save the result in HF format at out_dir.

    cfg is the config's `finetune` section. curve_path: where to write the TRAINING_CURVE (Parquet). Returns a
    dict of training figures (loss, eval loss, steps, whether it resumed from a checkpoint). card: a function
    of those figures that returns the model folder's README.md (tpt.card)."""
    hf_logging.disable_progress_bar()
    if threads:
        torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    # Made before the model: under `accelerate launch` it starts the process group, which loading needs (FSDP
    # reads the weights on the main process only, DeepSpeed ZeRO-3 partitions them as they load).
    args = TrainingArguments(
        output_dir=scratch_dir,
        num_train_epochs=cfg["epochs"],
        per_device_train_batch_size=cfg["batch_size"],
        per_device_eval_batch_size=cfg["batch_size"],
        gradient_accumulation_steps=cfg["grad_accum"],
        learning_rate=cfg["learning_rate"],
        lr_scheduler_type=cfg["lr_scheduler"],
        warmup_steps=cfg["warmup_ratio"],  # a float in [0, 1) is a ratio of all steps
        weight_decay=cfg["weight_decay"],
        max_grad_norm=cfg["max_grad_norm"],
        bf16=(cuda and torch.cuda.is_bf16_supported() and cfg["bf16"]) or (not cuda and _cpu_bf16(cfg)),
        use_cpu=not cuda,
        train_sampling_strategy=cfg.get("sampler", "random"),
        seed=cfg["seed"],
        save_strategy="steps",
        save_steps=cfg["save_steps"],
        save_total_limit=2,
        eval_strategy="epoch" if len(val_rows) else "no",
        logging_steps=max(1, cfg["logging_steps"]),
        report_to=report_to(cfg, curve_path),
        run_name=os.path.basename(os.path.normpath(out_dir)),  # e.g. round_2, for W&B / MLflow
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        gradient_checkpointing=cfg.get("gradient_checkpointing", False),
        gradient_checkpointing_kwargs={"use_reentrant": False},  # works with LoRA's frozen inputs and FSDP
        ddp_find_unused_parameters=False,  # every trainable weight takes part in the loss: skip DDP's search
    )
    with args.main_process_first(local=False):  # the main process claims the folder; the others then find it theirs
        _claim_scratch(scratch_dir, init_model, train_rows, val_rows, cfg, args.world_size)
    if not cuda:
        _shard_on_cpu_processes_too()
    saved_dtype = getattr(AutoConfig.from_pretrained(init_model), "dtype", None)  # e.g. bf16 for Gemma-2
    tokenizer = AutoTokenizer.from_pretrained(init_model)
    # padding is masked out of attention and loss, so a tokenizer without a pad token (Llama-3's) pads with its EOS;
    # the tokenizer is left as it is, so that the saved model keeps the base model's special tokens and configs
    pad_id = tokenizer.eos_token_id if tokenizer.pad_token_id is None else tokenizer.pad_token_id
    model = AutoModelForCausalLM.from_pretrained(  # fp32 master weights
        init_model, dtype=torch.float32, attn_implementation=cfg.get("attn_implementation"))
    if cfg["method"] == "lora":
        set_seed(cfg["seed"])  # the adapter's random start: the same in every process and on every rerun
        model = _with_lora(model, cfg["lora"])

    train_set = encode(tokenizer, train_rows, cfg["max_length"])
    val_set = encode(tokenizer, val_rows, cfg["max_length"]) if len(val_rows) else None
    # the model's own cross-entropy (the paper's), unless a loss or weights ask for tpt.losses'
    weighted = cfg.get("loss", "ce") != "ce" or any(f["weight"] != 1.0 for f in train_set)
    kind, extra = (WeightedTrainer, {"loss": cfg.get("loss", "ce"), "gem": cfg.get("gem")}) if weighted \
        else (Trainer, {})
    trainer = kind(model=model, args=args, train_dataset=train_set, eval_dataset=val_set,
                   data_collator=_collate(pad_id, weights=weighted), processing_class=tokenizer,
                   callbacks=[LogToFile()] + (callbacks or []), **extra)
    trainer.remove_callback(PrinterCallback)  # our callback logs the same lines to the rule's log too
    resume = newest_checkpoint(scratch_dir)
    result = trainer.train(resume_from_checkpoint=resume)
    figures = {"train_loss": float(result.training_loss), "steps": int(result.global_step),
               "examples": len(train_set), "resumed_from": resume or "",
               "distributed": trainer.accelerator.distributed_type.value.lower()}  # no, multi_cpu, fsdp, ...
    if val_set:
        figures["eval_loss"] = float(trainer.evaluate()["eval_loss"])

    if curve_path and args.should_save:
        # log_history holds every logged step, those before a resumed checkpoint too
        artifacts.write(training_curve(trainer.state.log_history), curve_path, artifacts.TRAINING_CURVE)

    trainer.accelerator.wait_for_everyone()  # no process still writes a checkpoint when the main one cleans up
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        # each process holds a shard of the weights: gather them whole on the main process (all take part);
        # model_wrapped is what accelerate prepared (the DeepSpeed engine, the FSDP module)
        state = trainer.accelerator.get_state_dict(trainer.model_wrapped)
        model = _from_state_dict(init_model, cfg, state, model.generation_config) if args.should_save else None
        del state  # the model holds the gathered tensors now: casting it below frees the fp32 ones one by one
    if not args.should_save:
        return figures  # with several processes the main one saves the model
    if cfg["method"] == "lora":
        model = model.merge_and_unload()  # a plain HF folder that transformers and vLLM both load
    if isinstance(saved_dtype, torch.dtype) and saved_dtype != torch.float32:
        model = model.to(saved_dtype)  # trained in fp32, saved in the dtype the base model came in
    save_model(model, tokenizer, out_dir, readme=card(figures) if card else None)
    shutil.rmtree(scratch_dir, ignore_errors=True)  # the round is done: its checkpoints are not needed
    return figures


def _cpu_bf16(cfg):
    """finetune.cpu_bf16, where this CPU has bf16 instructions (else fp32, said in the log)."""
    if not cfg.get("cpu_bf16", False):
        return False
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return True
    log.warning("finetune.cpu_bf16: this CPU has no bf16 instructions: training in fp32")
    return False


def _shard_on_cpu_processes_too():
    """Under `accelerate launch` with fsdp.yaml on CPU processes (gloo), train with FSDP as on GPUs. accelerate
    takes FSDP for GPU process groups only, and on CPU ones silently trains plain data parallel instead; the
    tests run the shipped fsdp.yaml on CPU processes, so they mark the group as a GPU one here, before the
    Trainer's Accelerator reads it (the device stays the CPU). torch's FSDP2 itself runs on gloo."""
    from accelerate.state import DistributedType, PartialState

    state = PartialState()
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" \
            and state.distributed_type == DistributedType.MULTI_CPU:
        PartialState._shared_state["distributed_type"] = DistributedType.MULTI_GPU


def report_to(cfg, curve_path=None):
    """finetune.report_to as the Trainer's report_to: [] for none, else a list of integrations (tensorboard,
    wandb, mlflow, ...). TensorBoard's event files go beside the training curve (the Trainer's default folder
    is inside the scratch folder, which is deleted once the model is saved)."""
    names = cfg.get("report_to") or "none"
    names = [names] if isinstance(names, str) else list(names)
    names = [n for n in names if n != "none"]
    if "tensorboard" in names and curve_path:
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", os.path.splitext(curve_path)[0] + "_tensorboard")
    return names


def training_curve(log_history):
    """The TRAINING_CURVE rows of a Trainer's log_history: the train loss of each logging step, the eval loss
    of each evaluation."""
    import pandas as pd

    rows = {}
    for entry in log_history:
        for key, split in (("loss", "train"), ("eval_loss", "val")):
            if key in entry:  # the evaluation after training repeats the last epoch's: one row per step and split
                rows[entry["step"], split] = {"step": int(entry["step"]), "epoch": float(entry.get("epoch") or 0.0),
                                              "split": split, "loss": float(entry[key]),
                                              "learning_rate": entry.get("learning_rate")}
    return pd.DataFrame(list(rows.values()), columns=artifacts.TRAINING_CURVE.names)


def _with_lora(model, lora):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                            target_modules=lora["target_modules"], task_type="CAUSAL_LM"))


def _from_state_dict(init_model, cfg, state, generation_config):
    """A plain (unsharded) copy of the trained model from its gathered state dict. It is built on the meta device,
    so it takes no memory until the gathered tensors are assigned to it: a 70B model is held once, not twice."""
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    # training is over: without this, under ZeRO-3 transformers would build the copy partitioned over all
    # processes (zero.Init), and wait forever for the others, which build nothing (seen on 2 CPU processes)
    unset_hf_deepspeed_config()
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(init_model), dtype=torch.float32,
                                                 attn_implementation=cfg.get("attn_implementation"))
    model.generation_config = generation_config  # e.g. Llama-3's list of stop tokens, as in the base model
    if cfg["method"] == "lora":
        model = _with_lora(model, cfg["lora"])
    model.load_state_dict(state, assign=True)
    model.tie_weights()  # the gathered copies of tied weights (embeddings and output) are one tensor again
    return model


def _claim_scratch(scratch_dir, init_model, train_rows, val_rows, cfg, processes):
    """Keep scratch_dir's checkpoints only if they were made by this very job (same start model, data, settings
    and number of processes); checkpoints of an earlier, different job would silently resume the wrong training."""
    key = json.dumps([init_model, [r.get("sample_id", r["completion"]) for r in train_rows],
                      [r.get("sample_id", r["completion"]) for r in val_rows], cfg, processes], sort_keys=True,
                     default=str)
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    path = os.path.join(scratch_dir, "job.sha256")
    if os.path.exists(path) and open(path).read() == fingerprint:
        return
    if os.path.isdir(scratch_dir):
        log.info("%s holds checkpoints of another job: starting over", scratch_dir)
        shutil.rmtree(scratch_dir)
    os.makedirs(scratch_dir)
    with open(path, "w") as f:
        f.write(fingerprint)


def interpolate(model_dir, other, ratio):
    """WiSE-FT (arXiv 2504.10478): replace the weights in model_dir by ratio x its own + (1 - ratio) x other's
    (a model of the same architecture: the previous round's or the base model). Floating-point weights only;
    the result is saved in model_dir's dtype."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    theirs = AutoModelForCausalLM.from_pretrained(other, dtype=torch.float32).state_dict()
    dtype = getattr(AutoConfig.from_pretrained(model_dir), "dtype", None)
    done = set()  # tied weights (embeddings and output) are one tensor under two names: mix it once
    with torch.no_grad():
        for name, weight in tuned.state_dict().items():
            if weight.is_floating_point() and weight.data_ptr() not in done:
                weight.mul_(ratio).add_(theirs[name], alpha=1 - ratio)
                done.add(weight.data_ptr())
    if isinstance(dtype, torch.dtype) and dtype != torch.float32:
        tuned = tuned.to(dtype)
    card = os.path.join(model_dir, "README.md")  # the model card written with the fine-tuned model
    save_model(tuned, tokenizer, model_dir, readme=open(card).read() if os.path.exists(card) else None)


def save_model(model, tokenizer, out_dir, readme=None):
    """Save model and tokenizer (and a README.md model card) into out_dir atomically: a half-written model folder
    never exists."""
    tmp = out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if readme:
        with open(os.path.join(tmp, "README.md"), "w") as f:
            f.write(readme)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
