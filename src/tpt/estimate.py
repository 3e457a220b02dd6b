"""tpt-estimate: what a run will cost, before submitting it.

    tpt-estimate --configfile config/presets/gsm8k-gemma2-2b.yaml

Per round it prints the samples to draw (think and eval), their prompt tokens (counted exactly: the task's
problems rendered with the model's chat template and tokenizer), their completion tokens (an assumption, stated
in the output: as long as the task's gold worked solutions, capped at max_new_tokens, or --completion-tokens), the
examples trained (an assumption on how many samples survive pruning: --pass-rate) and the tokens trained, and the
hours these take at the throughputs given (--generate-tokens-per-s, --train-tokens-per-s per GPU; the defaults and
their sources are in DEFAULT_THROUGHPUT), times the GPUs each job asks for (the config's resources).
Compare with a finished run's cost.parquet (in its report folder).
"""
import argparse
import copy
import os
import re
import sys

import pandas as pd
import yaml

# Default throughputs per GPU for a model of P billion parameters, and where the figures come from. Rough: measure
# your own (a finished round's cost.parquet has tokens and wall seconds per stage) and pass them on the command line.
DEFAULT_THROUGHPUT = {
    # vLLM, bf16, one H100: ~12,500 output tokens/s for Llama-3.1-8B (third-party benchmarks collected at
    # https://www.morphllm.com/vllm-benchmarks, 2026); decoding is memory-bound, so scaled by 8 / P.
    "generate": lambda p: 12_500 * 8 / p,
    # full fine-tuning: 6 P FLOPs per token trained (Kaplan et al., 2020) at 40% of an H100's 989 dense bf16
    # TFLOP/s (NVIDIA's H100 SXM datasheet).
    "train": lambda p: 0.4 * 989e12 / (6 * p * 1e9),
}
# The built-in task's tiny model runs on CPU cores: the README's measurements on 2 cores (the hf backend samples
# about 6,000 tokens/s; the default run's fine-tunes trained 3 epochs of ~1,000 examples in ~32 s).
BUILTIN_THROUGHPUT = {"generate": 6_000, "train": 10_000}


def load_config(configfiles, workflow_dir):
    """The config a run gets, as the Snakefile builds it: the --configfile files layered in order (config.yaml, the
    default run, only when none is given), then the schema's defaults."""
    from snakemake.utils import validate

    from tpt.config import check

    config = {}
    for path in configfiles or [os.path.join(workflow_dir, "config.yaml")]:
        with open(path) as f:
            config = _merge(config, yaml.safe_load(f) or {})
    validate(config, os.path.join(workflow_dir, "workflow", "schemas", "config.schema.yaml"))
    return check(config)


def _merge(base, extra):
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_tokenizer(config, tokenizer=None):
    """The tokenizer generation will use: --tokenizer, the base model's (hub id or folder), or for the built-in
    model the run's own base model if it exists, else the same word-level tokenizer base_model builds."""
    from transformers import AutoTokenizer

    base = config["model"]["base"]
    if tokenizer:
        return AutoTokenizer.from_pretrained(tokenizer)
    if base != "builtin":
        return AutoTokenizer.from_pretrained(base)
    from tpt import paths, tasks, tiny

    made = paths.model_dir(config["results"], 0)
    if os.path.exists(os.path.join(made, "tokenizer_config.json")):
        return AutoTokenizer.from_pretrained(made)

    warmup = tasks.get("arith").load("warmup", config["task"]["arith"])
    return tiny.build_tokenizer(warmup["question"] + "\n" + warmup["solution"])


