"""Judging model-written programs (CodeContests-style stdin/stdout tasks) in a sandbox.

- sandbox.py: run an untrusted program with OS-level isolation (namespaces, uid drop, rlimits)
- compare.py: CodeContests output comparison (tokens, float tolerance)
- judge.py:   extract the program from a completion, run it on a problem's tests, give a verdict
- selftest.py: a gate that checks the judge on known-correct and known-wrong programs (selftest_solutions/)
- verify.py:  a code problem's `answer` (its tests and limits as JSON) and the VERDICTS columns of a completion
- cli.py:     tpt-judge, the judge as a command outside the workflow
"""
