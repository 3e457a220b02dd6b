"""The dress rehearsal of a config (`rehearsal: true`): its whole rule graph, every key as written, on a CPU, with
a miniature of its own model (tpt.tiny.build_miniature) and a few dozen problems, before a user spends GPU-hours.

What changes in a rehearsal (apply): the results folder (<results>/rehearsal), the model (a miniature of the
config's model family: the family files of model.base from a local folder, the hub or the shipped copies, see
family()), the data (the problems of each split with the shortest solutions: SIZES), the samples (at most
SIZES["n"] per problem and SIZES["max_new_tokens"] tokens), the rounds (at most SIZES["rounds"]), the shards (at
most 2), and the hardware: no GPU, and a multi-GPU fine-tune runs on 2 CPU processes with its strategy (auto:
FSDP, what it picks on GPUs), vLLM tensor parallelism on at most 2 CPU workers. Everything else is the config as
written: backend, chat template, prompt, scorer, pruning, LoRA or full, dtypes, max_model_len, max_length.

What it checks, each failure naming its stage and the reason (RehearsalError):
  config      max_model_len, max_length and max_new_tokens fit the model's context (check_config)
  base_model  the chat template renders the task's prompt, with exactly one BOS; the token the fine-tune ends
              a completion with is one generation stops on; the scorer's answers survive the tokenizer's round
              trip (check_model)
  finetune    each fine-tuned model keeps the base model's tokenizer, chat template and generation config
              (check_saved)
  think/eval  samples of fine-tuned models stop before the token limit at least sometimes (check_stops)
  every stage its artifacts exist and are not empty (check_artifacts)
and ends with a summary of the stages: jobs, time, and what was checked (summary).
"""
import glob
import json
import os
import re
from importlib import resources

import pandas as pd

# The rehearsal's sizes (config `rehearsal: true`; a `rehearsal:` mapping overrides any of them)
SIZES = {"train_problems": 8, "test_problems": 8, "n": 4, "max_new_tokens": 256, "rounds": 1, "warmup_epochs": 60}
LIMITS = {"shards": 2, "processes": 2, "tensor_parallel": 2}  # CPU jobs and processes
# the warm-up SFT that makes the miniature half know the rehearsal's own train problems (epochs: SIZES)
WARMUP = {"learning_rate": 0.003, "warmup_ratio": 0.05, "batch_size": 8, "lr_scheduler": "cosine", "seed": 0,
          "loss": "ce"}
CODE_WARMUP_FACTOR = 2  # code tasks: warm-up epochs x this (their look-up programs are harder to learn by heart)
FAMILY_FILES = ("config", "tokenizer_config", "generation_config")
# what a rehearsal fetches of a hub model (tpt.rehearsal.from_hub): its family files, and a chat template kept apart
HUB_FILES = tuple(f + ".json" for f in FAMILY_FILES) + ("chat_template.jinja",)
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # org/name, as the hub spells a model
HUB_TIMEOUT = 10  # seconds, the metadata request


class RehearsalError(RuntimeError):
    """A rehearsal check failed: the message names the stage and the reason."""

    def __init__(self, stage, reason):
        super().__init__(f"rehearsal failed at stage {stage}: {reason}")
        self.stage, self.reason = stage, reason


# ---- Family files ----

def shipped_families():
    """The names of the model families shipped in tpt/families/ (a model's hub name without its org)."""
    root = resources.files("tpt").joinpath("families")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.joinpath("config.json").is_file())


