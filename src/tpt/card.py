"""Model cards: a short README.md in each round's model folder, so a model copied out of the run's results (or
pushed to a hub) says what it is: base model, round, the data and recipe it was trained with, and where it came
from.

The fine-tune writes the card with the model (atomically, in the same folder rename). A round's own evaluation
runs after its model exists, so the card cannot hold it without a cycle; the report then writes each round's
full card, the same text plus the round's metrics with their standard errors, to its model_cards/ folder
(tpt.paths.model_card).
"""
import datetime
import json

import tpt
from tpt import paths


def training_card(info, figures):
    """The model folder's README.md. info: what the finetune rule knows (base_model, round, start_model, task,
    think, verify, prune, finetune settings, seed, examples; temperature_from: think.auto_temperature's grid, when
    the round's probe chose the temperature); figures: train.finetune's training figures."""
    ft, think, prune = info["finetune"], info["think"], info["prune"]
    recipe = (f"{ft['method']} fine-tuning" + (f" (LoRA r={ft['lora']['r']}, merged)" if ft["method"] == "lora" else "")
              + f", {ft['epochs']:g} epoch(s), learning rate {ft['learning_rate']:g} ({ft['lr_scheduler']}, "
              f"warm-up {ft['warmup_ratio']:g}), batch {ft['batch_size']} x {ft['grad_accum']} accumulation, "
              f"max length {ft['max_length']}, "
              + (f"GEM loss (beta {ft['gem']['beta']:g}, {ft['gem']['h']})" if ft.get("loss") == "gem" else
                 "cross-entropy") + " on the completion only"
              + (", batches grouped by length" if ft.get("sampler") == "group_by_length" else "")
              + (", bf16 autocast on CPUs that have it" if ft.get("cpu_bf16") else "")
              + (f", examples weighted by dco (N {prune['dco']['n']}, floor {prune['dco']['floor']:g})"
                 if prune.get("weights") == "dco" else "")
              + (f", examples weighted by unlikeliness (beta {prune['unlikely']['beta']:g})"
                 if prune.get("weights") == "unlikely" else ""))
    lines = [
        "---", "library_name: transformers", "tags: [tpt, think-prune-train]",
        f"base_model: {info['base_model']}" if info["base_model"] != "builtin" else "base_model: null", "---", "",
        f"# {info['task']}: round {info['round']} of Think, Prune, Train, Improve", "",
        f"Fine-tuned by [tpt](https://arxiv.org/abs/2504.18116) (version {tpt.__version__}) on its own verified "
        "samples.", "",
        f"- **Base model**: {info['base_model']}",
        f"- **Round**: {info['round']}, trained from {info['start_model']}",
        f"- **Data**: {info['examples']} examples ({info['val_examples']} held out for validation) kept from "
        f"{think['n']} samples per {info['task']} train problem at temperature {think['temperature']:g} "
        + (f"(chosen by the round's probe from {info['temperature_from']}) " if info.get("temperature_from") else "")
        + f"(max {think['max_new_tokens']} new tokens), verified with the `{info['criterion']}` scoring, pruned "
        f"with strategy `{prune['strategy']}` ("
        + (f"up to {prune['per_problem']} per problem)" if prune["per_problem"] else "every survivor)"),
        f"- **Recipe**: {recipe}",
        f"- **Training**: {figures.get('steps', '?')} steps, final train loss {figures.get('train_loss', float('nan')):.4f}"
        + (f", validation loss {figures['eval_loss']:.4f}" if "eval_loss" in figures else ""),
        f"- **Seed**: {info['seed']} (every sample and draw is seeded)",
        f"- **Made**: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} by the `finetune` rule",
        "",
        "## Evaluation",
        "",
        f"Evaluated after this card was written: see `{paths.metrics('<results>', info['round'], 'eval')}` and the "
        f"run's report (`{paths.model_card('<results>', info['round'])}` repeats this card with the metrics), "
        "where <results> is the run's results folder.",
        "",
        "<details><summary>finetune settings</summary>", "", "```json",
        json.dumps(ft, indent=1, sort_keys=True), "```", "</details>", ""]
    return "\n".join(lines)


def shared_card(card, owner, round_, variants):
    """An experiment's card of a model that several variants use (tpt.sharing.shared_models): the model folder's
    card (written by the owner's fine-tune) with every variant that uses it and the keys each sets otherwise than
    the owner. variants: {variant: {dotted key: (the owner's value, the variant's)}}, the owner first."""
    lines = [card.rstrip(), "", "## Used by", "",
             f"This model (round {round_}) is computed once, by variant `{owner}`, and used by every variant below: "
             "they differ only in keys that the stages up to this model do not read (tpt.stages).", "",
             "| variant | keys set otherwise than in " + owner + " |", "|---|---|"]
    for name, keys in variants.items():
        diff = "; ".join(f"`{k}`: {a!r} -> {b!r}" for k, (a, b) in sorted(keys.items())) or "(the owner)"
        lines.append(f"| {name} | {diff} |")
    return "\n".join(lines) + "\n"


def with_metrics(card, summary_row, scorings):
    """The card with its round's metrics (a row of report.summary's table) in place of the pointer to them."""
    head = card.split("## Evaluation")[0]
    summary_row = {**summary_row, "n": int(summary_row["n"])}
    rows = [f"| Pass@1 {s} | {100 * summary_row[f'pass@1_{s}']:.1f} ± {100 * summary_row[f'pass@1_{s}_stderr']:.1f} |"
            for s in scorings]
    rows += [f"| Pass@{summary_row['n']} strict | {100 * summary_row['pass@n_strict']:.1f} |",
             f"| Correct@{summary_row['n']} (majority) | {100 * summary_row['correct@n_strict']:.1f} |",
             f"| no answer | {100 * summary_row['no_answer_rate']:.1f}% |",
             f"| truncated | {100 * summary_row['truncation_rate']:.1f}% |"]
    return (head + "## Evaluation\n\n"
            f"On {int(summary_row['problems'])} test problems, {summary_row['n']} samples each (± one standard "
            "error over problems), in percent:\n\n| metric | value |\n|---|---|\n" + "\n".join(rows) + "\n")
