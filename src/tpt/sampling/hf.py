"""The `hf` sampling backend: batched `generate` from transformers, for CPUs and small runs.

Each sample draws its tokens from its own seeded generator, so a sample depends on its seed (and its prompt),
not on which other samples shared its batch: any sample can be regenerated alone from the seed recorded for it.
"""
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList
from transformers.utils import logging as hf_logging

from tpt.progress import Progress

hf_logging.disable_progress_bar()


class SeededSampling(LogitsProcessor):
    """Temperature + top-p sampling with one torch.Generator per row. It returns logits that are -inf except at
    the drawn token, so greedy decoding then emits exactly the drawn token. It records each step's log-probability
    of the drawn tokens under the model (temperature 1) in `logprobs`, a row per step."""

    def __init__(self, seeds, temperature, top_p):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.temperature, self.top_p = temperature, top_p
        self.logprobs = []

    def __call__(self, input_ids, scores):
        scores = scores.float()
        if self.temperature == 0:
            choice = scores.argmax(dim=-1, keepdim=True)
        else:
            probs = torch.softmax(scores / self.temperature, dim=-1)
            if self.top_p < 1.0:
                sorted_probs, order = probs.sort(dim=-1, descending=True)
                # drop tokens once the mass before them reaches top_p (the most likely token always stays)
                drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= self.top_p
                probs = probs.scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))
            # the generators live on the CPU (a GPU run draws there too: one draw per row is cheap)
            choice = torch.stack([torch.multinomial(p, 1, generator=g)
                                  for p, g in zip(probs.cpu(), self.generators)]).to(scores.device)
        self.logprobs.append(torch.log_softmax(scores, dim=-1).gather(-1, choice)[:, 0].cpu())
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, choice, 0.0)


class HFSampler:
    def __init__(self, model_path, cfg, threads=None):
        if threads:
            torch.set_num_threads(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if torch.cuda.is_available() and cfg.get("dtype") == "bfloat16" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).eval()
        if torch.cuda.is_available():
            self.model.cuda()
        self.batch_size = cfg["batch_size"]
        self.context = cfg.get("max_model_len") or self.model.config.max_position_embeddings
        # the tokens generation stops on: the model's generation_config.json list (Gemma-2-it's <eos> and
        # <end_of_turn>, Llama-3's <|eot_id|>...), as transformers' and vLLM's defaults, and the tokenizer's EOS
        eos = self.model.generation_config.eos_token_id
        self.stop_ids = sorted({self.tokenizer.eos_token_id} | set(eos if isinstance(eos, list) else [eos]) - {None})
        self.progress_interval_s = cfg.get("progress_interval_s", 60)

    def generate(self, prompts, seeds, temperature, top_p, max_new_tokens):
        """prompts: token ids of the chat-rendered prompts, one list per sample. Returns, per sample,
        (completion text, prompt tokens, completion tokens, finish reason 'stop' or 'length', mean log-prob)."""
        tok, stops = self.tokenizer, set(self.stop_ids)
        out = []
        progress = Progress("sampling", len(prompts), self.progress_interval_s)
        for start in range(0, len(prompts), self.batch_size):
            batch = tok.pad({"input_ids": prompts[start:start + self.batch_size]},
                            return_tensors="pt").to(self.model.device)
            sampler = SeededSampling(seeds[start:start + self.batch_size], temperature, top_p)
            with torch.no_grad():
                ids = self.model.generate(
                    **batch, do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=self.stop_ids,
                    pad_token_id=tok.pad_token_id, logits_processor=LogitsProcessorList([sampler]))
            new = ids[:, batch["input_ids"].shape[1]:].tolist()
            prompt_lens = batch["attention_mask"].sum(dim=1).tolist()
            steps = torch.stack(sampler.logprobs, dim=1)  # (row, step)
            for i, (row, n_prompt) in enumerate(zip(new, prompt_lens)):
                end = next((j for j, t in enumerate(row) if t in stops), None)
                stop = end is not None
                row = row[:end] if stop else row
                n = len(row) + int(stop)  # the tokens drawn: the stop token too, not the padding after it
                out.append((tok.decode(row, skip_special_tokens=True), n_prompt, n, "stop" if stop else "length",
                            steps[i, :n].mean().item() if n else float("nan")))
            progress.update(len(new), sum(o[2] for o in out[-len(new):]))
        return out
