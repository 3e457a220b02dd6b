"""The one place a prompt becomes model input, so generation and training see exactly the same text."""

FIXED_DATE = "26 Jul 2024"  # the date a template that writes one (Llama-3.x) gets: Llama-3.2's fallback date


def render_prompt(tokenizer, prompt):
    """The user's prompt wrapped in the model's chat template, ending where the assistant's answer starts."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"the tokenizer of {tokenizer.name_or_path!r} has no chat template: use an instruct model, or make a "
            "local copy of the model (model.base: its folder) with a Jinja template in chat_template.jinja")
    # date_string: Llama-3.2's template writes today's date into every prompt (strftime_now) unless given one; a
    # fixed date keeps a prompt the same on every day, so samples depend on their seeds only and a fine-tune
    # trains on the prompt that was sampled (the template's own fallback date; templates without it ignore it)
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True, date_string=FIXED_DATE)
