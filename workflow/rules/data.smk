rule problems:
    output:
        problems=problems_path(),
        checks=problem_checks_path(),
    log:
        log_path("problems_{split}"),
    benchmark:
        benchmark_path("problems_{split}")
    localrule: True
    conda:
        conda_env("light")
    params:
        task=lambda w: stages.param(config, "problems", "task", split=w.split),
        code=lambda w: stages.param(config, "problems", "verify.code", split=w.split),
        rehearsal=config["rehearsal"],  # a rehearsal's sizes: it keeps the first few dozen problems
    script:
        "../scripts/problems.py"
