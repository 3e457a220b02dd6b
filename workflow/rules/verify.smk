# Verify: score each sample with its task's scorer (math: the final answer; code: the program run on the
# problem's tests in the sandbox, threads.verify tests at once).
rule verify:
    input:
        samples=samples_path(),
        problems=lambda w: problems_path(SPLIT[w.phase]),
        selftest=[JUDGE_SELFTEST] if CODE_TASK else [],
    output:
        verdicts_path(),
    log:
        log_path("verify_{phase}", "{round}"),
    benchmark:
        benchmark_path("verify_{phase}", "{round}")
    conda:
        conda_env("judge")
    threads: config["threads"]["verify"]
    params:
        task=lambda w: stages.param(config, "verify", "task", phase=w.phase),
        verify=lambda w: stages.param(config, "verify", "verify", phase=w.phase),
    script:
        "../scripts/verify.py"


# Code tasks: before a run trusts the judge, known-correct programs must pass and known-wrong ones fail the
# expected way (tpt.code.selftest), in the sandbox the verify jobs will use.
rule judge_selftest:
    output:
        JUDGE_SELFTEST,
    log:
        log_path("judge_selftest"),
    benchmark:
        benchmark_path("judge_selftest")
    conda:
        conda_env("judge")
    params:
        code=stages.param(config, "judge_selftest", "verify.code"),
    script:
        "../scripts/judge_selftest.py"
