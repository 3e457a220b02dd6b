"""What a run tells its user: errors and progress in the job logs, training curves, model cards, cost and the
estimate before a run (issue 12)."""
import logging
import os
import subprocess
import sys

import pandas as pd
import pytest

from helpers import TINY, _merge, snakemake

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(REPO, "src")


def test_an_uncaught_exception_ends_the_log_with_its_traceback(tmp_path):
    log = tmp_path / "logs" / "job.log"
    script = ("from tpt import runlog\n"
              f"log = runlog.start({str(log)!r}, 'demo')\n"
              "log.info('first line')\n"
              "def inner():\n    raise ValueError('the prompts do not fit')\n"
              "inner()\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert run.returncode == 1
    text = log.read_text()
    assert text.splitlines()[0].endswith("tpt.demo: first line")
    assert "job failed: ValueError: the prompts do not fit" in text and "Traceback (most recent call last)" in text
    assert "in inner" in text and text.rstrip().endswith("ValueError: the prompts do not fit")
    assert run.stderr.count("Traceback") == 1  # the terminal gets it once, not twice


def test_a_rule_script_logs_to_its_rules_log_and_without_one_to_the_terminal_only(tmp_path):
    """runlog.start_rule(snakemake) takes the rule's log file and name; a job with no log file logs to stderr."""
    script = ("import sys, types\nfrom tpt import runlog\n"
              "job = types.SimpleNamespace(log=sys.argv[2:], rule='prune')\n"
              "getattr(runlog, sys.argv[1])(job).info('kept %d examples', 12)\n")
    log = tmp_path / "rule.log"
    for args in ([str(log)], []):
        run = subprocess.run([sys.executable, "-c", script, "start_rule", *args], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": SRC})
        assert run.returncode == 0, run.stderr
        assert run.stderr.rstrip().endswith("tpt.prune: kept 12 examples")
    assert log.read_text().rstrip().endswith("tpt.prune: kept 12 examples")
    assert [p.name for p in tmp_path.rglob("*.log")] == ["rule.log"]


def test_a_job_that_does_not_train_with_deepspeed_is_spared_its_accelerator_warning(tmp_path):
    # DeepSpeed, wherever installed, is imported by transformers' Trainer; without a GPU it warns "Setting accelerator
    # to CPU". A job's log keeps DeepSpeed's other messages, and that one too when accelerate launches DeepSpeed.
    import importlib.util

    script = ("import logging, sys\nfrom tpt import runlog\nrunlog.start(None, 'demo')\n"
              "ds = logging.getLogger('DeepSpeed')\n"
              "ds.warning('Setting accelerator to CPU. If you have GPU or other accelerator, we were unable to detect "
              "it.')\nds.warning('ZeRO stage 3 is on')\n"
              "if sys.argv[1] == 'import':\n    import deepspeed  # noqa\n")
    env = {k: v for k, v in os.environ.items() if k != "ACCELERATE_USE_DEEPSPEED"}
    for use_deepspeed in (False, True):
        run = subprocess.run([sys.executable, "-c", script, "-"], capture_output=True, text=True,
                             env={**env, "PYTHONPATH": SRC, **({"ACCELERATE_USE_DEEPSPEED": "true"} if use_deepspeed
                                                              else {})})
        assert run.returncode == 0, run.stderr
        assert "ZeRO stage 3 is on" in run.stderr
        assert ("Setting accelerator to CPU" in run.stderr) == use_deepspeed
    if importlib.util.find_spec("deepspeed"):  # the real import, as the Trainer does it
        run = subprocess.run([sys.executable, "-c", script, "import"], capture_output=True, text=True,
                             env={**env, "PYTHONPATH": SRC})
        assert run.returncode == 0, run.stderr[-2000:]
        assert "Setting accelerator" not in run.stdout + run.stderr


@pytest.mark.slow
def test_failing_jobs_leave_their_error_in_their_log(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    # sampling (a script rule): the eval prompts do not leave room for max_new_tokens in the model's context
    run = snakemake(tmp_path / "a", _merge(TINY, {"eval": {"max_new_tokens": 200}}),
                    "results/round_0/eval/samples.parquet")
    assert run.returncode != 0
    log = (tmp_path / "a/results/logs/round_0/generate_eval_0.log").read_text()
    assert "Traceback" in log and log.rstrip().splitlines()[-1].startswith(
        "ValueError: 3 prompts do not leave room for max_new_tokens=200")

    # fine-tune (a shell rule through tpt.launch): the training examples do not fit in finetune.max_length
    run = snakemake(tmp_path / "b", _merge(TINY, {"finetune": {"max_length": 20}}), "results/models/round_1")
    assert run.returncode != 0
    log = (tmp_path / "b/results/logs/round_1/finetune.log").read_text()
    assert "fine-tuning" in log.splitlines()[0]
    assert "Traceback" in log and "more than finetune.max_length=20" in log.rstrip().splitlines()[-1]


def _lines(caplog, prefix):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def test_progress_logs_done_of_total_speed_and_time_left(caplog, monkeypatch):
    from tpt import progress

    clock = iter([0.0, 10.0, 20.0, 25.0, 40.0])  # start, then one reading per update
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    caplog.set_level(logging.INFO)
    p = progress.Progress("sampling", 40, interval_s=15)
    p.update(10, tokens=1000)   # t=10: not yet 15 s since the start
    p.update(10, tokens=1000)   # t=20: due
    p.update(10, tokens=1000)   # t=25: 5 s after the last line
    p.update(10, tokens=1000)   # t=40: the end is always logged
    assert _lines(caplog, "sampling") == ["sampling: 20/40 samples (50%), 100 tokens/s, 20s left",
                                          "sampling: 40/40 samples (100%), 100 tokens/s, done in 40s"]


@pytest.mark.parametrize("backend", ["hf", pytest.param("vllm", marks=pytest.mark.slow)])
def test_sampling_logs_progress_on_both_backends(tiny_model, caplog, backend):
    from tpt import sampling

    caplog.set_level(logging.INFO)
    problems = pd.DataFrame({"problem_id": [f"p{i}" for i in range(3)], "question": ["What is 2 plus 3?"] * 3})
    requests = sampling.make_requests(problems, lambda q: q, "eval", 0, 4, 0)
    cfg = {"backend": backend, "batch_size": 4, "progress_interval_s": 0,
           "vllm": {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.9, "enforce_eager": True,
                    "cpu_kvcache_gb": 1}}
    samples = sampling.generate(sampling.load_sampler(tiny_model, cfg), requests, "tiny", 0.8, 1.0, 8)
    lines = _lines(caplog, "sampling: ")
    done = [int(line.split(": ")[1].split("/")[0].replace(",", "")) for line in lines]
    assert done == sorted(done) and done[-1] == 12 and len(done) >= (3 if backend == "hf" else 1)
    assert "12/12 samples (100%)" in lines[-1] and "done in" in lines[-1]
    speed = float(lines[-1].split(", ")[1].split(" tokens/s")[0].replace(",", ""))
    assert speed > 0 and samples["completion_tokens"].sum() > 0


def test_the_judge_logs_progress(caplog):
    from tpt.code.judge import judge_many
    from tpt.progress import Progress

    caplog.set_level(logging.INFO)
    rows = [{"completion": "no code here", "tests": [("1\n", "2\n")], "time_limit_s": 1.0,
             "memory_limit_bytes": 2 ** 28}] * 5
    verdicts = judge_many(rows, workers=2, progress=Progress("judge", len(rows), 0))
    assert [v["failure"] for v in verdicts] == ["no_code"] * 5
    lines = _lines(caplog, "judge: ")
    assert len(lines) == 5 and lines[-1].startswith("judge: 5/5 samples (100%)")


# ----------------------------------------------------------------------------- training curves (unit)
def test_the_training_curve_keeps_the_steps_before_a_resume(tiny_model, tmp_path):
    from test_train import CFG, ROWS, Killed, KillAfter
    from tpt import artifacts, train

    scratch, curve = str(tmp_path / "scratch"), str(tmp_path / "logs" / "finetune_loss.parquet")
    cfg = {**CFG, "epochs": 2, "save_steps": 2}
    with pytest.raises(Killed):
        train.finetune(tiny_model, str(tmp_path / "out"), ROWS, ROWS[:2], cfg, scratch, callbacks=[KillAfter(3)],
                       curve_path=curve)
    assert not os.path.exists(curve)  # written with the model, not before
    train.finetune(tiny_model, str(tmp_path / "out"), ROWS, ROWS[:2], cfg, scratch, curve_path=curve)
    c = artifacts.read(curve, artifacts.TRAINING_CURVE)
    assert c[c["split"] == "train"]["step"].tolist() == [1, 2, 3, 4]  # 8 rows / batch 4 x 2 epochs, one per step
    # the validation after the killed run's first epoch is not in its checkpoint (the Trainer saves first)
    assert c[c["split"] == "val"]["step"].tolist()[-1] == 4 and (c["loss"] > 0).all()
    assert c[c["split"] == "train"]["learning_rate"].notna().all()


def test_report_to_is_off_by_default_and_passes_trackers_through(monkeypatch):
    from tpt import train
    from tpt.config import ConfigError, _check_report_to

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    assert train.report_to({}) == [] and train.report_to({"report_to": "none"}) == []
    assert train.report_to({"report_to": ["tensorboard", "wandb"]}, "r/logs/round_1/finetune_loss.parquet") == [
        "tensorboard", "wandb"]
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == "r/logs/round_1/finetune_loss_tensorboard"
    with pytest.raises(ConfigError, match="finetune.report_to.*not installed"):
        _check_report_to(["no_such_tracker_xyz"])


# ----------------------------------------------------------------------------- a tiny run, looked at closely
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A one-round tiny run with progress logged after every batch of 4 samples and the loss every step."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    config = _merge(TINY, {"sampling": {"batch_size": 4, "progress_interval_s": 0}, "finetune": {"logging_steps": 1}})
    run = snakemake(workdir, config)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir / "results", config


@pytest.mark.slow
def test_a_tiny_run_logs_progress_and_plots_its_training_curve(tiny_run):
    from tpt import artifacts

    res, _ = tiny_run
    think = (res / "logs/round_1/generate_think_0.log").read_text()
    lines = [line.split("tpt.progress: ")[1] for line in think.splitlines() if "tpt.progress: sampling" in line]
    assert [line.split(" samples")[0] for line in lines] == ["sampling: 4/8", "sampling: 8/8"]
    assert "tokens/s" in lines[0] and "left" in lines[0] and "done in" in lines[1]

    curve = artifacts.read(str(res / "logs/round_1/finetune_loss.parquet"), artifacts.TRAINING_CURVE)
    assert curve.columns.tolist() == ["step", "epoch", "split", "loss", "learning_rate"]
    # 6 training examples in batches of 4, one epoch: 2 steps, both logged; validation after the epoch
    assert curve[curve["split"] == "train"]["step"].tolist() == [1, 2]
    assert curve[curve["split"] == "val"]["step"].tolist() == [2]
    finetune_log = (res / "logs/round_1/finetune.log").read_text()
    assert f"loss {curve['loss'].iloc[0]:.4g}" in finetune_log  # the same figures as the log's
    png = res / "report/training_loss.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000


@pytest.mark.slow
def test_each_round_has_a_model_card(tiny_run):
    from tpt import artifacts

    res, _ = tiny_run
    card = (res / "models/round_1/README.md").read_text()
    for field in ("base_model: null", "# arith: round 1", "- **Base model**: builtin",
                  "trained from results/models/round_0", "8 examples (2 held out for validation)",
                  "2 samples per arith train problem at temperature 0.8", "`strict` scoring", "strategy `none`",
                  "full fine-tuning, 1 epoch(s), learning rate 0.0005", "- **Seed**: 0", "## Evaluation",
                  "`<results>/round_1/eval/metrics.parquet`", "`<results>/report/model_cards/round_1.md`"):
        assert field in card, field
    full = (res / "report/model_cards/round_1.md").read_text()
    assert full.startswith(card.split("## Evaluation")[0])
    metrics = artifacts.read(str(res / "round_1/eval/metrics.parquet"), artifacts.METRICS)
    p1 = metrics[(metrics["metric"] == "pass@k_flexible") & (metrics["k"] == 1)].iloc[0]
    assert f"| Pass@1 flexible | {100 * p1['value']:.1f} ± {100 * p1['stderr']:.1f} |" in full
    assert "On 3 test problems, 3 samples each" in full


@pytest.mark.slow
def test_the_cost_table_adds_up_the_benchmark_files(tiny_run):
    from tpt import artifacts

    res, config = tiny_run
    cost = artifacts.read(str(res / "report/cost.parquet"), artifacts.COST)
    bench = {}
    for path in (res / "benchmarks").rglob("*.tsv"):
        bench[path.relative_to(res / "benchmarks").as_posix()] = pd.read_csv(path, sep="\t").iloc[0]
    del bench["report.tsv"]  # the report's own job: written after it ends, so not in its table
    assert len(cost) == len(bench) and cost["jobs"].sum() == len(bench)

    def row(round_, stage):
        sel = cost[(cost["round"] == round_) & (cost["stage"] == stage)] if round_ is not None else \
            cost[cost["round"].isna() & (cost["stage"] == stage)]
        assert len(sel) == 1, (round_, stage)
        return sel.iloc[0]

    for name, b in bench.items():
        round_ = int(name.split("/")[0][len("round_"):]) if name.startswith("round_") else (
            0 if name == "base_model.tsv" else None)
        stage = name.split("/")[-1][:-len(".tsv")].removesuffix("_0")
        r = row(round_, stage)
        assert r["wall_s"] == pytest.approx(b["s"]) and r["cpu_s"] == pytest.approx(b["cpu_time"])
        assert r["peak_rss_mb"] == pytest.approx(b["max_rss"])
    assert cost["wall_s"].sum() == pytest.approx(sum(b["s"] for b in bench.values()))
    assert (cost["gpu_s"] == 0).all()  # the tiny run asks for no GPU

    for round_, phase in [(0, "eval"), (1, "think"), (1, "eval")]:
        samples = artifacts.read(str(res / f"round_{round_}/{phase}/samples.parquet"), artifacts.SAMPLES)
        r = row(round_, f"generate_{phase}")
        assert (r["samples"], r["prompt_tokens"], r["completion_tokens"]) == (
            len(samples), samples["prompt_tokens"].sum(), samples["completion_tokens"].sum())
    r = row(1, "finetune")
    sft = artifacts.read(str(res / "round_1/prune/sft_train.parquet"), artifacts.SFT)
    from transformers import AutoTokenizer

    from tpt import train
    tokens = sum(len(f["input_ids"]) for f in train.encode(AutoTokenizer.from_pretrained(str(res / "models/round_0")),
                                                           sft.to_dict("records"), 128))
    assert r["train_examples"] == len(sft) == 6 and r["train_tokens"] == tokens * config["finetune"]["epochs"]

    summary = (res / "report/summary.md").read_text()
    assert f"{cost['samples'].sum():,} samples generated" in summary and "| total |" in summary
    html = (res / "report/cost.html").read_text()
    assert "<table" in html and "GPU-hours" in html
    assert (res / "report/cost.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_the_estimate_is_within_20_percent_of_a_tiny_runs_tokens(tiny_run):
    from tpt import artifacts, estimate

    res, config = tiny_run
    workdir = res.parent
    # the run's config files, as tests/helpers.command gives them: the default run, then the test's own keys
    configfiles = [os.path.join(REPO, "config.yaml"), str(workdir / "test-config.yaml")]
    full = estimate.load_config(configfiles, REPO)
    full["results"] = str(res)
    table, assumptions = estimate.estimate(full, estimate.load_tokenizer(full))
    cost = artifacts.read(str(res / "report/cost.parquet"), artifacts.COST)
    for round_ in (0, 1):
        e = table[table["round"] == round_].iloc[0]
        for phase in ("think", "eval") if round_ else ("eval",):
            actual = cost[(cost["round"] == round_) & (cost["stage"] == f"generate_{phase}")].iloc[0]
            assert e[f"{phase}_samples"] == actual["samples"]
            assert e[f"{phase}_prompt_tokens"] == actual["prompt_tokens"]  # counted, not assumed
            assert e[f"{phase}_completion_tokens"] == pytest.approx(actual["completion_tokens"], rel=0.2)
    e, actual = table.iloc[1], cost[(cost["round"] == 1) & (cost["stage"] == "finetune")].iloc[0]
    assert e["train_examples"] == actual["train_examples"]
    assert e["train_tokens"] == pytest.approx(actual["train_tokens"], rel=0.2)
    assert any("gold worked solutions" in a for a in assumptions)

    # the command prints the same figures, with its assumptions and the hours
    run = subprocess.run([sys.executable, "-m", "tpt.estimate", "--workflow-dir", REPO, "--configfile",
                          *configfiles], capture_output=True, text=True, cwd=workdir,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert run.returncode == 0, run.stderr[-2000:]
    total = run.stdout.splitlines()[3].split()
    assert total[0] == "total" and total[1:4] == [f"{table['think_samples'].sum():,}",
                                                  f"{table['think_prompt_tokens'].sum():,}",
                                                  f"{table['think_completion_tokens'].sum():,}"]
    assert "assumptions:" in run.stdout and "GPU-hours" in run.stdout.splitlines()[0]


def test_the_estimate_reads_a_preset_and_scales_gpu_hours(tmp_path):
    from tpt import estimate

    config = estimate.load_config([os.path.join(REPO, "config/presets/gsm8k-gemma2-9b.yaml")], REPO)
    assert estimate.model_billions(config) == 9
    table = pd.DataFrame({"round": [0, 1], "think_completion_tokens": [0, 3_600_000],
                          "eval_completion_tokens": [36_000, 36_000], "train_tokens": [0, 1_000_000]})
    h = estimate.hours(table, config, generate_tokens_per_s=1000, train_tokens_per_s=100)
    gen_gpus = config["resources"]["generate"]["gpu"]
    ft_gpus = config["resources"]["finetune"]["gpu"] * config["resources"]["finetune"]["nodes"]
    assert h["generate_hours"].tolist() == pytest.approx([36_000 / (1000 * gen_gpus) / 3600,
                                                          3_636_000 / (1000 * gen_gpus) / 3600])
    assert h["gpu_hours"].iloc[1] == pytest.approx(3_636_000 / 1000 / 3600 + 1_000_000 / 100 / 3600)
    assert ft_gpus >= 1


def test_reading_some_columns_of_an_artifact_still_checks_all_of_them(tmp_path):
    from tpt import artifacts

    df = pd.DataFrame({"round": [1], "metric": ["pass@k_strict"], "k": [1], "value": [0.5], "stderr": [0.1]})
    artifacts.write(df, str(tmp_path / "m.parquet"), artifacts.METRICS)
    got = artifacts.read(str(tmp_path / "m.parquet"), artifacts.METRICS, ["metric", "value"])
    assert got.columns.tolist() == ["metric", "value"] and got["value"].tolist() == [0.5]
    with pytest.raises(ValueError, match="does not have the expected columns"):
        artifacts.read(str(tmp_path / "m.parquet"), artifacts.SFT, ["sample_id"])


def test_summary_md_names_the_runs_own_cost_table():
    # a preset writes to results/<preset>/: the summary's cost line and the cost page name that run's file
    from tpt import cost, paths, report

    costs = cost.cost_table(pd.DataFrame({"round": [0], "stage": ["generate_eval"], "wall_s": [60.0], "cpu_s": [30.0],
                                          "peak_rss_mb": [100.0]}), {}, {}, {})
    metrics = pd.DataFrame([{"round": 0, "metric": m, "k": k, "value": v, "stderr": se} for m, k, v, se in [
        ("pass@k_strict", 1, 0.5, 0.1), ("pass@k_strict", 2, 0.7, 0.1), ("correct@k_strict", 2, 0.5, 0.1),
        ("samples_per_problem", None, 2, None), ("no_answer_rate", None, 0.0, None),
        ("truncation_rate", None, 0.0, None), ("mean_completion_tokens", None, 40, None),
        ("problems", None, 10, None), ("coverage", None, 0.8, None), ("distinct_correct", None, 1.0, None),
        ("distinct_answers", None, 1.5, None)]])
    table = report.summary(metrics)
    spread = report.diversity(metrics, metrics.head(0))
    path = paths.report("results/gsm8k-gemma2-2b", "cost.parquet")
    md = report.summary_md(table, spread, costs, path, {"test": pd.DataFrame({"checked": [False]})})
    assert "tokens trained (results/gsm8k-gemma2-2b/report/cost.parquet)." in md and "results/report/" not in md
    assert md.startswith(report.markdown(table)) and "| total |" in md and "Diversity" in md
    assert "Per stage: results/gsm8k-gemma2-2b/report/cost.parquet." in cost.html(costs, path)


def test_the_cost_of_a_round_that_trains_on_earlier_rounds_examples_too():
    """prune.accumulate: round 2 trains on its own example and one of round 1's; the prompt tokens of both count."""
    from tpt import cost

    bench = pd.DataFrame({"round": [1, 2], "stage": ["finetune", "finetune"], "wall_s": [3.0, 4.0],
                          "cpu_s": [3.0, 4.0], "peak_rss_mb": [100.0, 100.0]})
    think = {r: pd.DataFrame({"sample_id": [f"think/r{r}/a/0"], "prompt_tokens": [10 * r],
                              "completion_tokens": [r]}) for r in (1, 2)}
    sft = {1: pd.DataFrame({"sample_id": ["think/r1/a/0"], "completion": ["x"]}),
           2: pd.DataFrame({"sample_id": ["think/r2/a/0", "think/r1/a/0"], "completion": ["y", "x"]})}
    trained = {1: (sft[1], think[1], 2, None), 2: (sft[2], pd.concat([think[1], think[2]]), 2, None)}
    table = cost.cost_table(bench, {}, {}, trained).set_index("round")
    assert table.loc[1, "train_tokens"] == 2 * (10 + 1 + 1)
    assert table.loc[2, "train_examples"] == 2 and table.loc[2, "train_tokens"] == 2 * ((20 + 2 + 1) + (10 + 1 + 1))