def family(base, families_dir=None):
    """The family files of model.base: {config, tokenizer_config, generation_config} (dicts), with "where" (their
    folder) and "source" (where they came from, in words). In this order: a local model folder gives its own
    files; a hub id the hub's files (from_hub: online, or the HF cache's copy); else the shipped files of its name
    (google/gemma-2-2b-it -> tpt/families/gemma-2-2b-it). families_dir: the shipped files from there, and no hub
    (the tests' broken families)."""
    name = os.path.basename(base.rstrip("/"))
    if os.path.isfile(os.path.join(base, "config.json")):
        where, source = base, f"the local folder {base}"
    else:
        where, source = from_hub(base) if families_dir is None and HUB_ID.match(base) else (None, None)
        if where is None:
            why = source
            root = families_dir or str(resources.files("tpt").joinpath("families"))
            where = os.path.join(root, name)
            source = f"the shipped family files {name}" + (f" (hub: {why})" if why else "")
            if not os.path.isfile(os.path.join(where, "config.json")):
                raise RehearsalError("config", f"model.base={base!r}: no family files for {name!r}"
                                     + (f" (hub: {why})" if why else "") + f"; shipped: {', '.join(shipped_families())}"
                                     "; give model.base as a local folder with its config.json, tokenizer_config.json"
                                     " and generation_config.json (the weights are not needed)")
    out = {}
    for f in FAMILY_FILES:
        path = os.path.join(where, f + ".json")
        out[f] = json.load(open(path)) if os.path.exists(path) else {}
    tok = out["tokenizer_config"]
    if "chat_template" not in tok and os.path.exists(os.path.join(where, "chat_template.jinja")):
        tok["chat_template"] = open(os.path.join(where, "chat_template.jinja")).read()
    for role in ("bos_token", "eos_token", "pad_token", "unk_token"):  # an AddedToken written out: its text
        if isinstance(tok.get(role), dict):
            tok[role] = tok[role].get("content")
    # a tokenizer with a BOS and no add_bos_token: Llama-3's, whose tokenizer.json (not fetched) adds the BOS
    tok.setdefault("add_bos_token", bool(tok.get("bos_token")))
    if "added_tokens" not in tok:  # a real tokenizer_config.json: its special tokens from added_tokens_decoder
        named = {v for k, v in tok.items() if k.endswith("_token")}
        ids = {str(i) for cfg in (out["config"], out["generation_config"]) for k, v in cfg.items()
               if k.endswith("token_id") for i in (v if isinstance(v, list) else [v])}
        tok["added_tokens"] = {k: v["content"] for k, v in tok.get("added_tokens_decoder", {}).items()
                               if k in ids or (v.get("special") and (v["content"] in tok.get("chat_template", "")
                                                                     or v["content"] in named))}
    if not tok.get("chat_template"):
        raise RehearsalError("config", f"model.base={base!r}: its tokenizer_config.json ({source}) has no chat "
                             "template")
    from tpt.tiny import TOKENIZER_KIND

    kind = out["config"].get("model_type")
    if kind not in TOKENIZER_KIND:
        raise RehearsalError("config", f"model.base={base!r} is a {kind!r} model ({source}): the rehearsal makes "
                             f"miniatures of {', '.join(sorted(TOKENIZER_KIND))} models only")
    out["where"], out["source"] = where, source
    return out


def from_hub(repo):
    """The folder of the hub model `repo`'s family files (HUB_FILES) and where they came from, in words; or None
    and why the hub gave none.
    Online: one metadata request (it fails at once where the hub is unreachable, where hf_hub_download would retry
    five times), then the files at that revision into the HF cache (a later call finds them there without a
    download). Offline (HF_HUB_OFFLINE) or unreachable: the copy in the HF cache, if an earlier run left one."""
    from huggingface_hub import HfApi, constants, hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HTTPError, RepositoryNotFoundError

    why = "HF_HUB_OFFLINE is set" if constants.is_offline_mode() else None
    if why is None:
        try:
            info = HfApi().model_info(repo, timeout=HUB_TIMEOUT)
            there = [f for f in HUB_FILES if f in {s.rfilename for s in info.siblings or []}]
            if "config.json" not in there:
                return None, f"{repo} has no config.json on the hub"
            paths = [hf_hub_download(repo, f, revision=info.sha) for f in there]
            return os.path.dirname(paths[0]), f"the hub's {repo} at revision {info.sha}"
        except GatedRepoError:
            why = f"{repo} is gated: accept its licence on its hub page and log in (hf auth login)"
        except RepositoryNotFoundError:
            why = f"{repo} is not on the hub, or is private (log in: hf auth login)"
        except (OSError, HTTPError) as e:
            why = f"unreachable ({type(e).__name__}: {e})"
    cached = try_to_load_from_cache(repo, "config.json")
    if isinstance(cached, str):  # a path (else None, or a marker that the file is known not to exist)
        return os.path.dirname(cached), f"the HF cache's copy of {repo}, {os.path.dirname(cached)} (hub: {why})"
    return None, why


def context_of(fam):
    return fam["config"].get("max_position_embeddings")


# ---- The rehearsal's config ----

