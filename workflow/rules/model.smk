# The base model made locally. The built-in task's: a tiny Llama made locally and warmed up on the sloppy
# teacher's worked solutions, so that it half knows the task. A rehearsal's (rehearsal: true): a miniature of the
# config's model family (tpt.tiny.build_miniature), warmed up on the rehearsal's train problems' worked solutions.
# A hub or local base model needs no rule.
rule base_model:
    input:
        problems=[problems_path("train")] if REHEARSAL else [],
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
        # a rehearsal's family files: its miniature is made of them, and remade when they change (hub, shipped...);
        # no such param outside a rehearsal, so that the built-in model's job keeps the params it ran with
        **({"family": {k: FAMILY[k] for k in rehearsal.FAMILY_FILES}} if REHEARSAL else {}),
        # what the stage reads (tpt.stages); a rehearsal's miniature reads the whole task and finetune sections
        task=config["task"] if REHEARSAL else stages.param(config, "base_model", "task"),
        builtin=stages.param(config, "base_model", "model.builtin"),
        finetune=config["finetune"] if REHEARSAL else stages.param(config, "base_model", "finetune"),
        scratch=scratch_dir("base_model"),
        rehearsal=config["rehearsal"],  # a rehearsal's sizes, or False
        base=config["model"]["base"],
    script:
        "../scripts/base_model.py"


# A rehearsal's last step: every stage's artifacts checked, the fine-tuned models against the base model, the
# samples of fine-tuned models against the token limit; then the summary of stages, times and checks, printed
# and written to <results>/rehearsal.md. A failed check stops here with the stage and the reason.
rule rehearsal_summary:
    input:
        report=[report_path(name) for name in stages.REPORT_FILES],
        problems=[problems_path(s) for s in ("train", "test")],
        models=[model_dir(r) for r in range(config["rounds"] + 1)],
        think=[samples_path(r, "think") for r in range(1, config["rounds"] + 1)],
        eval=[samples_path(r, "eval") for r in range(config["rounds"] + 1)],
        verdicts=[verdicts_path(r, "eval") for r in range(config["rounds"] + 1)],
        sft=[sft_path(r, p) for r in range(1, config["rounds"] + 1) for p in ("train", "val")],
    output:
        REHEARSAL_SUMMARY,
    log:
        log_path("rehearsal_summary"),
    localrule: True
    conda:
        conda_env("train", "base_model")
    params:
        task=config["task"],
        name=config["model"]["base"],
        family_source=FAMILY and FAMILY["source"],  # where the miniature's family files came from, in words
        benchmarks=BENCHMARKS,
        rounds=config["rounds"],
        init=os.path.join(scratch_dir("base_model"), "init"),  # the miniature from the family files, untrained
    script:
        "../scripts/rehearsal_summary.py"
