"""The package's layers, read from the source (ast): every module of tpt sits on a floor (FLOORS, below: the one
place they are written down) and imports only modules of its own floor or the floors under it, with no import
circle; the judge library tpt.code imports nothing of tpt above it, the sandbox server (the file that runs inside
the sandbox) imports the standard library only, and the console scripts of pyproject.toml name functions that
exist."""
import ast
import importlib
import importlib.util
import os
import subprocess
import sys
import tomllib

import tpt

SRC = os.path.dirname(tpt.__file__)
ROOT = os.path.dirname(os.path.dirname(SRC))
# modules outside tpt.code that tpt.code may use: leaves, which import nothing of tpt themselves
LEAVES = {"tpt.progress", "tpt.artifacts"}

# The package's floors, bottom first. A module imports modules of its own floor (without a circle) or of lower ones,
# never of a higher floor. A new module goes on the lowest floor that holds everything it imports.
FLOORS = [
    # leaves: import nothing of tpt but the leaves beside them
    {"tpt", "tpt.artifacts", "tpt.errors", "tpt.progress", "tpt.runlog", "tpt.chat", "tpt.paths",
     "tpt.card", "tpt.code", "tpt.code.sandbox_server", "tpt.code.compare", "tpt.scheduling"},
    # the judge library (tpt.code): the sandbox's host side, the judge, its verify and self-test
    {"tpt.code.sandbox", "tpt.code.judge", "tpt.code.verify", "tpt.code.validate", "tpt.code.selftest"},
    # one stage's logic each: scorers, tasks, sampling, training, diversity
    {"tpt.gsm8k_scorer", "tpt.scorers", "tpt.tasks", "tpt.tasks.arith", "tpt.tasks.gsm8k", "tpt.tasks.codecontests",
     "tpt.tasks.mbpp", "tpt.tasks.custom", "tpt.verify", "tpt.sampling", "tpt.sampling.hf", "tpt.sampling.vllm",
     "tpt.train", "tpt.losses", "tpt.diversity", "tpt.probe"},
    # what reads several stages' artifacts or the whole config
    {"tpt.metrics", "tpt.prune", "tpt.cost", "tpt.config", "tpt.tiny", "tpt.stages"},
    # the outputs and the entry points: report, comparison, experiments, rehearsal, estimate, launcher, judge CLI
    {"tpt.report", "tpt.compare", "tpt.experiment", "tpt.sharing", "tpt.rehearsal", "tpt.estimate", "tpt.launch",
     "tpt.judge_cli"},
]


def module_name(path):
    return ("tpt." + os.path.relpath(path, SRC)[:-len(".py")].replace(os.sep, ".")).removesuffix(".__init__")


def imported(path):
    """Every module a source file imports (at its top or inside functions), as absolute dotted names: for
    `from tpt import x` both tpt and tpt.x where x is a module."""
    package = module_name(path).rsplit(".", 1)[0] if not path.endswith("__init__.py") else module_name(path)
    names = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from its package (one level per dot above the first)
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}"))
    return names


def is_module(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # (a name inside a module, not a module)
        return False


def code_modules():
    top = os.path.join(SRC, "code")
    return sorted(os.path.join(top, f) for f in os.listdir(top) if f.endswith(".py"))


def package_modules():
    """{module name: path} of every module of tpt (the self-test's solution programs are data, not modules)."""
    out = {}
    for folder, dirs, files in os.walk(SRC):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", "selftest_solutions")]
        out.update({module_name(os.path.join(folder, f)): os.path.join(folder, f) for f in files if f.endswith(".py")})
    return out


def import_graph():
    """{module: the modules of tpt it imports}."""
    modules = package_modules()
    return {m: {n for n in imported(p) if n in modules and n not in (m, "tpt")} for m, p in modules.items()}


def test_every_module_is_on_one_floor():
    placed = [m for floor in FLOORS for m in floor]
    assert len(placed) == len(set(placed)), "a module on two floors"
    assert set(placed) == set(package_modules()), (f"not on a floor: {sorted(set(package_modules()) - set(placed))}; "
                                                   f"no such module: {sorted(set(placed) - set(package_modules()))}")


def test_no_module_imports_from_a_floor_above_it():
    floor_of = {m: i for i, floor in enumerate(FLOORS) for m in floor}
    upward = [f"{m} (floor {floor_of[m]}) imports {n} (floor {floor_of[n]})"
              for m, names in import_graph().items() for n in sorted(names) if floor_of[n] > floor_of[m]]
    assert not upward, "\n".join(upward)


def find_cycle(graph):
    """An import circle of graph as a list of modules (first = last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_package_has_no_import_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the checker finds one
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_imported_sees_every_import_form(tmp_path):
    # the checker itself: plain, from, nested and relative imports are all found
    code = tmp_path / "tpt_fake.py"
    code.write_text("import os\nfrom tpt import tasks\n\ndef f():\n    from tpt.verify import verify\n")
    found = imported(str(code))
    assert {"os", "tpt.tasks", "tpt.verify"} <= found


def test_tpt_code_imports_nothing_above_it():
    assert len(code_modules()) >= 8  # __init__, sandbox, sandbox_server, judge, compare, verify, selftest, ...
    for path in code_modules():
        above = {name for name in imported(path)
                 if name.startswith("tpt.") and not name.startswith("tpt.code")}
        assert above <= LEAVES, f"{module_name(path)} imports {sorted(above - LEAVES)}, above tpt.code"


def test_the_leaves_tpt_code_uses_import_nothing_of_tpt():
    for leaf in LEAVES:
        path = os.path.join(SRC, leaf.split(".", 1)[1] + ".py")
        assert not {n for n in imported(path) if n == "tpt" or n.startswith("tpt.")}, f"{leaf} imports tpt"


def test_the_sandbox_server_imports_only_the_standard_library():
    from tpt.code import sandbox

    path = sandbox.SERVER
    assert os.path.basename(path) == "sandbox_server.py" and os.path.dirname(path) == os.path.join(SRC, "code")
    tops = {name.split(".")[0] for name in imported(path)}
    assert tops <= set(sys.stdlib_module_names), sorted(tops - set(sys.stdlib_module_names))
    # and it loads as the sandbox runs it: the sandbox's interpreter, isolated (-I: no PYTHONPATH, no user site),
    # without site-packages (-S), the empty environment, from "/"; no module it holds is outside the stdlib
    show = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] not in {*sys.stdlib_module_names, '__main__'}))")
    run = subprocess.run([sandbox._sandbox_python(), "-I", "-S", "-c", show, path], env=sandbox.MIN_ENV, cwd="/",
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_console_scripts_name_functions_that_exist():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert "tpt-judge" in scripts
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), f"{name} = {target}"