def apply(config, families_dir=None):
    """Turn a validated config into its rehearsal, in place (see the module's docstring), after checking what the
    written config asks of the model (check_config). Returns the family files."""
    fam = family(config["model"]["base"], families_dir)
    check_config(config, fam)
    size = config["rehearsal"] = sizes(config["rehearsal"])
    config["results"] = os.path.join(config["results"], "rehearsal")
    config["rounds"] = min(config["rounds"], size["rounds"])
    for phase in ("think", "eval"):
        s = config[phase]
        s["n"] = min(s["n"], size["n"])
        s["max_new_tokens"] = min(s["max_new_tokens"], size["max_new_tokens"])
        s["shards"] = min(s["shards"], LIMITS["shards"])
    # the hardware: CPUs only
    res, dist = config["resources"], config["finetune"]["distributed"]
    if res["finetune"]["gpu"] > 1 or res["finetune"]["nodes"] > 1 or (dist["processes"] or 1) > 1:
        dist["processes"] = LIMITS["processes"]
        if dist["strategy"] == "auto":
            dist["strategy"] = "fsdp"  # what auto picks on GPUs
    for job in ("generate", "finetune", "base_model"):
        res[job]["gpu"], res[job]["gpu_model"] = 0, None
        res[job]["mem_mb"], res[job]["runtime"] = min(res[job]["mem_mb"], 16000), min(res[job]["runtime"], 60)
    res["finetune"]["nodes"] = 1
    vllm = config["sampling"]["vllm"]
    vllm["tensor_parallel_size"] = min(vllm["tensor_parallel_size"], LIMITS["tensor_parallel"])
    vllm["enforce_eager"] = True  # no compile at start-up: the miniature samples in seconds
    return fam


def sizes(value):
    """The rehearsal's sizes: SIZES, with those of a `rehearsal:` mapping (numbers, or strings of numbers as
    --config gives them) instead."""
    out = dict(SIZES)
    for key, v in (value.items() if isinstance(value, dict) else []):
        try:
            number = float(v) if key == "warmup_epochs" else int(v)
        except (TypeError, ValueError):
            number = None
        if number is None or number <= 0:
            raise RehearsalError("config", f"rehearsal.{key}={v!r}: give a positive "
                                 f"{'number' if key == 'warmup_epochs' else 'whole number'}")
        out[key] = number
    return out


def check_config(config, fam):
    """The config's lengths against the model's context (the config as written, before the rehearsal cuts
    max_new_tokens)."""
    ctx = context_of(fam)
    if not ctx:
        return
    where = f"{config['model']['base']}'s context of {ctx} tokens (max_position_embeddings of its config.json)"
    mml = config["sampling"]["max_model_len"]
    if mml is not None and mml > ctx:
        raise RehearsalError("config", f"sampling.max_model_len={mml} is above {where}: lower it to {ctx} or less")
    if config["finetune"]["max_length"] > ctx:
        raise RehearsalError("config", f"finetune.max_length={config['finetune']['max_length']} is above {where}: "
                             f"lower it to {ctx} or less")
    for phase in ("think", "eval"):
        limit = mml or ctx
        if config[phase]["max_new_tokens"] >= limit:
            raise RehearsalError("config", f"{phase}.max_new_tokens={config[phase]['max_new_tokens']} leaves no room "
                                 f"for the prompt in a context of {limit} tokens: lower it")


def cut(problems, split, sizes):
    """The rehearsal's problems of a split (sizes: config["rehearsal"] after apply): the ones with the shortest
    worked solutions (code tasks without them: the shortest tests, see worked_solutions), in their order, so that
    a short sample limit still lets them finish."""
    text = problems["solution"].where(problems["solution"].notna(), problems["answer"]).fillna("")
    keep = text.str.len().sort_values(kind="stable").index[:sizes[f"{split}_problems"]]
    return problems.loc[sorted(keep)].reset_index(drop=True)


def worked_solutions(problems, code):
    """The worked solutions the miniature warms up on: the problems' own; for a code task without them (the
    CodeContests sample has none), a program that answers each of the problem's tests (its `answer`, the tests
    as tpt.code.verify.encode_answer writes them) by table look-up. Not a solution to learn from, but one the judge
    passes, so that the rehearsal's pruning has survivors to train on."""
    out = []
    for solution, answer in zip(problems["solution"], problems["answer"]):
        if isinstance(solution, str) and solution:
            out.append(solution)
        elif code:
            table = {i: o for i, o in json.loads(answer)["tests"]}
            program = f"import sys\nanswers = {table!r}\nsys.stdout.write(answers[sys.stdin.read()])\n"
            out.append(f"Each input has its answer in a table.\n```python\n{program}```")
        else:
            out.append(None)
    return out


