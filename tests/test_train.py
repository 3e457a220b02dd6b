import os

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from tpt import train
from tpt.chat import render_prompt

CFG = {"method": "full", "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
       "epochs": 2, "learning_rate": 1e-3, "lr_scheduler": "cosine", "warmup_ratio": 0.1, "batch_size": 4,
       "grad_accum": 1, "weight_decay": 0.0, "max_grad_norm": 1.0, "max_length": 128, "bf16": True, "seed": 0,
       "save_steps": 2, "logging_steps": 1}
ROWS = [{"sample_id": f"s{i}", "prompt": f"Mia has {i} apples. How many apples does Mia have now?",
         "completion": f"She has {i}.\n#### {i}"} for i in range(2, 10)]


def test_loss_is_on_the_completion_and_its_end_token_only(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    [f] = train.encode(tok, ROWS[:1], 128)
    prompt_len = len(tok(render_prompt(tok, ROWS[0]["prompt"]), add_special_tokens=False)["input_ids"])
    assert f["labels"][:prompt_len] == [train.IGNORE] * prompt_len
    assert f["labels"][prompt_len:] == f["input_ids"][prompt_len:]
    assert f["input_ids"][-1] == tok.eos_token_id
    assert tok.decode(f["input_ids"][prompt_len:-1]) == ROWS[0]["completion"]


def test_a_tokenizer_without_chat_template_is_refused_with_the_fix_that_works(tiny_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    template = tok.chat_template
    tok.chat_template = None
    tok.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no chat template.*a Jinja template in chat_template.jinja"):
        render_prompt(AutoTokenizer.from_pretrained(str(tmp_path)), "Mia has 2 apples.")
    (tmp_path / "chat_template.jinja").write_text(template)  # the message's fix
    fixed = render_prompt(AutoTokenizer.from_pretrained(str(tmp_path)), "Mia has 2 apples.")
    assert fixed == render_prompt(AutoTokenizer.from_pretrained(tiny_model), "Mia has 2 apples.")


def test_too_long_examples_are_named(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    with pytest.raises(ValueError, match="s2 has .* tokens, more than finetune.max_length=10"):
        train.encode(tok, ROWS[:1], 10)


def test_full_finetune_learns_and_saves_a_loadable_model(tiny_model, tmp_path):
    out = str(tmp_path / "m1")
    figures = train.finetune(tiny_model, out, ROWS, ROWS[:2], {**CFG, "epochs": 4}, str(tmp_path / "scratch"))
    assert figures["steps"] == 8 and figures["eval_loss"] < figures["train_loss"] * 1.5
    assert os.path.exists(os.path.join(out, "config.json")) and not os.path.exists(str(tmp_path / "scratch"))
    AutoModelForCausalLM.from_pretrained(out)


def _mean_loss(path, rows):
    """The model's mean loss (completion tokens) on rows."""
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        losses = [model(input_ids=torch.tensor([f["input_ids"]]), labels=torch.tensor([f["labels"]])).loss.item()
                  for f in train.encode(tok, rows, 128)]
    return sum(losses) / len(losses)


def test_the_warm_up_trains_the_base_model_on_the_warm_up_solutions(tiny_model, tmp_path):
    """tpt.tiny.warm_up, the base_model rule's recipe: full fine-tuning on the warm-up problems' worked solutions
    (arith prompts), model.builtin's warmup settings over the finetune ones; their loss drops."""
    from tpt import tiny
    from tpt.tasks import arith

    warmup = arith.load("warmup", {"seed": 1, "test_problems": 5, "train_problems": 5, "warmup_problems": 16,
                                   "teacher_slip_rate": 0.4})
    rows = [{"sample_id": p, "prompt": arith.prompt(q), "completion": s}
            for p, q, s in zip(warmup["problem_id"], warmup["question"], warmup["solution"])]
    builtin = {"max_length": 128, "warmup": {"epochs": 3, "learning_rate": 2e-3, "warmup_ratio": 0.05}}
    out = str(tmp_path / "base")
    figures, n = tiny.warm_up(tiny_model, out, warmup, builtin, {**CFG, "epochs": 1, "learning_rate": 1e-9},
                              str(tmp_path / "scratch"))
    assert n == 16 and figures["steps"] == 3 * 16 // CFG["batch_size"]  # the warm-up's 3 epochs, not finetune's 1
    assert _mean_loss(out, rows) < _mean_loss(tiny_model, rows) - 0.5  # its learning rate, not finetune's 1e-9


class Killed(Exception):
    pass


class KillAfter(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Killed


def test_a_killed_finetune_resumes_from_its_newest_checkpoint(tiny_model, tmp_path):
    scratch, cfg = str(tmp_path / "scratch"), {**CFG, "epochs": 2, "save_steps": 2}
    with pytest.raises(Killed):
        train.finetune(tiny_model, str(tmp_path / "out"), ROWS, [], cfg, scratch, callbacks=[KillAfter(3)])
    assert not os.path.exists(tmp_path / "out")
    assert train.newest_checkpoint(scratch).endswith("checkpoint-2")
    resumed = train.finetune(tiny_model, str(tmp_path / "out"), ROWS, [], cfg, scratch)
    assert resumed["resumed_from"].endswith("checkpoint-2") and resumed["steps"] == 4
    straight = train.finetune(tiny_model, str(tmp_path / "straight"), ROWS, [], cfg, str(tmp_path / "s2"))
    assert straight["resumed_from"] == ""
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "out")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "straight")).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_lora_is_merged_into_a_plain_model(tiny_model, tmp_path):
    out = str(tmp_path / "lora")
    train.finetune(tiny_model, out, ROWS, [], {**CFG, "method": "lora"}, str(tmp_path / "scratch"))
    assert not os.path.exists(os.path.join(out, "adapter_config.json"))
    model = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_checkpoints_of_a_different_job_are_not_resumed(tiny_model, tmp_path):
    scratch, cfg = str(tmp_path / "scratch"), {**CFG, "epochs": 2, "save_steps": 2}
    with pytest.raises(Killed):
        train.finetune(tiny_model, str(tmp_path / "out"), ROWS, [], cfg, scratch, callbacks=[KillAfter(3)])
    changed = train.finetune(tiny_model, str(tmp_path / "out"), ROWS, [], {**cfg, "learning_rate": 5e-4}, scratch)
    assert changed["resumed_from"] == "" and changed["steps"] == 4


def test_a_checkpoint_cut_off_by_a_kill_is_skipped(tmp_path):
    for step, complete in [(5, True), (10, False)]:
        os.makedirs(tmp_path / f"checkpoint-{step}")
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert train.newest_checkpoint(str(tmp_path)).endswith("checkpoint-5")


def test_gradient_checkpointing_trains_the_same_weights(tiny_model, tmp_path):
    for name, checkpointing in [("plain", False), ("recomputed", True)]:
        train.finetune(tiny_model, str(tmp_path / name), ROWS, [], {**CFG, "gradient_checkpointing": checkpointing},
                       str(tmp_path / f"{name}-scratch"))
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "plain")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "recomputed")).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_lora_finetune_is_repeatable(tiny_model, tmp_path):
    """The adapter's random start is seeded: a rerun (or another process) starts from the same adapter."""
    for name in ("a", "b"):
        torch.manual_seed(len(name) + ord(name))  # whatever the global random state was before
        train.finetune(tiny_model, str(tmp_path / name), ROWS, [], {**CFG, "method": "lora"},
                       str(tmp_path / f"{name}-scratch"))
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "a")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "b")).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interpolation_mixes_the_weights_with_the_other_model(tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    other = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        for w in other.parameters():
            w.add_(1.0)
    other_dir, mixed_dir = str(tmp_path / "other"), str(tmp_path / "mixed")
    train.save_model(other, AutoTokenizer.from_pretrained(tiny_model), other_dir)
    train.save_model(AutoModelForCausalLM.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_model),
                     mixed_dir)
    train.interpolate(mixed_dir, other_dir, 0.25)
    mine = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    mixed = AutoModelForCausalLM.from_pretrained(mixed_dir).state_dict()
    for name, w in mine.items():  # 0.25 x w + 0.75 x (w + 1) = w + 0.75, tied weights included
        torch.testing.assert_close(mixed[name], w + 0.75)


