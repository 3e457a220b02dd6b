"""The `vllm` sampling backend: vLLM's offline engine, for GPU clusters (and its CPU build, which CI tests).

Each sample is its own request with its own seed (vLLM's per-request `SamplingParams.seed`), so any sample can be
regenerated alone; requests sharing a prompt reuse its KV cache through prefix caching.
"""
import os

from tpt.progress import Progress, VLLMBar


class VLLMSampler:
    def __init__(self, model_path, cfg):
        import torch

        cpu = not torch.cuda.is_available()
        v = cfg["vllm"]
        tp = v["tensor_parallel_size"]
        if cpu:
            # vLLM's CPU build: a fixed KV-cache size (not a fraction of device memory), and the engine in this
            # process (it starts in seconds, and a Snakemake script needs no __main__ guard)
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(v["cpu_kvcache_gb"]))
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            if tp > 1:  # one worker process per shard, each bound to its own share of the job's cores
                os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", cpu_binding(sorted(os.sched_getaffinity(0)), tp))
        elif tp > torch.cuda.device_count():
            raise ValueError(f"sampling.vllm.tensor_parallel_size={tp} splits the model over {tp} GPUs, and this "
                             f"job sees {torch.cuda.device_count()}: set resources.generate.gpu to {tp} (on a "
                             "cluster), or lower sampling.vllm.tensor_parallel_size")
        from vllm import LLM

        self.llm = LLM(
            model=model_path, tokenizer=model_path, dtype=cfg.get("dtype") or "auto",
            tensor_parallel_size=v["tensor_parallel_size"], gpu_memory_utilization=v["gpu_memory_utilization"],
            max_model_len=cfg.get("max_model_len"), enforce_eager=v["enforce_eager"],
            enable_prefix_caching=True, seed=0,
            # vLLM's CPU build cannot rewind a seeded request's generator after a partial (chunked) prefill
            enable_chunked_prefill=not cpu)
        self.tokenizer = self.llm.get_tokenizer()
        self.context = self.llm.llm_engine.model_config.max_model_len
        self.progress_interval_s = cfg.get("progress_interval_s", 60)

    def generate(self, prompts, seeds, temperature, top_p, max_new_tokens):
        """prompts: token ids of the chat-rendered prompts, one list per sample. Returns, per sample,
        (completion text, prompt tokens, completion tokens, finish reason 'stop' or 'length', mean log-prob)."""
        from vllm import SamplingParams, TokensPrompt

        # logprobs=0: the drawn token's log-probability only (vLLM's default logprobs_mode, raw_logprobs: the
        # model's, before temperature and top-p), summed in cumulative_logprob
        params = [SamplingParams(n=1, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                                 seed=int(seed), logprobs=0) for seed in seeds]
        # vLLM's own bar redraws a terminal line; our stand-in logs a line every progress_interval_s instead
        bar = VLLMBar(Progress("sampling", len(prompts), self.progress_interval_s))
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompts], params, use_tqdm=bar)
        result = []
        for out in outs:
            o = out.outputs[0]
            # vLLM reports "stop" for EOS and stop strings, "length" when max_tokens cut the sample
            n = len(o.token_ids)
            result.append((o.text, len(out.prompt_token_ids), n, "length" if o.finish_reason == "length" else "stop",
                           o.cumulative_logprob / n if n and o.cumulative_logprob is not None else float("nan")))
        return result


def cpu_binding(cores, tp):
    """VLLM_CPU_OMP_THREADS_BIND for tp CPU workers: the job's cores split in tp contiguous groups ("0|1",
    "0,1,2,3|4,5,6,7"). vLLM's own default binds one NUMA node per worker, so it stops with one node and tp > 1."""
    if len(cores) < tp:
        raise ValueError(f"sampling.vllm.tensor_parallel_size={tp} runs {tp} CPU worker processes, and this job has "
                         f"{len(cores)} core(s): lower sampling.vllm.tensor_parallel_size to {len(cores)} or less, "
                         "or give the generate job more cores (threads.generate)")
    per = len(cores) // tp
    return "|".join(",".join(str(c) for c in cores[i * per:(i + 1) * per]) for i in range(tp))
