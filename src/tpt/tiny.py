"""A tiny base model made locally for the built-in task: a word-level tokenizer and a small Llama.

No hub, no download: the tokenizer is trained with `tokenizers` on the task's own text, the model is a
`LlamaConfig` with random weights, and both are saved in HF format, which transformers and vLLM load alike.
"""
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL = {"pad": "<|pad|>", "unk": "<|unk|>", "end": "<|end|>", "user": "<|user|>", "assistant": "<|assistant|>"}

# One turn per message; an assistant turn ends with the end token, which is also EOS.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] }}"
    "{% if m['role'] == 'assistant' %}{{ '<|end|>' }}{% endif %}{{ '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}")


def build_tokenizer(texts, max_number=200):
    """A word-level tokenizer over GPT-2 style byte-level words (so decoding restores the text exactly).
    Every number up to max_number gets a token, with and without a leading space, seen in `texts` or not."""
    tok = Tokenizer(models.WordLevel(unk_token=SPECIAL["unk"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    numbers = " ".join(str(i) for i in range(max_number + 1))
    trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIAL.values()))
    tok.train_from_iterator(list(texts) + [numbers, numbers.replace(" ", "\n")], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=SPECIAL["pad"], unk_token=SPECIAL["unk"], eos_token=SPECIAL["end"],
        chat_template=CHAT_TEMPLATE, model_max_length=512)


def build_model(tokenizer, hidden_size=128, intermediate_size=512, num_layers=4, num_heads=4, max_length=512,
                seed=0):
    """A small Llama with random weights. head_dim = hidden/heads must be one vLLM's CPU attention supports
    (32, 64, 80, 96, 112, 128...)."""
    import torch

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
        max_position_embeddings=max_length, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=None, eos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config)


# The base model of the built-in task (rule base_model; the tests' tiny_model fixture builds the untrained one).

def build(warmup, sizes, seed=0):
    """The tokenizer and the untrained model of the built-in task: the tokenizer learns the words of the warm-up
    problems (questions and solutions), the model has the sizes of the config's model.builtin (hidden_size,
    intermediate_size, num_layers, num_heads, max_length). Returns (tokenizer, model)."""
    tokenizer = build_tokenizer(warmup["question"] + "\n" + warmup["solution"])
    model = build_model(tokenizer, sizes["hidden_size"], sizes["intermediate_size"], sizes["num_layers"],
                        sizes["num_heads"], sizes["max_length"], seed=seed)
    return tokenizer, model


def warm_up(init_model, out_dir, warmup, builtin, finetune_cfg, scratch_dir, threads=None):
    """Fine-tune the untrained model (a folder) on the warm-up problems' worked solutions (the sloppy teacher's),
    so that the base model half knows the task, and save it at out_dir. builtin is the config's model.builtin (its
    `warmup` section overrides the finetune settings), finetune_cfg the config's finetune. Returns the training
    figures (tpt.train.finetune) and the number of examples."""
    from tpt import train
    from tpt.tasks import arith

    rows = [{"sample_id": pid, "prompt": arith.prompt(q), "completion": s}
            for pid, q, s in zip(warmup["problem_id"], warmup["question"], warmup["solution"])]
    cfg = {**finetune_cfg, **builtin["warmup"], "method": "full", "max_length": builtin["max_length"], "loss": "ce"}
    return train.finetune(init_model, out_dir, rows, [], cfg, scratch_dir, threads=threads), len(rows)


# ---- Miniatures of real model families (the rehearsal, tpt.rehearsal) ----
# A miniature keeps a family's config.json as published (architecture class, layer kinds, RoPE settings,
# soft-capping, sliding window, tied embeddings, dtype, context length) at a tiny width and depth, and its
# tokenizer_config.json (chat template, special tokens and their roles, BOS/EOS settings) and
# generation_config.json, with the token ids remapped to a small tokenizer of the family's kind trained on the
# task's own text. The family files are in tpt/families/<model>/ (see SOURCES.md there).

# The tokenizer kind of each model_type: SentencePiece-style BPE with byte fallback (Gemma), or byte-level BPE
# (Llama-3's tiktoken-style and Qwen2's).
TOKENIZER_KIND = {"gemma2": "byte_fallback_bpe", "gemma": "byte_fallback_bpe", "llama": "byte_level_bpe",
                  "qwen2": "byte_level_bpe", "mistral": "byte_fallback_bpe"}
