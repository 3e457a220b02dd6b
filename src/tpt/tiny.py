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
    cfg = {**finetune_cfg, **builtin["warmup"], "method": "full", "max_length": builtin["max_length"]}
    return train.finetune(init_model, out_dir, rows, [], cfg, scratch_dir, threads=threads), len(rows)