class _Batches(TrainerCallback):
    """Records each training step's padded width and whether the model's forward ran under bf16 autocast."""

    def __init__(self):
        self.widths, self.autocast = [], set()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def batch(module, inputs, kwargs_):
            if module.training:
                self.widths.append(kwargs_["input_ids"].shape[1])

        def head(module, inputs):  # inside the model's forward, which accelerate wraps in its autocast
            if module.training:
                self.autocast.add(torch.is_autocast_enabled("cpu")
                                  and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        model.register_forward_pre_hook(batch, with_kwargs=True)
        model.get_output_embeddings().register_forward_pre_hook(head)


def test_length_grouped_batches_pad_less_and_cpu_bf16_autocasts(tiny_model, tmp_path):
    """finetune.sampler: group_by_length puts examples of similar lengths in a batch (rows of two lengths: every
    batch is as wide as its own rows, not the longest row); finetune.cpu_bf16 runs the forward under bf16 autocast
    on a CPU that has bf16 instructions (fp32 on one that has not), and the model still learns."""
    rows = [{**r, "completion": r["completion"] + (" Mia counts again, one by one." * 6 if i % 2 else "")}
            for i, r in enumerate(ROWS)]
    tok = AutoTokenizer.from_pretrained(tiny_model)
    lengths = sorted({len(f["input_ids"]) for f in train.encode(tok, rows, 256)})
    runs = {}
    for sampler in ("random", "group_by_length"):
        runs[sampler] = _Batches()
        cfg = {**CFG, "max_length": 256, "sampler": sampler, "cpu_bf16": sampler == "group_by_length"}
        figures = train.finetune(tiny_model, str(tmp_path / sampler), rows, rows[:2], cfg,
                                 str(tmp_path / f"{sampler}-scratch"), callbacks=[runs[sampler]])
        assert figures["eval_loss"] == figures["eval_loss"]  # trained to the end, a number
    random_, grouped = runs["random"], runs["group_by_length"]
    assert len(lengths) <= 4 and max(lengths) - min(lengths) > 30
    assert sum(grouped.widths[:len(grouped.widths) // 2 * 2]) < sum(random_.widths[:len(grouped.widths) // 2 * 2])
    assert random_.autocast == {False}
    assert grouped.autocast == {bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())}
