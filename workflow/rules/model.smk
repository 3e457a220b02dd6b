# The base model of the built-in task: a tiny Llama made locally and warmed up on the sloppy teacher's worked
# solutions, so that it half knows the task. A hub or local base model needs no rule.
rule base_model:
    output:
        directory(model_dir(0)),
    log:
        log_path("base_model"),
    benchmark:
        benchmark_path("base_model")
    conda:
        conda_env("train", "base_model")
    threads: config["threads"]["base_model"]
    resources:
        **job_resources("base_model"),
    params:
        task=config["task"],
        builtin=config["model"]["builtin"],
        finetune=config["finetune"],
        scratch=scratch_dir("base_model"),
    script:
        "../scripts/base_model.py"