# ---- Checks of the models ----

def _tokens(tok, ids):
    return ", ".join(f"{tok.convert_ids_to_tokens(i)!r} (id {i})" for i in ids)


def stop_ids(model_dir):
    """The ids generation stops on: generation_config.json's eos_token_id (transformers' and vLLM's stop list),
    else the tokenizer's EOS."""
    from transformers import AutoTokenizer, GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(model_dir).eos_token_id
    except OSError:
        eos = None
    if eos is None:
        eos = AutoTokenizer.from_pretrained(model_dir).eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


def check_model(model_dir, prompts, texts, stage="base_model"):
    """The base model's tokenizer against what the workflow does with it: the chat template renders each prompt
    (as tpt.chat does for sampling and training) with exactly one BOS once tokenized as the workflow tokenizes
    it; the token train.encode appends after a completion is one generation stops on; each of `texts` (the
    worked solutions and answers the scorer reads) survives encode + decode. Returns what it checked."""
    from transformers import AutoTokenizer

    from tpt.chat import render_prompt

    tok = AutoTokenizer.from_pretrained(model_dir)
    done = []
    for p in prompts:
        try:
            rendered = render_prompt(tok, p)
        except Exception as e:  # a Jinja TemplateError, or the template's own raise_exception
            raise RehearsalError(stage, f"the chat template rejects the task's prompt: {e}") from e
        ids = tok(rendered, add_special_tokens=False)["input_ids"]
        bos = tok.bos_token_id
        n = ids.count(bos) if bos is not None else 0
        if bos is not None and n != 1:
            raise RehearsalError(stage, f"a rendered prompt holds {n} BOS tokens ({tok.bos_token!r}), not 1: the "
                                 f"chat template {'writes none' if n == 0 else 'and the tokenizer both add one'}")
    done.append(f"chat template renders {len(prompts)} prompts, each with "
                + ("exactly one BOS" if tok.bos_token_id is not None else "no BOS (the family has none)"))
    end = tok.eos_token_id  # what tpt.train.encode appends after each completion
    stops = stop_ids(model_dir)
    if end is None or end not in stops:
        raise RehearsalError(stage, f"the fine-tune ends each completion with the tokenizer's EOS "
                             f"{tok.eos_token!r} (id {end}), but generation stops on {_tokens(tok, sorted(stops))} "
                             "only (generation_config.json eos_token_id): a fine-tuned model would never stop")
    done.append(f"fine-tune ends completions with {tok.eos_token!r}, a stop token of generation "
                f"({_tokens(tok, sorted(stops))})")
    for t in texts:
        back = tok.decode(tok(t, add_special_tokens=False)["input_ids"], skip_special_tokens=True)
        if back != t:
            raise RehearsalError(stage, f"the tokenizer does not give back the text the scorer reads: {t!r} "
                                 f"comes back as {back!r}")
    done.append(f"{len(texts)} solutions and answers survive the tokenizer's round trip")
    return done


