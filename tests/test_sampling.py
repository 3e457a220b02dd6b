import pandas as pd
import pytest

from helpers import sample_requests as _requests
from tpt import sampling


def test_seeds_are_stable_per_sample_and_differ_between_samples():
    a, b = _requests(), _requests()
    assert a["seed"].tolist() == b["seed"].tolist()
    assert a["seed"].nunique() == len(a)
    assert a["sample_id"].iloc[0] == "eval/r2/arith/test/0/0"
    assert sampling.sample_seed(7, "eval", 2, "arith/test/0", 0) != sampling.sample_seed(8, "eval", 2,
                                                                                          "arith/test/0", 0)


def test_fresh_problems_give_disjoint_rounds_until_the_pool_wraps():
    pool = pd.DataFrame({"problem_id": [str(i) for i in range(10)], "question": ["q"] * 10})
    r1, r2, r3 = (set(sampling.select_problems(pool, r, 4, True, 0)["problem_id"]) for r in (1, 2, 3))
    assert len(r1) == len(r2) == 4 and not r1 & r2
    assert len(r3) == 4 and len(r3 - r1 - r2) == 2  # 2 left in the pool, then it wraps around
    assert sampling.select_problems(pool, 1, None, True, 0) is pool


def test_hf_samples_depend_on_their_seed_not_on_their_batch(tiny_model):
    requests = _requests(3)
    small = sampling.generate(sampling.load_sampler(tiny_model, {"backend": "hf", "batch_size": 2}), requests,
                              "tiny", 1.0, 1.0, 12)
    whole = sampling.generate(sampling.load_sampler(tiny_model, {"backend": "hf", "batch_size": 64}), requests,
                              "tiny", 1.0, 1.0, 12)
    alone = sampling.generate(sampling.load_sampler(tiny_model, {"backend": "hf", "batch_size": 64}),
                              requests.iloc[[4]], "tiny", 1.0, 1.0, 12)
    assert small["completion"].tolist() == whole["completion"].tolist()
    assert alone["completion"].iloc[0] == whole["completion"].iloc[4]
    assert small["completion"].nunique() > 1
    assert set(small["finish_reason"]) <= {"stop", "length"}
    # a random model rarely stops: cut samples have exactly max_new_tokens tokens
    cut = small[small["finish_reason"] == "length"]
    assert (cut["completion_tokens"] == 12).all()


def test_prompts_longer_than_the_context_are_an_error(tiny_model):
    sampler = sampling.load_sampler(tiny_model, {"backend": "hf", "batch_size": 8})
    with pytest.raises(ValueError, match="max_new_tokens=120 in the model's context of 128 tokens"):
        sampling.generate(sampler, _requests(1), "tiny", 1.0, 1.0, 120)


def test_shards_cover_every_problem_once_and_gather_restores_the_unsharded_order():
    problems = pd.DataFrame({"problem_id": [f"p{i}" for i in range(7)], "question": [f"q{i}" for i in range(7)]})
    whole = sampling.make_requests(problems, lambda q: q, "think", 1, 2, seed=0)
    parts = [sampling.make_requests(sampling.shard(problems, k, 3), lambda q: q, "think", 1, 2, seed=0)
             for k in range(3)]
    assert sorted(sum((p["problem_id"].unique().tolist() for p in parts), [])) == sorted(problems["problem_id"])
    assert sampling.gather(parts).equals(whole)
    with pytest.raises(ValueError, match="there are 3 shards"):
        sampling.shard(problems, 3, 3)


def test_seeded_sampling_respects_top_p_and_seeds():
    import torch

    from tpt.sampling.hf import SeededSampling

    scores = torch.log(torch.tensor([[0.5, 0.3, 0.2]] * 200))
    nucleus = SeededSampling(range(200), temperature=1.0, top_p=0.6)(None, scores).argmax(dim=-1)
    assert set(nucleus.tolist()) == {0, 1}            # 0.5 + 0.3 reach 0.6: token 2 is never drawn
    full = SeededSampling(range(200), temperature=1.0, top_p=1.0)(None, scores).argmax(dim=-1)
    assert set(full.tolist()) == {0, 1, 2}
    again = SeededSampling(range(200), temperature=1.0, top_p=1.0)(None, scores).argmax(dim=-1)
    assert torch.equal(full, again)


def test_think_temperature_per_round():
    from tpt.sampling import round_temperature

    assert round_temperature({"temperature": 0.8, "temperatures": None}, 3) == 0.8
    assert round_temperature({"temperature": 0.7}, 1) == 0.7                      # eval has no schedule
    temps = {"temperature": 0.8, "temperatures": [1.0, 0.9]}
    assert [round_temperature(temps, r) for r in (1, 2, 3, 6)] == [1.0, 0.9, 0.9, 0.9]


def test_hf_logprob_is_the_models_mean_log_probability_of_the_drawn_tokens(tiny_model, monkeypatch):
    """SAMPLES' logprob: the mean over the completion's tokens (the stop token too) of log p(token | before) under
    the model at temperature 1, whatever the sampling temperature; checked by a forward pass over each sample."""
    import torch

    sampler = sampling.load_sampler(tiny_model, {"backend": "hf", "batch_size": 4})
    tok, model = sampler.tokenizer, sampler.model
    # completions come back as their token ids, so that each can be scored again exactly
    monkeypatch.setattr(tok, "decode", lambda ids, **kwargs: " ".join(map(str, ids)))
    requests = _requests(3)
    stopped = 0
    for temperature in (1.0, 0.5):
        samples = sampling.generate(sampler, requests, "tiny", temperature, 1.0, 12)
        assert (samples["logprob"] < 0).all()
        for prompt, row in zip(requests["prompt"], samples.itertuples()):
            prompt_ids = tok(sampling.render_prompt(tok, prompt), add_special_tokens=False)["input_ids"]
            ids = [int(t) for t in row.completion.split()] + (sampler.stop_ids if row.finish_reason == "stop" else [])
            stopped += row.finish_reason == "stop"
            assert len(ids) == row.completion_tokens
            with torch.no_grad():
                logits = model(torch.tensor([prompt_ids + ids])).logits[0, len(prompt_ids) - 1:-1]
            expected = torch.log_softmax(logits.float(), dim=-1)[torch.arange(len(ids)), ids].mean().item()
            assert row.logprob == pytest.approx(expected, abs=1e-4)
        # a random model rarely stops: the second time, stop on the token it drew most (the stop token counts)
        sampler.stop_ids = [samples["completion"].str.split().explode().astype(int).mode()[0]]
    assert stopped