def estimate(config, tokenizer, pass_rate=None, completion_tokens=None):
    """One row per round: samples, prompt and completion tokens of think and eval, examples and tokens trained.
    Returns (table, assumptions: a list of sentences)."""
    from tpt import sampling, tasks
    from tpt.chat import render_prompt

    # the task as the problems rule makes it: from the registry, configured, with its options (task.<name> or, for
    # a task package, task.options)
    task, options = tasks.from_config(config["task"]), tasks.options_of(config["task"])
    problems = {split: task.load(split, options) for split in ("train", "test")}
    cache = {}

    def prompt_tokens(question):
        if question not in cache:
            cache[question] = len(tokenizer(render_prompt(tokenizer, task.prompt(question)),
                                            add_special_tokens=False)["input_ids"])
        return cache[question]

    assumptions = []
    solutions = problems["train"]["solution"].dropna() if "solution" in problems["train"] else pd.Series([], dtype=str)
    solutions = solutions[solutions.str.len() > 0]
    gold = (sum(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in solutions[:2000])
            / min(len(solutions), 2000)) if len(solutions) else None

    def completion_length(phase):
        cap = config[phase]["max_new_tokens"]
        if completion_tokens is not None:
            return min(completion_tokens, cap)
        return min(gold + 1, cap) if gold else cap / 2  # + 1: the end-of-sequence token

    if completion_tokens is not None:
        assumptions.append(f"completions: {completion_tokens} tokens each (--completion-tokens), capped at "
                           "max_new_tokens")
    elif gold:
        assumptions.append(f"completions: as long as the task's gold worked solutions ({gold:.0f} tokens on "
                           "average) plus an end token, capped at max_new_tokens")
    else:
        assumptions.append("completions: half of max_new_tokens (the task has no gold solutions to measure)")
    prune, ft = config["prune"], config["finetune"]
    if pass_rate is None:
        pass_rate = 1.0 if prune["strategy"] == "none" else 0.5
    assumptions.append(f"pruning keeps {pass_rate:.0%} of the samples of a problem"
                       + (" (strategy none: all)" if prune["strategy"] == "none" else " (--pass-rate)")
                       + (f", at most {prune['per_problem']} per problem" if prune["per_problem"] else ""))

    auto = config["think"]["auto_temperature"]
    if auto["grid"]:
        assumptions.append(f"think samples include the temperature probe's (think.auto_temperature: up to "
                           f"{auto['probe_problems']} problems x {len(auto['grid'])} temperatures)")
    rows = []
    for round_ in range(config["rounds"] + 1):
        row = {"round": round_}
        if round_ > 0:
            think = sampling.select_problems(problems["train"], round_, config["think"]["problems_per_round"],
                                             config["think"]["fresh_problems"], config["seed"])
            n = config["think"]["n"]
            prompts = [prompt_tokens(q) for q in think["question"]]
            # think.auto_temperature: the probe's samples (n per probe problem at each temperature of the grid),
            # drawn by the same model from the same problems, count as think's
            probed = prompts[:auto["probe_problems"]] * len(auto["grid"]) if auto["grid"] else []
            row.update(think_samples=(len(think) + len(probed)) * n, think_prompt_tokens=n * sum(prompts + probed),
                       think_completion_tokens=round((len(think) + len(probed)) * n * completion_length("think")))
            kept = n * pass_rate
            kept = min(kept, prune["per_problem"]) if prune["per_problem"] else kept
            examples = len(think) * kept
            if prune["size"]:
                examples = min(examples, prune["size"] + prune["val_size"])
            val = min(prune["val_size"], examples)  # held out by problem: about val_size examples
            examples -= val
            per_example = sum(prompts) / len(prompts) + completion_length("think") + 1  # + the EOS trained on
            row.update(train_examples=round(examples), train_tokens=round(examples * per_example * ft["epochs"]))
        test = problems["test"]
        n = config["eval"]["n"]
        row.update(eval_samples=len(test) * n, eval_prompt_tokens=n * sum(prompt_tokens(q) for q in test["question"]),
                   eval_completion_tokens=round(len(test) * n * completion_length("eval")))
        rows.append(row)
    table = pd.DataFrame(rows).fillna(0).astype(int)
    return table, assumptions


def hours(table, config, generate_tokens_per_s, train_tokens_per_s):
    """Job hours and GPU-hours per round at the given throughputs (per GPU; a job with no GPU counts as one)."""
    res = config["resources"]
    gen_gpus, ft_gpus = res["generate"]["gpu"], res["finetune"]["gpu"] * res["finetune"]["nodes"]
    generated = table["think_completion_tokens"] + table["eval_completion_tokens"]
    gen_h = generated / (generate_tokens_per_s * max(gen_gpus, 1)) / 3600
    train_h = table["train_tokens"] / (train_tokens_per_s * max(ft_gpus, 1)) / 3600
    return pd.DataFrame({"round": table["round"], "generate_hours": gen_h, "train_hours": train_h,
                         "gpu_hours": gen_h * gen_gpus + train_h * ft_gpus})


