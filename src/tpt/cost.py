"""Cost of a run: per round and per stage (tpt.stages), the wall and CPU seconds and peak memory that Snakemake
measured for each job (its `benchmark:` files, tpt.paths.benchmarks), the GPU-seconds asked for (GPUs of the job x
wall), the samples and tokens generated and the examples and tokens trained. The report writes it to its
cost.parquet (COST) with a table (rendered here: markdown and html) and a plot."""
import os
import re

import pandas as pd

from tpt import paths, stages


def read_benchmarks(bench_dir):
    """One row per job from the benchmark files: round (None for run-wide jobs: problems, judge self-test),
    stage (the file name without its shard: generate_think, verify_eval, finetune, ...), wall_s, cpu_s,
    peak_rss_mb, ran_by. base_model is round 0's. In an experiment a shared job's file is a link to the file of the
    variant that ran it (results/<experiment>/<variant>/benchmarks/...): ran_by is that variant, else empty."""
    rows = []
    for folder, _, files in os.walk(bench_dir):
        sub = os.path.relpath(folder, bench_dir)
        match = re.fullmatch(r"round_(\d+)", sub)
        for name in sorted(files):
            if not name.endswith(".tsv"):
                continue
            stage = re.sub(r"_\d+$", "", name[:-len(".tsv")])
            path = os.path.join(folder, name)
            table = pd.read_csv(path, sep="\t")
            ran_by = _ran_by(path) if os.path.islink(path) else ""
            round_ = int(match.group(1)) if match else (0 if stage == "base_model" else None)
            for _, b in table.iterrows():  # a file has one row per run (one, unless --benchmark-repeats)
                rows.append({"round": round_, "stage": stage, "wall_s": float(b["s"]),
                             "cpu_s": float(b.get("cpu_time", float("nan"))),
                             "peak_rss_mb": float(pd.to_numeric(b.get("max_rss"), errors="coerce")),
                             "ran_by": ran_by})
    return pd.DataFrame(rows, columns=["round", "stage", "wall_s", "cpu_s", "peak_rss_mb", "ran_by"])


def _ran_by(link):
    """The variant that ran a shared job: the name of the results folder whose benchmarks folder holds the file
    `link` points to (tpt.paths.benchmarks: <experiment>/<variant>/benchmarks/...)."""
    folder, name = os.path.dirname(os.path.realpath(link)), os.path.basename(paths.benchmarks(""))
    while os.path.basename(folder) != name and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return os.path.basename(os.path.dirname(folder))


