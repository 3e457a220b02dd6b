rule problems:
    output:
        problems_path("{split}"),
    log:
        f"{R}/logs/problems_{{split}}.log",
    params:
        task=config["task"],
    script:
        "../scripts/problems.py"
