# Trainer checkpoints live in a scratch folder outside the declared output (Snakemake deletes a declared output
# before rerunning its rule): a killed fine-tune resumes from its newest checkpoint.
rule finetune:
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 is the base model: nothing to prune or train
    input:
        train=f"{R}/round_{{round}}/prune/sft_train.parquet",
        val=f"{R}/round_{{round}}/prune/sft_val.parquet",
        model=lambda w: model_input(finetune_init(w)),
    output:
        directory(f"{R}/models/round_{{round}}"),
    log:
        f"{R}/logs/round_{{round}}/finetune.log",
    benchmark:
        f"{R}/benchmarks/round_{{round}}/finetune.tsv",
    params:
        model=lambda w: model_of(finetune_init(w)),
        finetune=config["finetune"],
        scratch=f"{R}/scratch/finetune/round_{{round}}",
    resources:
        **job_resources("finetune"),
    threads: config["threads"]["finetune"]
    script:
        "../scripts/finetune.py"
