"""The fine-tune's losses (tpt.losses) and example weights (tpt.prune's dco), checked on small inputs, and the
Trainer that uses them."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from tpt import losses, prune, train

IGNORE = losses.IGNORE


def test_the_gradient_of_linear_gem_is_that_of_beta_times_ce_at_temperature_beta():
    torch.manual_seed(0)
    z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 6, 2, 2])
    beta = 0.7
    losses.gem(z, y, beta).sum().backward()
    expected = F.softmax(z.detach() / beta, dim=-1) - F.one_hot(y, 7)
    assert torch.allclose(z.grad, expected, atol=1e-12)
    z2 = z.detach().clone().requires_grad_(True)
    (beta * F.cross_entropy(z2 / beta, y, reduction="sum")).backward()
    assert torch.allclose(z.grad, z2.grad, atol=1e-12)


def test_gem_values_against_a_direct_computation():
    z = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
    y = [2, 1]
    for h in ("linear", "logsigmoid"):
        got = losses.gem(torch.tensor(z), torch.tensor(y), 0.5, h).numpy()
        for i in range(2):
            log_p = z[i] - np.log(np.exp(z[i]).sum())
            q = np.exp(z[i] / 0.5) / np.exp(z[i] / 0.5).sum()
            w = 1 / (1 + np.exp(-0.01 * (z[i] - z[i][y[i]]))) if h == "logsigmoid" else np.ones(3)
            assert got[i] == pytest.approx(-(q * w * (log_p[y[i]] - log_p)).sum(), rel=1e-6), (h, i)
    with pytest.raises(ValueError, match="finetune.gem.h='cubic'"):
        losses.gem(torch.tensor(z), torch.tensor(y), 0.5, "cubic")


def test_the_weighted_loss_sums_weighted_token_losses_over_the_completion_tokens():
    torch.manual_seed(1)
    logits = torch.randn(2, 4, 5)
    labels = torch.tensor([[IGNORE, IGNORE, 3, 1], [IGNORE, 2, 4, IGNORE]])
    # next-token prediction: position t's logits predict label t + 1
    ce = lambda t, b: F.cross_entropy(logits[b, t], labels[b, t + 1]).item()  # noqa: E731
    tokens = [(1, 0), (2, 0), (0, 1), (1, 1)]       # (position, example) of the labelled next tokens
    plain = sum(ce(t, b) for t, b in tokens) / 4
    assert losses.sft_loss(logits, labels).item() == pytest.approx(plain, rel=1e-6)
    weighted = (2 * (ce(1, 0) + ce(2, 0)) + 0.5 * (ce(0, 1) + ce(1, 1))) / 4
    assert losses.sft_loss(logits, labels, torch.tensor([2.0, 0.5])).item() == pytest.approx(weighted, rel=1e-6)
    # the Trainer's count of the accumulated batch's tokens divides instead of this batch's
    assert losses.sft_loss(logits, labels, num_items=8).item() == pytest.approx(plain / 2, rel=1e-6)


def test_dco_weights():
    assert prune.dco_weight(0.25, 8) == pytest.approx(0.2967, abs=1e-4)
    assert prune.dco_weight(0.5, 8) == pytest.approx(0.0314, abs=1e-4)
    assert prune.dco_weight(1.0, 8) == 0 and prune.dco_weight(0.0, 8) == 1.0
    assert prune.dco_weight(1e-9, 8) == pytest.approx(1.0, abs=1e-6)
    assert prune.dco_weight(0.3, 1) == pytest.approx(1.0)            # N = 1: Pass@1, every solution counts alike
    rate = pd.Series({"a": 0.25, "b": 0.5, "c": 1.0})
    cfg = {"weights": "dco", "dco": {"n": 8, "floor": 0.1}}
    kept = pd.DataFrame({"problem_id": ["a", "b", "c", "a"]})
    assert prune.example_weights(kept, rate, None, cfg) == pytest.approx([0.2967, 0.1, 0.1, 0.2967], abs=1e-4)
    assert prune.example_weights(kept, rate, None, {"weights": "none"}) == [1.0] * 4


def test_unlikeliness_weights_rank_a_problems_survivors_by_log_probability():
    """1 - beta x rank / G: rank 0 for a problem's least likely survivor, G its samples; ties in sample order."""
    survivors = pd.DataFrame({"problem_id": ["a", "a", "a", "b", "b", "a"], "sample_index": [0, 1, 2, 0, 3, 5],
                              "logprob": [-0.2, -0.9, -0.5, -0.1, -0.1, -0.5]}, index=[10, 11, 12, 13, 14, 15])
    g = pd.Series({"a": 8, "b": 4})
    w = prune.unlikely_weights(survivors, g, 0.25)
    # a: -0.9 (11) rank 0, -0.5 (12, then 15 by sample order) ranks 1 and 2, -0.2 (10) rank 3; b: a tie, 13 first
    assert w.to_dict() == pytest.approx({11: 1.0, 12: 1 - 0.25 / 8, 15: 1 - 0.5 / 8, 10: 1 - 0.75 / 8,
                                         13: 1.0, 14: 1 - 0.25 / 4})
    with pytest.raises(ValueError, match="log-probability"):
        prune.unlikely_weights(survivors.assign(logprob=[None, -1, -1, -1, -1, -1]), g, 0.25)