def render(table, h):
    """The estimate as a text table: one line per round and a total."""
    t = pd.concat([table, h.drop(columns="round")], axis=1)
    t = pd.concat([t, t.drop(columns="round").sum().to_frame().T.assign(round="total")], ignore_index=True)
    columns = [("round", "round", str), ("think samples", "think_samples", "{:,.0f}"),
               ("think prompt tok", "think_prompt_tokens", "{:,.0f}"),
               ("think completion tok", "think_completion_tokens", "{:,.0f}"),
               ("eval samples", "eval_samples", "{:,.0f}"), ("eval prompt tok", "eval_prompt_tokens", "{:,.0f}"),
               ("eval completion tok", "eval_completion_tokens", "{:,.0f}"),
               ("examples trained", "train_examples", "{:,.0f}"), ("tokens trained", "train_tokens", "{:,.0f}"),
               ("generate h", "generate_hours", "{:.3g}"), ("train h", "train_hours", "{:.3g}"),
               ("GPU-hours", "gpu_hours", "{:.3g}")]
    cells = [[name for name, _, _ in columns]] + [
        [fmt(r[col]) if callable(fmt) else fmt.format(float(r[col])) for _, col, fmt in columns]
        for r in t.to_dict("records")]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)


def model_billions(config, override=None):
    """The base model's size in billions of parameters: --params-b, else read from its name (gemma-2-9b-it: 9)."""
    if override:
        return override
    found = re.findall(r"(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", config["model"]["base"].split("/")[-1])
    if not found:
        raise SystemExit(f"tpt-estimate: cannot tell the size of model.base={config['model']['base']!r} from its "
                         "name: give --params-b (billions of parameters) or the throughputs")
    return float(found[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tpt-estimate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", nargs="*", default=[], help="config files, later ones winning (as snakemake's --configfile; none: config.yaml)")
    parser.add_argument("--workflow-dir", default=".", help="the workflow's folder (with config.yaml)")
    parser.add_argument("--tokenizer", help="tokenizer to count prompt tokens with (default: the base model's)")
    parser.add_argument("--pass-rate", type=float, help="share of a problem's samples that survive pruning "
                        "(default 0.5; 1 for prune.strategy none)")
    parser.add_argument("--completion-tokens", type=int, help="assumed tokens per completion (default: as long "
                        "as the task's gold solutions)")
    parser.add_argument("--generate-tokens-per-s", type=float, help="completion tokens/s of one GPU (default: "
                        "see DEFAULT_THROUGHPUT in tpt/estimate.py)")
    parser.add_argument("--train-tokens-per-s", type=float, help="tokens trained/s of one GPU")
    parser.add_argument("--params-b", type=float, help="model size in billions (for the default throughputs)")
    args = parser.parse_args(argv)

    config = load_config(args.configfile, args.workflow_dir)
    table, assumptions = estimate(config, load_tokenizer(config, args.tokenizer), args.pass_rate,
                                  args.completion_tokens)
    if config["model"]["base"] == "builtin":
        gen, trn, source = BUILTIN_THROUGHPUT["generate"], BUILTIN_THROUGHPUT["train"], "the README's CPU figures"
    else:
        p = model_billions(config, args.params_b) if not (args.generate_tokens_per_s and args.train_tokens_per_s) \
            else None
        gen = args.generate_tokens_per_s or DEFAULT_THROUGHPUT["generate"](p)
        trn = args.train_tokens_per_s or DEFAULT_THROUGHPUT["train"](p)
        source = "given" if args.generate_tokens_per_s and args.train_tokens_per_s else \
            f"defaults for a {p:g}B model (sources in tpt/estimate.py)"
    gen = args.generate_tokens_per_s or gen
    trn = args.train_tokens_per_s or trn
    h = hours(table, config, gen, trn)
    print(render(table, h))
    print("\nassumptions:")
    for line in assumptions + [f"throughput: {gen:,.0f} completion tokens/s and {trn:,.0f} tokens trained/s per GPU "
                               f"({source}); GPUs per job from resources.generate/finetune"]:
        print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
