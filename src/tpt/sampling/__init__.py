"""Think / evaluate: sample n completions per problem from a model, with one recorded seed per sample.

Two backends behind one interface, writing the same artifact: `vllm` (GPU clusters; vLLM's CPU build in CI) and
`hf` (transformers' batched `generate`). Both get the same token ids: the prompt is rendered with the model's
chat template here, once, and tokenized without extra special tokens.
"""
import hashlib

import pandas as pd

from tpt import artifacts
from tpt.chat import render_prompt


def sample_seed(seed, phase, round_, problem_id, index):
    """A stable 31-bit seed for one sample, derived from the run's seed and the sample's identity, so it does not
    depend on sharding, batching or order."""
    key = f"{seed}/{phase}/{round_}/{problem_id}/{index}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") & 0x7FFFFFFF


def sample_id(phase, round_, problem_id, index):
    return f"{phase}/r{round_}/{problem_id}/{index}"


def select_problems(problems, round_, per_round, fresh, seed):
    """The train problems one think round uses. per_round None: all of them (the paper). Otherwise a seeded
    draw of per_round problems; with fresh=True, round i takes the i-th slice of one seeded shuffle, so rounds see
    disjoint problems until the pool runs out (then it wraps around)."""
    if per_round is None or per_round >= len(problems):
        return problems
    if fresh:
        order = problems.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        start = ((round_ - 1) * per_round) % len(order)
        rows = list(range(start, start + per_round))
        return order.iloc[[i % len(order) for i in rows]].reset_index(drop=True)
    return problems.sample(n=per_round, random_state=seed + round_).reset_index(drop=True)


def shard(problems, index, shards):
    """The problems of one generation shard: every shards-th problem, starting at index."""
    if not 0 <= index < shards:
        raise ValueError(f"shard {index} does not exist: there are {shards} shards (0..{shards - 1})")
    return problems.iloc[index::shards].reset_index(drop=True)


def gather(shard_samples):
    """Join the SAMPLES of all shards (in shard order) into the order an unsharded run writes: problems in their
    original order, then sample index. Since every sample's seed depends on its identity only, the result is the
    same artifact as an unsharded run's."""
    keyed = []
    for k, df in enumerate(shard_samples):
        df = df.copy()
        # problem j of shard k was problem j * shards + k of the whole list
        df["_order"] = pd.factorize(df["problem_id"])[0] * len(shard_samples) + k
        keyed.append(df)
    out = pd.concat(keyed, ignore_index=True).sort_values(["_order", "sample_index"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def gather_files(shard_paths, out_path, log_path):
    """The gather_samples rule (in Snakemake's own process): read the shards' SAMPLES, write the gathered artifact
    and say in log_path how many samples it holds."""
    shards = [artifacts.read(path, artifacts.SAMPLES) for path in shard_paths]
    samples = gather(shards)
    artifacts.write(samples, out_path, artifacts.SAMPLES)
    with open(log_path, "w") as f:
        f.write(f"{len(samples)} samples from {len(shards)} shards\n")


def make_requests(problems, prompt_fn, phase, round_, n, seed):
    """One row per sample to draw: n per problem, in problem order then sample index."""
    rows = []
    for problem_id, question in zip(problems["problem_id"], problems["question"]):
        prompt = prompt_fn(question)
        for i in range(n):
            rows.append({"sample_id": sample_id(phase, round_, problem_id, i), "problem_id": problem_id,
                         "phase": phase, "round": round_, "sample_index": i,
                         "seed": sample_seed(seed, phase, round_, problem_id, i), "prompt": prompt})
    return pd.DataFrame(rows)


def load_sampler(model_path, cfg, threads=None):
    """The configured backend's sampler for a model (hub id or folder). cfg: the config's `sampling` section."""
    if cfg["backend"] == "vllm":
        from tpt.sampling.vllm import VLLMSampler
        return VLLMSampler(model_path, cfg)
    from tpt.sampling.hf import HFSampler
    return HFSampler(model_path, cfg, threads=threads)


def round_temperature(settings, round_):
    """The sampling temperature of a phase in a round: think.temperatures[round - 1] when that list is set (its last
    value for later rounds), else the phase's temperature."""
    temps = settings.get("temperatures")
    if not temps:
        return settings["temperature"]
    return temps[min(round_, len(temps)) - 1]


def generate(sampler, requests, model_name, temperature, top_p, max_new_tokens):
    """Draw every requested sample. Returns the SAMPLES artifact as a DataFrame."""
    tok = sampler.tokenizer
    rendered = {p: render_prompt(tok, p) for p in requests["prompt"].unique()}
    token_ids = {p: tok(text, add_special_tokens=False)["input_ids"] for p, text in rendered.items()}
    too_long = [pid for pid, p in zip(requests["problem_id"], requests["prompt"])
                if len(token_ids[p]) + max_new_tokens > sampler.context]
    if too_long:
        raise ValueError(
            f"{len(set(too_long))} prompts do not leave room for max_new_tokens={max_new_tokens} in the model's "
            f"context of {sampler.context} tokens (first: {too_long[0]}): lower max_new_tokens, raise "
            "sampling.max_model_len where the model allows it, or drop those problems")
    out = sampler.generate([token_ids[p] for p in requests["prompt"]], requests["seed"].tolist(),
                           temperature, top_p, max_new_tokens)
    samples = requests.copy()
    samples["model"] = model_name
    samples["completion"] = [o[0] for o in out]
    samples["prompt_tokens"] = [o[1] for o in out]
    samples["completion_tokens"] = [o[2] for o in out]
    samples["finish_reason"] = [o[3] for o in out]
    samples["logprob"] = [o[4] for o in out]
    return samples
