rule problems:
    output:
        problems_path("{split}"),
    log:
        f"{R}/logs/problems_{{split}}.log",
    benchmark:
        f"{R}/benchmarks/problems_{{split}}.tsv",
    params:
        task=config["task"],
    conda:
        conda_env("light")
    script:
        "../scripts/problems.py"
