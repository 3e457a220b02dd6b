"""The dress rehearsal (tpt.rehearsal): the shipped family files, the miniatures built from them, each check
against a deliberately broken family file, and rehearsals of the presets end to end (the full set: -m rehearsal)."""
import json
import os
import shutil

import pandas as pd
import pytest
import yaml

from helpers import REPO, SNAKEMAKE
from tpt import rehearsal, tiny

SHARED_DATA = os.path.join(REPO, "..", "shared", "data")  # beside the clone, as tests/conftest.py finds it
GSM8K = os.path.join(SHARED_DATA, "gsm8k")
FAMILIES = os.path.join(REPO, "src", "tpt", "families")  # the shipped family files
TEXTS = ["Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
         "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
         "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes. ñ € 1,234"]
PROMPT = "Problem: How many clips did Natalia sell?\n\nGive the final numerical answer as #### [Answer]"


def broken_family(tmp_path, model, **changes):
    """A copy of a shipped family's files with changes: {file: {key: value}} ("tokenizer_config" ...)."""
    src = os.path.join(FAMILIES, model)
    dst = tmp_path / "families" / model
    shutil.copytree(src, dst)
    for name, keys in changes.items():
        path = dst / f"{name}.json"
        data = json.loads(path.read_text())
        data.update(keys)
        path.write_text(json.dumps(data))
    return str(tmp_path / "families")


def miniature(tmp_path, model, families_dir=None):
    fam = rehearsal.family(f"org/{model}", families_dir)
    path = str(tmp_path / f"mini-{model}")
    tiny.build_miniature(fam, TEXTS * 3 + [PROMPT], path)
    return path, fam


@pytest.mark.parametrize("model", rehearsal.shipped_families())
def test_a_shipped_family_makes_a_miniature_that_keeps_its_architecture_and_passes_the_checks(tmp_path, model):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    path, fam = miniature(tmp_path, model)
    real, mini = fam["config"], AutoConfig.from_pretrained(path)
    assert mini.architectures == real["architectures"] and mini.model_type == real["model_type"]
    # the fields as transformers reads them from the real config.json (RoPE settings, soft-capping, windows...)
    whole = AutoConfig.for_model(real["model_type"], **{k: v for k, v in real.items() if k != "model_type"})
    for key in ("final_logit_softcapping", "attn_logit_softcapping", "sliding_window", "tie_word_embeddings",
                "max_position_embeddings", "query_pre_attn_scalar", "rope_parameters", "hidden_activation",
                "hidden_act", "use_sliding_window"):
        assert getattr(mini, key, None) == getattr(whole, key, None), key
    assert mini.num_hidden_layers == 2 and mini.hidden_size == 128
    assert str(mini.dtype).endswith(real["torch_dtype"])
    model_ = AutoModelForCausalLM.from_pretrained(path)
    assert type(model_).__name__ == real["architectures"][0]
    tok = AutoTokenizer.from_pretrained(path)
    tok_cfg = fam["tokenizer_config"]
    assert tok.chat_template == tok_cfg["chat_template"]
    for role in ("bos_token", "eos_token"):
        assert getattr(tok, role) == tok_cfg[role]
    # the generation config's stop list: the same special tokens as the real model's, by name
    real_stops = {tok_cfg["added_tokens"][str(i)] for i in fam["generation_config"]["eos_token_id"]}
    assert set(tok.convert_ids_to_tokens(GenerationConfig.from_pretrained(path).eos_token_id)) == real_stops
    checked = rehearsal.check_model(path, [PROMPT], TEXTS)
    assert any("BOS" in c for c in checked) and any("round trip" in c for c in checked)


def test_a_template_that_rejects_the_prompt_fails_at_base_model(tmp_path):
    template = "{% for m in messages %}{% if m['role'] == 'user' %}{{ raise_exception('User role not supported') }}" \
               "{% endif %}{% endfor %}"
    fams = broken_family(tmp_path, "gemma-2-2b-it", tokenizer_config={"chat_template": template})
    path, _ = miniature(tmp_path, "gemma-2-2b-it", fams)
    with pytest.raises(rehearsal.RehearsalError, match="stage base_model: the chat template rejects the task's "
                                                       "prompt: User role not supported"):
        rehearsal.check_model(path, [PROMPT], TEXTS)


