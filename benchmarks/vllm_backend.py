"""How much the `vllm` backend costs over a bare vLLM script, on the same prompts and sampling settings.

    python benchmarks/vllm_backend.py [--model results/models/round_0] [--problems 200] [--n 8]

Both sides use one engine: the bare script asks for n samples per prompt in one request
(`SamplingParams(n=n, seed=...)`); the backend sends one request per sample with that sample's own seed, so
any sample can be regenerated alone. Each side runs --repeat times, alternating; the best time of each is kept.
"""
import argparse
import os
import time

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

from tpt import artifacts, paths, sampling, tasks  # noqa: E402
from tpt.chat import render_prompt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model", default=paths.model_dir("results", 0))  # the default run's base model
parser.add_argument("--problems-file", default=paths.problems("results", "test"))
parser.add_argument("--problems", type=int, default=200)
parser.add_argument("--n", type=int, default=8)
parser.add_argument("--max-new-tokens", type=int, default=96)
parser.add_argument("--repeat", type=int, default=3)
args = parser.parse_args()

cfg = {"backend": "vllm", "dtype": None, "max_model_len": None,
       "vllm": {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.9, "enforce_eager": True,
                "cpu_kvcache_gb": 1}}
sampler = sampling.load_sampler(args.model, cfg)
problems = artifacts.read(args.problems_file, artifacts.PROBLEMS).head(args.problems)
requests = sampling.make_requests(problems, tasks.get("arith").prompt, "eval", 0, args.n, seed=0)

from vllm import SamplingParams, TokensPrompt  # noqa: E402

prompt_ids = [sampler.tokenizer(render_prompt(sampler.tokenizer, q), add_special_tokens=False)["input_ids"]
              for q in problems["question"]]


def bare():
    params = SamplingParams(n=args.n, temperature=0.7, top_p=1.0, max_tokens=args.max_new_tokens, seed=0)
    outs = sampler.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids], params,
                                use_tqdm=False)
    return sum(len(o.token_ids) for out in outs for o in out.outputs)


def backend():
    samples = sampling.generate(sampler, requests, args.model, 0.7, 1.0, args.max_new_tokens)
    return int(samples["completion_tokens"].sum())


best = {"bare vLLM (n per request)": float("inf"), "tpt vllm backend (seed per sample)": float("inf")}
tokens = {}
for _ in range(args.repeat):
    for name, fn in zip(best, (bare, backend)):
        start = time.perf_counter()
        tokens[name] = fn()
        best[name] = min(best[name], time.perf_counter() - start)
print(f"{len(problems)} prompts x {args.n} samples, up to {args.max_new_tokens} new tokens, best of {args.repeat}")
for name, seconds in best.items():
    print(f"  {name:38s} {seconds:6.2f} s  {tokens[name] / seconds:8.0f} tokens/s")
base, ours = best.values()
print(f"  backend / bare: {ours / base:.3f}")
