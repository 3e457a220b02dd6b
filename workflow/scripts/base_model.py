# The built-in task's base model (tpt.tiny): a tiny Llama made from the warm-up problems, then warmed up on them.
from tpt import runlog, tasks, tiny, train

log = runlog.start_rule(snakemake)
p = snakemake.params
warmup = tasks.get("arith").load("warmup", p.task["arith"])
tokenizer, model = tiny.build(warmup, p.builtin)
log.info("tiny model: %d parameters, vocabulary %d", model.num_parameters(), len(tokenizer))
init = p.scratch + "/init"
train.save_model(model, tokenizer, init)
figures, n = tiny.warm_up(init, snakemake.output[0], warmup, p.builtin, p.finetune, p.scratch + "/checkpoints",
                          threads=snakemake.threads)
log.info("warm-up on %d sloppy-teacher solutions: %s", n, figures)