def test_a_stop_token_the_finetune_never_writes_fails_at_base_model(tmp_path):
    # generation stops on <end_of_turn> only, while the fine-tune ends every completion with the tokenizer's <eos>
    fams = broken_family(tmp_path, "gemma-2-2b-it", generation_config={"eos_token_id": [107]})
    path, _ = miniature(tmp_path, "gemma-2-2b-it", fams)
    with pytest.raises(rehearsal.RehearsalError, match=r"stage base_model: the fine-tune ends each completion with "
                                                       r"the tokenizer's EOS '<eos>'.*'<end_of_turn>'.*never stop"):
        rehearsal.check_model(path, [PROMPT], TEXTS)


def test_a_template_that_writes_a_second_bos_fails(tmp_path):
    fam = rehearsal.family("meta-llama/Llama-3.2-1B-Instruct")
    template = "{{ bos_token }}" + fam["tokenizer_config"]["chat_template"]
    fams = broken_family(tmp_path, "Llama-3.2-1B-Instruct", tokenizer_config={"chat_template": template})
    path, _ = miniature(tmp_path, "Llama-3.2-1B-Instruct", fams)
    with pytest.raises(rehearsal.RehearsalError, match="holds 2 BOS tokens"):
        rehearsal.check_model(path, [PROMPT], TEXTS)


def _config(**changes):
    """A validated preset config (the schema's defaults filled in) with changes laid over it."""
    from snakemake.utils import validate

    config = yaml.safe_load(open(os.path.join(REPO, "config/presets/gsm8k-gemma2-2b.yaml")))
    for key, value in changes.items():
        section, _, name = key.partition(".")
        config.setdefault(section, {})[name] = value
    validate(config, os.path.join(REPO, "workflow/schemas/config.schema.yaml"))
    return config


def test_a_max_model_len_above_the_models_context_fails_at_config():
    with pytest.raises(rehearsal.RehearsalError, match=r"stage config: sampling.max_model_len=16384 is above "
                                                       r"google/gemma-2-2b-it's context of 8192 tokens"):
        rehearsal.apply(_config(**{"sampling.max_model_len": 16384}))
    with pytest.raises(rehearsal.RehearsalError, match="stage config: finetune.max_length=10000 is above"):
        rehearsal.apply(_config(**{"finetune.max_length": 10000}))


def test_apply_cuts_the_run_and_keeps_the_rest_of_the_config_as_written():
    config = _config(**{"resources.finetune": {"gpu": 4}, "think.shards": 8})
    config["rehearsal"] = {"n": 2}
    rehearsal.apply(config)
    assert config["results"] == "results/gsm8k-gemma2-2b/rehearsal" and config["rounds"] == 1
    assert config["think"]["n"] == 2 and config["eval"]["n"] == 2 and config["think"]["shards"] == 2
    assert config["think"]["max_new_tokens"] == rehearsal.SIZES["max_new_tokens"]
    # 4 GPUs of FSDP become 2 CPU processes of FSDP
    assert config["resources"]["finetune"]["gpu"] == 0 and config["finetune"]["distributed"]["processes"] == 2
    assert config["finetune"]["distributed"]["strategy"] == "fsdp"
    # as written: backend, dtype, context, learning rate, attention
    assert config["sampling"]["backend"] == "vllm" and config["sampling"]["dtype"] == "bfloat16"
    assert config["sampling"]["max_model_len"] == 4096 and config["finetune"]["learning_rate"] == 1e-6
    assert config["finetune"]["attn_implementation"] == "eager"
    assert "fine-tune: full, fsdp over 2 CPU processes" in rehearsal.ran(config)[1]


def test_a_model_without_family_files_is_a_clear_error():
    with pytest.raises(rehearsal.RehearsalError, match=r"no family files for 'my-model' \(hub: HF_HUB_OFFLINE is "
                                                       r"set\); shipped: .*gemma-2-2b-it"):
        rehearsal.family("org/my-model")