# What a miniature keeps small: 2 layers (Gemma-2 alternates sliding-window and global layers: both kinds),
# head_dim 64 (one vLLM's CPU attention supports).
MINI_SIZES = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2,
              "num_key_value_heads": 1, "head_dim": 64}


def family_tokenizer(kind, texts, specials, tokenizer_config, vocab_size=1024):
    """A tokenizer of the family's kind learnt from `texts`, with the family's special tokens (in the order of
    their real ids) as its first ids and the tokenizer_config's roles (bos, eos, pad, unk), chat template and
    BOS setting. Returns a PreTrainedTokenizerFast."""
    import json

    from tokenizers import processors

    if kind == "byte_level_bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(texts, trainer=trainer)
    elif kind == "byte_fallback_bpe":  # SentencePiece-style: "▁" for spaces, unknown characters as <0xNN> bytes
        unk = tokenizer_config.get("unk_token")
        tok = Tokenizer(models.BPE(unk_token=unk, byte_fallback=True, fuse_unk=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Metaspace(replacement="▁", prepend_scheme="never")])
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
        tok.train_from_iterator(texts, trainer=trainer)
        # the 256 byte tokens <0x00>..<0xFF> that byte fallback writes, as ordinary vocabulary
        spec = json.loads(tok.to_str())
        vocab = spec["model"]["vocab"]
        for b in range(256):
            vocab.setdefault(f"<0x{b:02X}>", len(vocab))
        tok = Tokenizer.from_str(json.dumps(spec))
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}: one of byte_level_bpe, byte_fallback_bpe")
    bos = tokenizer_config.get("bos_token")
    if tokenizer_config.get("add_bos_token") and bos:  # the tokenizer puts BOS before a text it encodes
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))])
    roles = {k: tokenizer_config.get(k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
    return PreTrainedTokenizerFast(tokenizer_object=tok, chat_template=tokenizer_config["chat_template"],
                                   model_max_length=tokenizer_config.get("model_max_length"),
                                   **{k: v for k, v in roles.items() if v})


def _remap(value, ids):
    """A token id (or list of them) of the real model as the miniature's id(s); ids: real id -> new id."""
    if isinstance(value, list):
        return [ids[str(v)] for v in value if str(v) in ids]
    return ids.get(str(value)) if value is not None else None


def build_miniature(family, texts, out_dir, seed=0, sizes=None):
    """The untrained miniature of a family (a dict of its config, tokenizer_config and generation_config, as
    tpt.rehearsal.family loads them), with a tokenizer learnt from `texts`, saved at out_dir in the family's
    dtype. Returns (tokenizer, model)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    config, tok_cfg, gen_cfg = family["config"], family["tokenizer_config"], family["generation_config"]
    added = tok_cfg.get("added_tokens", {})  # real id -> special token, in the order of the real ids
    specials = [added[k] for k in sorted(added, key=int)]
    tokenizer = family_tokenizer(TOKENIZER_KIND[config["model_type"]], texts, specials, tok_cfg)
    ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in added.items()}

    fields = {k: v for k, v in config.items() if k not in ("architectures", "model_type", "transformers_version")}
    fields.update(MINI_SIZES if sizes is None else sizes)
    fields["vocab_size"] = len(tokenizer)
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if key in fields:
            fields[key] = _remap(fields[key], ids)
    if "max_window_layers" in fields:  # Qwen2: layers past this one would use the sliding window
        fields["max_window_layers"] = min(fields["max_window_layers"], fields["num_hidden_layers"])
    dtype = fields.pop("torch_dtype", None) or fields.pop("dtype", None) or "float32"
    model_config = AutoConfig.for_model(config["model_type"], **fields)
    model_config.architectures = config["architectures"]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(model_config, dtype=torch.float32)
    gen = {k: _remap(v, ids) if k.endswith("token_id") else v for k, v in gen_cfg.items()
           if k != "transformers_version"}
    model.generation_config = GenerationConfig(**gen)
    model = model.to(getattr(torch, dtype))
    from tpt import train

    train.save_model(model, tokenizer, out_dir)
    return tokenizer, model
