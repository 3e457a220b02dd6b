"""The one place a prompt becomes model input, so generation and training see exactly the same text."""


def render_prompt(tokenizer, prompt):
    """The user's prompt wrapped in the model's chat template, ending where the assistant's answer starts."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"the tokenizer of {tokenizer.name_or_path!r} has no chat template: use an instruct model, or make a "
            "local copy of the model (model.base: its folder) with a Jinja template in chat_template.jinja")
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