# ---- Family files from the hub (tpt.rehearsal.from_hub), with the hub's requests mocked: no test goes online ----

def hub_copy(tmp_path, model):
    """A shipped family's files as its hub repository holds them: the special tokens in added_tokens_decoder (with
    tokens the rehearsal leaves out), the chat template in chat_template.jinja, the context changed (to see which
    files a family came from)."""
    src = os.path.join(FAMILIES, model)
    dst = tmp_path / "hub" / model
    dst.mkdir(parents=True)
    config = json.load(open(os.path.join(src, "config.json")))
    config["max_position_embeddings"] = 2048
    tok = json.load(open(os.path.join(src, "tokenizer_config.json")))
    (dst / "chat_template.jinja").write_text(tok.pop("chat_template"))
    decoder = {k: {"content": v, "special": True} for k, v in tok.pop("added_tokens").items()}
    decoder["999990"] = {"content": "<|vision_pad|>", "special": True}  # neither in the template nor a role
    decoder["999991"] = {"content": "<tool_call>", "special": False}
    tok["added_tokens_decoder"] = decoder
    tok["eos_token"] = {"content": tok["eos_token"], "special": True}  # written out as an AddedToken
    for name, data in (("config", config), ("tokenizer_config", tok)):
        (dst / f"{name}.json").write_text(json.dumps(data))
    shutil.copy(os.path.join(src, "generation_config.json"), dst)
    return dst


SHA = "0123456789abcdef" * 2 + "01234567"  # the fake hub's revision


def fake_hub(monkeypatch, tmp_path, folder, error=None):
    """The hub as huggingface_hub sees it, holding `folder` (or raising `error` on a download); downloads land in a
    real HF cache layout under tmp_path (where try_to_load_from_cache looks). Returns the calls made."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # as huggingface_hub read the environment
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    calls = []

    def model_info(self, repo, timeout=None, **_):
        calls.append(("model_info", repo, timeout))
        return SimpleNamespace(sha=SHA, siblings=[SimpleNamespace(rfilename=f) for f in os.listdir(folder)])

    def download(repo, filename, revision=None, **_):
        calls.append(("download", filename, revision))
        if error:
            raise error
        repo_cache = tmp_path / "cache" / ("models--" + repo.replace("/", "--"))
        (repo_cache / "refs").mkdir(parents=True, exist_ok=True)
        (repo_cache / "refs" / "main").write_text(revision)
        (repo_cache / "snapshots" / revision).mkdir(parents=True, exist_ok=True)
        return shutil.copy(folder / filename, repo_cache / "snapshots" / revision / filename)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return calls


def test_a_hub_model_is_made_from_the_hubs_files_then_from_the_cache_offline(tmp_path, monkeypatch):
    import huggingface_hub
    from transformers import AutoConfig

    folder = hub_copy(tmp_path, "Qwen2.5-1.5B-Instruct")
    calls = fake_hub(monkeypatch, tmp_path, folder)
    fam = rehearsal.family("Qwen/Qwen2.5-1.5B-Instruct")
    assert fam["source"] == f"the hub's Qwen/Qwen2.5-1.5B-Instruct at revision {SHA}"
    assert calls[0] == ("model_info", "Qwen/Qwen2.5-1.5B-Instruct", rehearsal.HUB_TIMEOUT)
    assert sorted(c[1] for c in calls[1:]) == sorted(rehearsal.HUB_FILES)  # the four files, at that revision
    assert {c[2] for c in calls[1:]} == {SHA}
    shipped = rehearsal.family("org/Qwen2.5-1.5B-Instruct", FAMILIES)
    assert fam["config"]["max_position_embeddings"] == 2048  # the hub's, not the shipped 32768
    # the real file's shape read as the shipped one: the template from its own file, the roles' text, the special
    # tokens with a role or a place in the template (not the unused ones)
    tok, want = fam["tokenizer_config"], shipped["tokenizer_config"]
    assert tok["chat_template"] == want["chat_template"] and tok["eos_token"] == want["eos_token"]
    assert tok["added_tokens"] == want["added_tokens"]
    path = str(tmp_path / "mini")
    tiny.build_miniature(fam, TEXTS * 3 + [PROMPT], path)
    assert AutoConfig.from_pretrained(path).max_position_embeddings == 2048
    assert any("round trip" in c for c in rehearsal.check_model(path, [PROMPT], TEXTS))
    # offline, the same files from the HF cache, without a request
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    calls.clear()
    again = rehearsal.family("Qwen/Qwen2.5-1.5B-Instruct")
    assert calls == [] and again["source"].startswith("the HF cache's copy of Qwen/Qwen2.5-1.5B-Instruct")
    assert {k: again[k] for k in rehearsal.FAMILY_FILES} == {k: fam[k] for k in rehearsal.FAMILY_FILES}


def _http_error(cls, status):
    """An error of huggingface_hub's as its HTTP client (httpx, or its fork) would raise it."""
    import importlib

    from huggingface_hub.errors import HTTPError

    http = importlib.import_module(HTTPError.__module__)
    return cls("refused", response=http.Response(status, request=http.Request("GET", "https://huggingface.co/x")))