def _saved(model_dir):
    from transformers import AutoTokenizer, GenerationConfig

    tok = AutoTokenizer.from_pretrained(model_dir)
    try:
        gen = GenerationConfig.from_pretrained(model_dir).to_dict()
    except OSError:
        gen = {}
    gen.pop("transformers_version", None)  # not compared
    return {"vocabulary": tok.get_vocab(), "chat template": tok.chat_template,
            "special tokens": {k: getattr(tok, k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")},
            "generation config": gen}


def check_saved(base_dir, model_dir, stage):
    """A fine-tuned model keeps the base model's tokenizer, chat template and generation config (base_dir: the
    miniature as built from the family files, before any training)."""
    base, tuned = _saved(base_dir), _saved(model_dir)
    for what in base:
        if base[what] != tuned[what]:
            detail = ""
            if isinstance(base[what], dict):
                keys = sorted(k for k in set(base[what]) | set(tuned[what])
                              if base[what].get(k) != tuned[what].get(k))[:5]
                detail = ": " + ", ".join(f"{k}: {base[what].get(k)!r} -> {tuned[what].get(k)!r}" for k in keys)
            raise RehearsalError(stage, f"the fine-tuned model at {model_dir} changed the base model's {what}{detail}")
    return f"{model_dir}: tokenizer, chat template and generation config equal the base model's"


def check_stops(samples, stage):
    """Some samples of a fine-tuned model end before the token limit (else it never learnt to stop)."""
    stopped = int((samples["finish_reason"] == "stop").sum())
    if not stopped:
        raise RehearsalError(stage, f"none of {len(samples)} samples stopped before the token limit: the fine-tuned "
                             "model never ends a completion with a token generation stops on")
    return f"{stage}: {stopped} of {len(samples)} samples stop before the limit"


def check_artifacts(paths):
    """Every artifact exists and is not empty (a Parquet file has rows, a folder has files)."""
    for stage, path in paths:
        if os.path.isdir(path):
            empty = not os.listdir(path)
        elif not os.path.exists(path):
            raise RehearsalError(stage, f"{path} was not written")
        elif path.endswith(".parquet"):
            empty = pd.read_parquet(path).empty
        else:
            empty = os.path.getsize(path) == 0
        if empty and path.endswith("sft_val.parquet"):
            continue  # a validation set may be empty by design (prune.val_size: 0)
        if empty:
            hint = " (no think sample survived pruning)" if "sft_train" in path else ""
            raise RehearsalError(stage, f"{path} is empty{hint}")
    return f"{len(paths)} artifacts exist and are not empty"


# ---- The summary ----

def stage_of(benchmark):
    """The stage of a benchmark file's name: generate_think_0 -> generate think, finetune -> finetune."""
    name = os.path.splitext(os.path.basename(benchmark))[0]
    parts = [p for p in name.split("_") if not p.isdigit()]
    return " ".join(parts)


def timings(benchmarks_dir):
    """Seconds and jobs per stage, from the jobs' benchmark files."""
    rows = []
    for path in sorted(glob.glob(os.path.join(benchmarks_dir, "**", "*.tsv"), recursive=True)):
        seconds = float(pd.read_csv(path, sep="\t")["s"].iloc[0])
        rows.append({"stage": stage_of(path), "seconds": seconds})
    if not rows:
        return pd.DataFrame(columns=["stage", "jobs", "seconds"])
    df = pd.DataFrame(rows)
    return df.groupby("stage", sort=False).agg(jobs=("seconds", "size"), seconds=("seconds", "sum")).reset_index()


def ran(config):
    """What the rehearsal ran, in words: the sampling backend and the fine-tune's method and processes."""
    from tpt import launch

    s, f = config["sampling"], config["finetune"]
    nodes, per_node, strategy = launch.plan(config)
    tp = s["vllm"]["tensor_parallel_size"] if s["backend"] == "vllm" else 1
    context = s["max_model_len"] or "the model's"
    return [f"sampling: {s['backend']}" + (" (vLLM's CPU build)" if s["backend"] == "vllm" else "")
            + f", dtype {s['dtype'] or 'auto'}, max_model_len {context}"
            + (f", tensor parallel over {tp} CPU workers" if tp > 1 else ""),
            f"fine-tune: {f['method']}" + (f" (LoRA r={f['lora']['r']})" if f["method"] == "lora" else "")
            + (f", {strategy} over {nodes * per_node} CPU processes" if strategy else ", 1 process")
            + f", attention {f['attn_implementation'] or 'default'}, max_length {f['max_length']}",
            f"task: {config['task']['name']}, scorer criterion {config['verify']['criterion']}, "
            f"prune {config['prune']['strategy']}"]


def summary(config_name, checks, times, what_ran=()):
    """The rehearsal's summary as Markdown: what ran, the stages' jobs and time, then what was checked."""
    lines = [f"# Rehearsal of {config_name}", ""] + [f"- {line}" for line in what_ran]
    lines += ["", "| stage | jobs | seconds |", "|---|---|---|"]
    lines += [f"| {r.stage} | {r.jobs} | {r.seconds:.1f} |" for r in times.itertuples()]
    lines += ["", f"Total: {times['seconds'].sum():.0f} s of jobs.", "", "Checked:"]
    lines += [f"- {c}" for c in checks]
    return "\n".join(lines) + "\n"
