"""The README and the pages of docs/: their links lead to files and headings that exist, and every `snakemake`
command of their code blocks plans as written (a dry run from the repository root; the rerun-one-round command
itself is run for real by tests/test_deploy.py, the custom example's tpt-estimate by tests/test_custom_task.py)."""
import glob
import os
import re
import shlex

import pytest

from test_deploy import REPO, snakemake_from_repo_root

PAGES = [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))


def code_block_commands(path):
    """The `snakemake ...` commands of a page's ```bash blocks, without their comments (a line ending in a
    backslash goes on on the next line)."""
    out, inside, going_on = [], False, False
    for line in open(path):
        if line.startswith("```"):
            inside, going_on = line.strip() == "```bash", False
            continue
        code = line.split("#")[0].strip()
        if inside and going_on:
            out[-1] = out[-1][:-1].rstrip() + " " + code
        elif inside and line.startswith("snakemake "):
            out.append(code)
        going_on = inside and (going_on or line.startswith("snakemake ")) and code.endswith("\\")
    return out


COMMANDS = sorted({(os.path.relpath(p, REPO), c) for p in PAGES for c in code_block_commands(p)})


def anchor(heading):
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_short_and_its_pages_exist():
    lines = open(PAGES[0]).read().splitlines()
    assert len(lines) <= 250, len(lines)
    assert "make run" in lines[13] + lines[14] and "make test" in lines[13] + lines[14]
    assert len(PAGES) >= 8 and len(COMMANDS) >= 15


@pytest.mark.parametrize("page", [os.path.relpath(p, REPO) for p in PAGES])
def test_links_lead_to_files_and_headings_that_exist(page):
    path = os.path.join(REPO, page)
    text = open(path).read()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("http"):
            continue
        file, _, heading = target.partition("#")
        linked = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        assert os.path.exists(linked), f"{page}: {target}"
        if heading:
            headings = [anchor(h) for h in re.findall(r"^#+ (.+)$", open(linked).read(), re.M)]
            assert heading in headings, f"{page}: {target} (headings: {headings})"


@pytest.mark.slow
@pytest.mark.parametrize("page, command", COMMANDS)
def test_every_snakemake_command_of_the_pages_plans_as_written(tmp_path, page, command):
    args = shlex.split(command)[1:]
    if "--sdm" in args:  # conda channels are out of reach here: the environments are checked by test_deploy
        pytest.skip("--sdm conda")
    if "*" in command:  # the shell's glob over shards of a run that exists: tests/test_deploy.py runs it for real
        pytest.skip("needs a finished run")
    run = snakemake_from_repo_root(tmp_path, *args, "-n")
    assert run.returncode == 0, f"{page}: {command}\n{run.stderr[-3000:]}"