def test_a_gated_hub_model_falls_back_to_the_shipped_files_and_says_why(tmp_path, monkeypatch):
    from huggingface_hub.errors import GatedRepoError

    calls = fake_hub(monkeypatch, tmp_path, hub_copy(tmp_path, "gemma-2-2b-it"), _http_error(GatedRepoError, 401))
    fam = rehearsal.family("google/gemma-2-2b-it")
    assert fam["source"].startswith("the shipped family files gemma-2-2b-it (hub: google/gemma-2-2b-it is gated: "
                                    "accept its licence")
    assert fam["config"]["max_position_embeddings"] == 8192 and calls[1][0] == "download"
    with pytest.raises(rehearsal.RehearsalError, match=r"no family files for 'gemma-2-2b-it-mine' \(hub: "
                                                       r"google/gemma-2-2b-it-mine is gated"):
        rehearsal.family("google/gemma-2-2b-it-mine")


def test_an_unreachable_hub_costs_one_failed_request_then_the_shipped_files(tmp_path, monkeypatch):
    """The real metadata request, to a port where nothing listens: no download is tried (hf_hub_download would
    retry five times)."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("a download was tried"))
    fam = rehearsal.family("meta-llama/Llama-3.2-1B-Instruct")
    assert fam["source"].startswith("the shipped family files Llama-3.2-1B-Instruct (hub: unreachable (")
    assert fam["where"].endswith(os.path.join("families", "Llama-3.2-1B-Instruct"))


def test_a_family_the_rehearsal_cannot_make_a_miniature_of_is_a_clear_error(tmp_path):
    folder = tmp_path / "my-phi"
    shutil.copytree(os.path.join(FAMILIES, "Qwen2.5-1.5B-Instruct"), folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "phi3"}))
    with pytest.raises(rehearsal.RehearsalError, match=r"stage config: model.base='.*my-phi' is a 'phi3' model "
                                                       r"\(the local folder .*\): the rehearsal makes miniatures of "
                                                       r"gemma, gemma2, llama, mistral, qwen2 models only"):
        rehearsal.family(str(folder))


def test_check_saved_finds_a_changed_template_and_check_stops_a_model_that_never_stops(tmp_path):
    from transformers import AutoTokenizer

    path, _ = miniature(tmp_path, "Qwen2.5-1.5B-Instruct")
    copy = str(tmp_path / "tuned")
    shutil.copytree(path, copy)
    assert "equal the base model's" in rehearsal.check_saved(path, copy, "finetune (round 1)")
    tok = AutoTokenizer.from_pretrained(copy)
    tok.chat_template = "{{ messages[0]['content'] }}"
    tok.save_pretrained(copy)
    with pytest.raises(rehearsal.RehearsalError, match=r"stage finetune \(round 1\): .* changed the base model's "
                                                       "chat template"):
        rehearsal.check_saved(path, copy, "finetune (round 1)")
    samples = pd.DataFrame({"finish_reason": ["length"] * 3})
    with pytest.raises(rehearsal.RehearsalError, match="none of 3 samples stopped before the token limit"):
        rehearsal.check_stops(samples, "eval (round 1)")
    assert "1 of 2" in rehearsal.check_stops(pd.DataFrame({"finish_reason": ["length", "stop"]}), "eval")


def test_a_fine_tune_of_a_family_without_a_pad_token_saves_the_base_models_tokenizer_and_configs(tmp_path):
    """Llama-3 has no pad token: the fine-tune pads with EOS (masked) and saves the tokenizer, config and
    generation config as they were (no pad token added), which check_saved holds it to."""
    from transformers import AutoConfig, AutoTokenizer

    from tpt import train

    path, _ = miniature(tmp_path, "Llama-3.2-1B-Instruct")
    assert AutoTokenizer.from_pretrained(path).pad_token is None
    rows = [{"sample_id": str(i), "prompt": PROMPT, "completion": t} for i, t in enumerate(TEXTS)]
    cfg = {**_config()["finetune"], **rehearsal.WARMUP, "epochs": 1, "method": "full", "grad_accum": 1,
           "batch_size": 3}  # one batch of three completions of different lengths: padding in it
    tuned = str(tmp_path / "tuned")
    figures = train.finetune(path, tuned, rows, [], cfg, str(tmp_path / "checkpoints"), threads=1)
    assert figures["steps"] == 1
    assert AutoTokenizer.from_pretrained(tuned).pad_token is None
    assert AutoConfig.from_pretrained(tuned).pad_token_id == AutoConfig.from_pretrained(path).pad_token_id
    assert "equal the base model's" in rehearsal.check_saved(path, tuned, "finetune (round 1)")


def test_the_hf_sampler_stops_on_every_token_of_the_generation_config(tmp_path):
    from transformers import AutoTokenizer, GenerationConfig

    from tpt import sampling

    path, _ = miniature(tmp_path, "gemma-2-2b-it")
    tok = AutoTokenizer.from_pretrained(path)
    # every token but the tokenizer's EOS is a stop token: every sample stops at its first token
    gen = GenerationConfig.from_pretrained(path)
    gen.eos_token_id = [i for i in range(len(tok)) if i != tok.eos_token_id]
    gen.save_pretrained(path)
    sampler = sampling.load_sampler(path, {"backend": "hf", "batch_size": 4})
    ids = tok(tok.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False,
                                      add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    out = sampler.generate([ids] * 4, [1, 2, 3, 4], 1.0, 1.0, 16)
    assert [o[3] for o in out] == ["stop"] * 4 and [o[2] for o in out] == [1] * 4


# ---- Rehearsals end to end ----

needs_gsm8k = pytest.mark.skipif(not os.path.exists(os.path.join(GSM8K, "train.jsonl")), reason="no ../shared/data")
# the smallest rehearsal that still crosses every stage (the default test run)
SMALLEST = "rehearsal={train_problems: 4, test_problems: 2, n: 2, max_new_tokens: 128, warmup_epochs: 40}"


def rehearse(workdir, preset, *config, extra=None, timeout=1200):
    """Run `snakemake --configfile <preset> [extra] --config <config...>` in workdir (extra: keys laid over the
    preset, in a config file: --config gives nested numbers as strings); return the finished process."""
    import subprocess

    files = [os.path.join(REPO, preset)]
    if extra:
        files.append(str(workdir / "extra.yaml"))
        (workdir / "extra.yaml").write_text(yaml.safe_dump(extra))
    cmd = [SNAKEMAKE, "-s", os.path.join(REPO, "Snakefile"), "-d", str(workdir), "--cores", "2",
           "--configfile", *files, "--config", *config]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@needs_gsm8k
def test_the_smallest_rehearsal_of_a_preset_crosses_every_stage_and_prints_its_summary(tmp_path):
    """gsm8k-gemma2-2b (Gemma-2: soft-capping, sliding window, byte-fallback tokenizer, a template without a
    system role) with the hf backend; the full set (-m rehearsal) runs each preset's own backend."""
    run = rehearse(tmp_path, "config/presets/gsm8k-gemma2-2b.yaml", SMALLEST, f"task={{source: {GSM8K}}}",
                   "sampling={backend: hf}")
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    res = tmp_path / "results/gsm8k-gemma2-2b/rehearsal"
    summary = (res / "rehearsal.md").read_text()
    assert summary in run.stdout  # printed as well as written
    assert "- sampling: hf, dtype bfloat16, max_model_len 4096" in summary
    assert "- fine-tune: full, 1 process, attention eager, max_length 2048" in summary
    # the tests keep the hub out (tests/conftest.py): the shipped family files, and the summary says so
    assert "- model: a miniature of google/gemma-2-2b-it, made from the shipped family files gemma-2-2b-it (hub: " \
           "HF_HUB_OFFLINE is set)" in summary
    for stage in ("base model", "generate think", "verify think", "prune", "finetune", "generate eval", "report"):
        assert f"| {stage} | " in summary, stage
    for check in ("exactly one BOS", "a stop token of generation", "survive the tokenizer's round trip",
                  "chat template and generation config equal the base model's", "stop before the limit",
                  "artifacts exist and are not empty"):
        assert check in summary, check
    assert len(pd.read_parquet(res / "data/train.parquet")) == 4
    assert len(pd.read_parquet(res / "data/test.parquet")) == 2
    assert len(pd.read_parquet(res / "round_1/prune/sft_train.parquet")) >= 1  # the warm-up made some survive
    config = json.loads((res / "models/round_1/config.json").read_text())
    assert config["architectures"] == ["Gemma2ForCausalLM"] and config["final_logit_softcapping"] == 30.0
    assert not (tmp_path / "results/gsm8k-gemma2-2b/report").exists()  # the real run's folder is left alone