def cost_table(benchmarks, resources, generated, trained):
    """The COST table: one row per (round, stage), summed over the stage's jobs (shards).

    benchmarks: read_benchmarks' rows; resources: the config's resources section; generated: {(round, stage name):
    SAMPLES frame} (their token counts are summed onto that stage's row: generate_think, generate_eval, probe);
    trained: {round: (SFT train frame,
    the think SAMPLES its examples come from: this round's and, with prune.accumulate, earlier rounds', epochs,
    tokenizer)}: examples trained, and tokens trained = epochs x (prompt +
    completion + EOS) tokens of each example: the prompt's as sampled, the completion's by `tokenizer`
    (load_tokenizer; None: as sampled)."""
    b = benchmarks.copy()
    b["gpu_s"] = [stages.gpus(s, resources) * w for s, w in zip(b["stage"], b["wall_s"])]
    b["round"] = b["round"].astype("Int64")
    if "ran_by" not in b:
        b["ran_by"] = ""
    table = (b.groupby(["round", "stage"], dropna=False, sort=False)
             .agg(jobs=("wall_s", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"),
                  peak_rss_mb=("peak_rss_mb", "max"), gpu_s=("gpu_s", "sum"),
                  ran_by=("ran_by", lambda v: ",".join(sorted(set(v) - {""})))).reset_index())
    for column in ("samples", "prompt_tokens", "completion_tokens", "train_examples", "train_tokens"):
        table[column] = 0
    for (round_, stage), samples in generated.items():
        row = _row(table, round_, stage)
        table.loc[row, ["samples", "prompt_tokens", "completion_tokens"]] = [
            len(samples), int(samples["prompt_tokens"].sum()), int(samples["completion_tokens"].sum())]
    for round_, (sft, think, epochs, tokenizer) in trained.items():
        prompts = think.set_index("sample_id").loc[sft["sample_id"], "prompt_tokens"]
        if tokenizer is not None:  # the completions as training tokenizes them (+ its EOS)
            completions = [len(e.ids) + 1 for e in tokenizer.encode_batch(sft["completion"].tolist(),
                                                                          add_special_tokens=False)]
        else:  # as sampled (a re-tokenized text can differ by a token or two)
            completions = think.set_index("sample_id").loc[sft["sample_id"], "completion_tokens"] + 1
        row = _row(table, round_, "finetune")
        table.loc[row, ["train_examples", "train_tokens"]] = [
            len(sft), int(round(epochs * (int(prompts.sum()) + int(sum(completions)))))]
    order = {s.name: i for i, s in enumerate(stages.STAGES)}
    table["_o"] = [order.get(s, len(order)) for s in table["stage"]]
    table = table.sort_values(["round", "_o"], na_position="first").drop(columns="_o").reset_index(drop=True)
    return table


def load_tokenizer(model_dir):
    """The fast tokenizer of a saved model folder (tokenizer.json) with the `tokenizers` library alone (no torch,
    no transformers: the report stays light), or None."""
    path = os.path.join(model_dir, "tokenizer.json")
    if not os.path.exists(path):
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def _row(table, round_, stage):
    hit = table.index[(table["round"] == round_) & (table["stage"] == stage)]
    if len(hit):
        return hit[0]
    table.loc[len(table)] = {"round": round_, "stage": stage, "jobs": 0, "wall_s": 0.0, "cpu_s": 0.0,
                             "peak_rss_mb": float("nan"), "gpu_s": 0.0, "ran_by": ""}  # a job without a benchmark file
    return len(table) - 1


def per_round(table):
    """The COST table summed per round (run-wide jobs under round "-"), with a total row."""
    sums = dict(jobs="sum", wall_s="sum", cpu_s="sum", peak_rss_mb="max", gpu_s="sum", samples="sum",
                prompt_tokens="sum", completion_tokens="sum", train_examples="sum", train_tokens="sum")
    t = table.assign(round=table["round"].astype("string").fillna("-"))
    out = t.groupby("round", sort=False).agg(sums).reset_index()
    total = t.agg(sums).to_frame().T
    total.insert(0, "round", "total")
    return pd.concat([out, total], ignore_index=True)


def markdown(table):
    """The per-round cost table in Markdown (hours for GPUs, minutes for wall and CPU time)."""
    lines = ["| round | jobs | wall (min) | CPU (min) | peak memory (MB) | GPU-hours | samples | prompt tokens | "
             "completion tokens | examples trained | tokens trained |", "|---" * 11 + "|"]
    for r in per_round(table).to_dict("records"):
        lines.append(f"| {r['round']} | {int(r['jobs'])} | {r['wall_s'] / 60:.1f} | {r['cpu_s'] / 60:.1f} | "
                     f"{r['peak_rss_mb']:.0f} | {r['gpu_s'] / 3600:.2f} | {int(r['samples']):,} | "
                     f"{int(r['prompt_tokens']):,} | {int(r['completion_tokens']):,} | {int(r['train_examples']):,} | "
                     f"{int(r['train_tokens']):,} |")
    return "\n".join(lines) + "\n"


def line(table, path):
    """One sentence for summary.md; path: where the COST table is (the report's cost.parquet)."""
    t = per_round(table).iloc[-1]
    shared = table[table["ran_by"].fillna("") != ""] if "ran_by" in table else table.head(0)
    by = ", ".join(sorted(set(",".join(shared["ran_by"]).split(",")))) if len(shared) else ""
    return (f"Cost: {t['wall_s'] / 60:.1f} min of job wall time ({t['cpu_s'] / 60:.1f} CPU min, "
            f"{t['gpu_s'] / 3600:.2f} GPU-hours asked, peak memory of a job {t['peak_rss_mb']:.0f} MB); "
            f"{int(t['samples']):,} samples generated ({int(t['prompt_tokens']):,} prompt and "
            f"{int(t['completion_tokens']):,} completion tokens), {int(t['train_examples']):,} examples and "
            f"{int(t['train_tokens']):,} tokens trained ({path})."
            + (f" Of these, {int(shared['jobs'].sum())} jobs ({shared['wall_s'].sum() / 60:.1f} min) are shared: run "
               f"by variant {by} of the experiment, counted here too." if len(shared) else ""))


def html(costs, path):
    """The per-round cost table as a small HTML page, which Snakemake's report shows inline; path: where the COST
    table is (the report's cost.parquet)."""
    t = per_round(costs)
    shown = pd.DataFrame({
        "round": t["round"], "jobs": t["jobs"].astype(int),
        "wall (min)": (t["wall_s"] / 60).round(1), "CPU (min)": (t["cpu_s"] / 60).round(1),
        "peak memory (MB)": t["peak_rss_mb"].map("{:,.0f}".format),
        "GPU-hours": (t["gpu_s"] / 3600).map("{:.2f}".format),
        **{name: t[col].astype(int).map("{:,}".format) for name, col in [
            ("samples", "samples"), ("prompt tokens", "prompt_tokens"), ("completion tokens", "completion_tokens"),
            ("examples trained", "train_examples"), ("tokens trained", "train_tokens")]}})
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>cost</title><style>"
            "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
            "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}</style></head><body>"
            "<h3>Cost per round</h3>" + shown.to_html(index=False, border=0) +
            f"<p>Round - : run-wide jobs (problems, judge self-test). Per stage: {path}.</p>"
            "</body></html>\n")
