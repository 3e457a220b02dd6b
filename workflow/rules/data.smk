rule problems:
    output:
        problems_path("{split}"),
    log:
        f"{R}/logs/problems_{{split}}.log",
    benchmark:
        f"{R}/benchmarks/problems_{{split}}.tsv"
    conda:
        conda_env("light")
    params:
        task=config["task"],
    script:
        "../scripts/problems.py"