@needs_gsm8k
def test_a_rehearsal_with_a_broken_local_family_fails_with_the_stage_and_the_reason(tmp_path):
    """model.base as a local folder of family files whose template rejects the prompt: the run stops at base_model
    (before any warm-up), saying so."""
    template = "{{ raise_exception('User role not supported') }}"
    fams = broken_family(tmp_path, "gemma-2-2b-it", tokenizer_config={"chat_template": template})
    run = rehearse(tmp_path, "config/presets/gsm8k-gemma2-2b.yaml", SMALLEST, f"task={{source: {GSM8K}}}",
                   f"model={{base: {fams}/gemma-2-2b-it}}", "sampling={backend: hf}")
    assert run.returncode != 0
    log = (tmp_path / "results/gsm8k-gemma2-2b/rehearsal/logs/base_model.log").read_text()
    assert "rehearsal failed at stage base_model: the chat template rejects the task's prompt: User role not " \
           "supported" in log
    assert not (tmp_path / "results/gsm8k-gemma2-2b/rehearsal/models/round_0").exists()


def test_a_rehearsal_whose_max_model_len_is_above_the_models_fails_before_any_job(tmp_path):
    run = rehearse(tmp_path, "config/presets/gsm8k-gemma2-2b.yaml", "rehearsal=true",
                   extra={"sampling": {"max_model_len": 16384}}, timeout=300)
    assert run.returncode != 0
    assert "rehearsal failed at stage config: sampling.max_model_len=16384 is above google/gemma-2-2b-it's " \
           "context of 8192 tokens" in run.stdout + run.stderr


