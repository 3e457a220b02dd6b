"""Every file a run writes is named in one place, tpt.paths: no other file of the package, the workflow or the
benchmarks spells a path of the results folder's layout (the tests do, to check it)."""
import ast
import glob
import os
import re

import tpt
from tpt import paths, stages

SRC = os.path.dirname(tpt.__file__)
ROOT = os.path.dirname(os.path.dirname(SRC))
# a results path: the results folder, a round's folder, or one of the layout's folders
# (not the report's captions in workflow/report/, nor the scripts of benchmarks/)
LAYOUT = re.compile(r"(^|[^\w.])(?<!\.\./)(?<!workflow/)(results/|round_([{<*\d]|$)"
                    r"|(models|data|logs|report|scratch|judge|prune|think|eval|shards|model_cards)/"
                    r"|benchmarks/(?!\w+\.(sh|py)\b))")
EXEMPT = {os.path.join(SRC, "paths.py")}


def python_strings(path):
    """The string constants of a Python file (f-strings' literal parts included), less its docstrings."""
    tree = ast.parse(open(path).read(), path)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def snakemake_strings(path):
    """The quoted strings of a Snakemake file's lines, less its comments."""
    out = []
    for number, line in enumerate(open(path), 1):
        code = re.sub(r"#.*$", "", line) if not re.search(r"[\"'][^\"']*#", line) else line
        out += [(number, a or b) for a, b in re.findall(r'"([^"]*)"|\'([^\']*)\'', code)]
    return out


def sources():
    files = glob.glob(os.path.join(SRC, "**", "*.py"), recursive=True)
    files = [f for f in files if f not in EXEMPT and "selftest_solutions" not in f]
    files += glob.glob(os.path.join(ROOT, "workflow", "scripts", "*.py"))
    files += glob.glob(os.path.join(ROOT, "benchmarks", "*.py"))
    files += glob.glob(os.path.join(ROOT, "workflow", "rules", "*.smk")) + [os.path.join(ROOT, "Snakefile")]
    return [f for f in files if f not in EXEMPT]


def test_the_checker_sees_a_results_path():
    for spelled in ("results/report/cost.parquet", "{results}/round_{r}/eval/metrics.parquet", "models/round_0",
                    "round_*", "/logs/", "benchmarks/round_1/x.tsv", "x/report/cost.html"):
        assert LAYOUT.search(spelled), spelled
    assert LAYOUT.search("x/round_")  # an f-string's literal part before {round}
    for fine in ("round_trip", "summary.md", "a round's eval", "think_metrics", "generate_{phase}_{shard}",
                 "../report/pass1.rst", "workflow/report/workflow.rst",  # the report's captions: sources
                 "bash benchmarks/gpu_check.sh --cpu"):
        assert not LAYOUT.search(fine), fine


def test_only_tpt_paths_spells_a_results_path():
    files = sources()
    assert len(files) > 40
    found = []
    for path in files:
        strings = snakemake_strings(path) if not path.endswith(".py") else python_strings(path)
        found += [f"{os.path.relpath(path, ROOT)}:{line}: {text!r}" for line, text in strings if LAYOUT.search(text)]
    assert not found, "\n".join(found)


def test_the_paths_of_a_round():
    assert paths.samples("results", 2, "eval") == "results/round_2/eval/samples.parquet"
    assert paths.shard("r", "{round}", "{phase}", "{shard}") == "r/round_{round}/{phase}/shards/samples_{shard}.parquet"
    assert paths.benchmark("r", "finetune", 3) == "r/benchmarks/round_3/finetune.tsv"
    assert paths.log("r", "report") == "r/logs/report.log"
    assert paths.relative(paths.model_dir("results/x", 0), "results/x") == "models/round_0"


def test_the_stage_list_is_the_workflows():
    # every job rule's benchmark file is a stage's (its wildcards expanded), and the GPU stages are the rules that
    # take their resources from the config's resources section (job_resources)
    rules = []  # name, body: each file split at its rules (a rule's body ends with its file)
    for f in glob.glob(os.path.join(ROOT, "workflow", "rules", "*.smk")):
        parts = re.split(r"^(?:rule|checkpoint) (\w+):", open(f).read(), flags=re.M)
        rules += zip(parts[1::2], parts[2::2])
    benchmarked, gpu = set(), set()
    for name, body in rules:
        for bench in re.findall(r'benchmark_path\("([^"]+)"', body):
            bench = re.sub(r"_\{shard\}$", "", bench)
            for phase, split in (("think", "train"), ("eval", "test")):
                benchmarked.add((bench.replace("{phase}", phase).replace("{split}", split), name))
        if "job_resources(" in body:
            gpu.add(name)
    assert benchmarked == {(s.name, s.rule) for s in stages.STAGES}
    assert gpu == {s.rule for s in stages.STAGES if s.gpu} == {"generate", "finetune", "base_model", "probe"}
    assert {s.name for s in stages.STAGES if s.sharded} == {"generate_think", "generate_eval"}
