"""The package's layers, read from the source (ast): the judge library tpt.code imports nothing of tpt above it,
the sandbox server (the file that runs inside the sandbox) imports the standard library only, and the console
scripts of pyproject.toml name functions that exist."""
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


def module_name(path):
    return "tpt." + os.path.relpath(path, SRC)[:-len(".py")].replace(os.sep, ".").removesuffix(".__init__")


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