def test_a_code_task_without_solutions_warms_up_on_programs_that_pass_its_tests():
    import subprocess
    import sys

    from tpt.code.verify import encode_answer, extract_program

    tests = [("1 2\n", "3\n"), ("10 -4\n", "6\n")]
    problems = pd.DataFrame({"solution": [None, "known"], "answer": [encode_answer(tests, 1.0, 2 ** 28), "x"]})
    lookup, known = rehearsal.worked_solutions(problems, code=True)
    assert known == "known"
    program = extract_program(lookup)
    for given, expected in tests:
        run = subprocess.run([sys.executable, "-c", program], input=given, capture_output=True, text=True)
        assert run.stdout == expected
    assert rehearsal.worked_solutions(problems, code=False)[0] is None


# ---- The full set: each preset and the MATH example rehearsed as written (opt-in: pytest -m rehearsal) ----

CODECONTESTS = os.path.join(SHARED_DATA, "codecontests", "sample.jsonl")
PRESETS = {  # config -> (its data's local copy, what it exercises)
    "config/presets/gsm8k-gemma2-2b.yaml": GSM8K,                # vLLM CPU, Gemma-2 soft-capping, eager attention
    "config/presets/gsm8k-gemma2-9b.yaml": GSM8K,                # FSDP over 2 CPU processes
    "config/presets/gsm8k-llama3.2-1b.yaml": GSM8K,              # Llama-3 template, llama3 RoPE, stop list
    "config/presets/gsm8k-llama70b.yaml": GSM8K,                 # LoRA + FSDP, vLLM tensor parallel on 2 workers
    "config/presets/codecontests-gemma2-2b.yaml": CODECONTESTS,  # code prompts through Gemma's template, sandbox
    "config/presets/codecontests-gemma2-9b.yaml": CODECONTESTS,  # the same with FSDP
    "config/examples/math-boxed.yaml": GSM8K,                    # Qwen2.5's template, \boxed{} and math-verify
}