def _round(rates):
    """A round's SAMPLES and VERDICTS: 4 samples of each problem, the first `k` correct, each less likely than the
    one before."""
    rows = [(p, i, i < round(4 * r)) for p, r in rates.items() for i in range(4)]
    samples = pd.DataFrame({"sample_id": [f"think/r1/{p}/{i}" for p, i, _ in rows],
                            "problem_id": [p for p, _, _ in rows], "sample_index": [i for _, i, _ in rows],
                            "prompt": [f"q {p}" for p, _, _ in rows],
                            "completion": [f"s {p} {i}" for p, i, _ in rows],
                            "logprob": [-0.1 * (i + 1) for _, i, _ in rows]})
    verdicts = pd.DataFrame({"sample_id": samples["sample_id"], "correct": [c for _, _, c in rows],
                             "truncated": False, "tests_passed": None})
    return samples, verdicts


def test_prune_weights_each_example_by_its_problems_think_pass_rate_and_accumulate_keeps_them():
    cfg = {"strategy": "correct", "per_problem": 1, "drop_truncated": True, "dedupe": True, "size": None,
           "val_size": 0, "seed": 0, "weights": "dco", "dco": {"n": 8, "floor": 0.1}}
    samples, verdicts = _round({"a": 0.25, "b": 0.5, "c": 1.0})
    train_set, _ = prune.prune(samples, verdicts, cfg, 1)
    w = dict(zip(train_set["problem_id"], train_set["weight"]))
    assert w == pytest.approx({"a": prune.dco_weight(0.25, 8), "b": 0.1, "c": 0.1})
    plain, _ = prune.prune(samples, verdicts, {**cfg, "weights": "none"}, 1)
    assert (plain["weight"] == 1.0).all() and list(plain["sample_id"]) == list(train_set["sample_id"])
    samples2, verdicts2 = _round({"d": 0.25})
    for frame in (samples2, verdicts2):
        frame["sample_id"] = frame["sample_id"].str.replace("r1", "r2")
    pooled, _ = prune.prune(samples2, verdicts2, {**cfg, "accumulate": True, "accumulate_cap": None}, 2,
                            earlier=train_set)
    assert dict(zip(pooled["problem_id"], pooled["weight"])) == pytest.approx({**w, "d": prune.dco_weight(0.25, 8)})


def test_prune_weights_the_kept_solutions_by_their_rank_among_all_of_the_problems_survivors():
    cfg = {"strategy": "correct", "per_problem": 1, "drop_truncated": True, "dedupe": True, "size": None,
           "val_size": 0, "seed": 0, "weights": "unlikely", "unlikely": {"beta": 0.25}}
    samples, verdicts = _round({"a": 0.75, "b": 0.25})
    train_set, _ = prune.prune(samples, verdicts, cfg, 1)
    # a: samples 0, 1, 2 correct, the first kept (per_problem 1) is the likeliest of the three: rank 2 of G = 4
    assert dict(zip(train_set["problem_id"], train_set["weight"])) == pytest.approx({"a": 1 - 0.25 * 2 / 4, "b": 1.0})
    every, _ = prune.prune(samples, verdicts, {**cfg, "per_problem": None}, 1)
    assert sorted(every["weight"]) == pytest.approx([1 - 0.5 / 4, 1 - 0.25 / 4, 1.0, 1.0])


def _rows(n=8):
    return [{"sample_id": f"s{i}", "prompt": f"what is {i} plus {i}", "completion": f"{i}+{i}={2 * i}. The answer is "
             f"{2 * i}", "weight": 1.0} for i in range(n)]


FT = {"epochs": 1, "learning_rate": 1e-3, "lr_scheduler": "constant", "warmup_ratio": 0.0, "batch_size": 4,
      "grad_accum": 2, "weight_decay": 0.0, "max_grad_norm": 1.0, "bf16": False, "seed": 0, "save_steps": 100,
      "logging_steps": 1, "method": "full", "max_length": 128, "loss": "ce"}


def _loss_curve(tiny_model, tmp_path, name, rows, **cfg):
    figures = train.finetune(tiny_model, str(tmp_path / name), rows, [], {**FT, **cfg}, str(tmp_path / f"{name}-s"),
                             threads=1)
    return figures["train_loss"]


def test_the_weighted_trainer_with_weights_of_one_trains_as_the_plain_one(tiny_model, tmp_path, monkeypatch):
    """Weights of 1 and cross-entropy through WeightedTrainer give the plain Trainer's loss (same normalisation over
    the accumulated batch's tokens); GEM and weights change it."""
    plain = _loss_curve(tiny_model, tmp_path, "plain", _rows())
    used = []

    class Spy(train.WeightedTrainer):
        def __init__(self, *args, **kwargs):
            used.append(kwargs["loss"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(train, "WeightedTrainer", Spy)
    forced = [dict(r, weight=1.0 + 1e-12) for r in _rows()]   # != 1: the weighted path, the same arithmetic
    assert _loss_curve(tiny_model, tmp_path, "ones", forced) == pytest.approx(plain, rel=1e-5)
    gem = _loss_curve(tiny_model, tmp_path, "gem", _rows(), loss="gem", gem={"beta": 0.7, "h": "linear"})
    heavy = _loss_curve(tiny_model, tmp_path, "heavy", [dict(r, weight=3.0) for r in _rows()])
    assert used == ["ce", "gem", "ce"]
    # one optimizer step (8 examples, batch 4 x 2 accumulated): train_loss is the loss before the update
    assert gem != pytest.approx(plain, rel=1e-3) and heavy == pytest.approx(3 * plain, rel=1e-5)


def test_the_schema_lists_the_losses_of_tpt_losses():
    import os

    import yaml

    schema = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "workflow", "schemas",
                                              "config.schema.yaml")))
    ft = schema["properties"]["finetune"]["properties"]
    assert ft["loss"]["enum"] == list(losses.LOSSES) and ft["gem"]["properties"]["h"]["enum"] == list(losses.GEM_H)
