"""Judging model-written programs (CodeContests-style stdin/stdout tasks) in a sandbox: a library that imports
nothing of tpt above it but leaf modules that import nothing of tpt themselves (tpt.progress, its log lines;
tests/test_code_layers.py). The tpt-judge command, which needs the tasks, is tpt.judge_cli.

- sandbox.py: run an untrusted program with OS-level isolation (namespaces, uid drop, rlimits): the host side,
              which starts and drives the sandbox servers; the backends (BACKENDS)
- sandbox_server.py: the server that runs INSIDE the sandbox (standard library only), one per worker
- compare.py: CodeContests output comparison (tokens, float tolerance)
- judge.py:   extract the program from a completion, run it on a problem's tests, give a verdict
- selftest.py: a gate that checks the judge on known-correct and known-wrong programs (selftest_solutions/)
- validate.py: judge a problem's known solutions, to find problems whose tests cannot judge (task.validate)
- verify.py:  a code problem's `answer` (its tests and limits as JSON) and the VERDICTS columns of a completion
"""
