rule problems:
    output:
        problems=problems_path("{split}"),
        checks=problem_checks_path("{split}"),
    log:
        f"{R}/logs/problems_{{split}}.log",
    benchmark:
        f"{R}/benchmarks/problems_{{split}}.tsv"
    conda:
        conda_env("light")
    params:
        task=config["task"],
        code=config["verify"]["code"],
    script:
        "../scripts/problems.py"