def math_copy(folder, rows=200):
    """No copy of MATH is here: a MATH-shaped local copy made from GSM8K's first rows, problem -> `problem` and
    the worked solution -> `solution` ending in \\boxed{n} (as MATH's do), in the columns math-boxed.yaml reads.
    Returns the task keys that point the config at it; everything else of the config stays as written."""
    os.makedirs(folder, exist_ok=True)
    for split in ("train", "test"):
        with open(os.path.join(GSM8K, f"{split}.jsonl")) as f:
            lines = [json.loads(line) for _, line in zip(range(rows), f)]
        with open(os.path.join(folder, f"{split}.jsonl"), "w") as out:
            for row in lines:
                steps, answer = row["answer"].rsplit("####", 1)
                solution = f"{steps.strip()}\nThe answer is $\\boxed{{{answer.strip()}}}$."
                out.write(json.dumps({"problem": row["question"], "solution": solution}) + "\n")
    return {"task": {"custom": {split: os.path.join(folder, f"{split}.jsonl") for split in ("train", "test")}}}


@pytest.fixture
def opted_in(request):
    if "rehearsal" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a preset's full rehearsal is opt-in: pytest -m rehearsal tests/test_rehearsal.py")


@pytest.mark.slow
@pytest.mark.rehearsal
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_rehearses_end_to_end_as_written(tmp_path, preset, opted_in):
    if not os.path.exists(PRESETS[preset]):
        pytest.skip("no ../shared/data")
    if "codecontests" in preset:
        from tpt.code.sandbox import available_backends

        if not available_backends():
            pytest.skip("no isolating sandbox backend here")
    if "math" in preset:  # task.source stays the hub id; task.custom's files are local, so it is never read
        run = rehearse(tmp_path, preset, "rehearsal=true", extra=math_copy(str(tmp_path / "math")), timeout=1800)
    else:
        run = rehearse(tmp_path, preset, "rehearsal=true", f"task={{source: {PRESETS[preset]}}}", timeout=1800)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    results = yaml.safe_load(open(os.path.join(REPO, preset))).get("results", "results")
    summary = (tmp_path / results / "rehearsal" / "rehearsal.md").read_text()
    assert "equal the base model's" in summary and "stop before the limit" in summary


def test_a_prompt_through_llama_3_2s_template_is_the_same_on_every_day(tmp_path):
    """Llama-3.2's template writes today's date (strftime_now) unless given one: tpt.chat gives a fixed one."""
    import datetime

    from tpt.chat import FIXED_DATE, render_prompt

    from transformers import AutoTokenizer

    path, _ = miniature(tmp_path, "Llama-3.2-1B-Instruct")
    tok = AutoTokenizer.from_pretrained(path)
    first = render_prompt(tok, PROMPT)
    assert f"Today Date: {FIXED_DATE}\n" in first
    today = datetime.datetime.now().strftime("%d %b %Y")
    assert f"Today Date: {today}" in tok.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False)
