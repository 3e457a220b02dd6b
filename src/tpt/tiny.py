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
