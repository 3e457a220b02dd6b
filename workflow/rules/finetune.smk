import json

from tpt import launch


# The fine-tune runs `python -m tpt.launch` (src/tpt/launch.py): in one plain process, or, when the config asks
# for more than one GPU or node (resources.finetune), once per GPU under `accelerate launch` with the config of
# finetune.distributed.strategy from config/accelerate/. launch.command checks the combination at start-up.
# Trainer checkpoints live in a scratch folder outside the declared output (Snakemake deletes a declared output
# before rerunning its rule): a killed fine-tune resumes from its newest checkpoint. A process that fails after the
# model was saved and recorded done does not fail the job (launch.finished): the finished model is kept.
rule finetune:
    input:
        train=sft_path(part="train"),
        val=sft_path(part="val"),
        model=lambda w: model_input(finetune_init(w)),
        mix=lambda w: model_input(interpolate_with(w)) if WISE else [],
        probe=lambda w: [probe_path(w.round)] if AUTO_TEMPERATURE else [],  # the card's think temperature
    output:
        model=directory(model_dir()),
        curve=training_curve_path(),
    log:
        log_path("finetune", "{round}"),
    benchmark:
        benchmark_path("finetune", "{round}")
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 is the base model: nothing to prune or train
    conda:
        conda_env("train", "finetune")
    threads: config["threads"]["finetune"]
    resources:
        **job_resources("finetune"),
    params:
        model=lambda w: model_of(finetune_init(w)),
        finetune=lambda w: json.dumps(stages.param(config, "finetune", "finetune", round_=int(w.round)), sort_keys=True),
        scratch=scratch_dir("finetune", "{round}"),
        mix=lambda w: model_of(interpolate_with(w)),
        card=lambda w: model_card_info(w.round),  # what the model's README.md says of the run (tpt.card)
    shell:
        launch.command(config, os.path.join(workflow.basedir, "config", "accelerate"), JOB_PYTHON)
        + " --train {input.train:q} --val {input.val:q} --model {params.model:q} --out {output.model:q}"
        " --scratch {params.scratch:q} --finetune {params.finetune:q} --threads {threads} --log {log:q}"
        " --curve {output.curve:q} --card {params.card:q}"
        + (" --mix-with {params.mix:q}" if WISE else "")
        + (" --probe {input.probe:q}" if AUTO_TEMPERATURE else "")
        + " || "
        + launch.keep_finished(JOB_PYTHON)
        + " --out {output.model:q} --log {log:q}"
