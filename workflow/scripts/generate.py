from tpt import artifacts, probe, runlog, sampling, tasks


# vLLM's CPU build starts its tensor-parallel workers (sampling.vllm.tensor_parallel_size > 1) with `spawn`,
# which re-runs this script's top level in each worker, where there is no `snakemake` object: the job's
# work happens under the __main__ guard only.
def main(snakemake):
    log = runlog.start_rule(snakemake)
    w, p = snakemake.wildcards, snakemake.params
    round_, settings = int(w.round), p.settings
    problems = artifacts.read(snakemake.input.problems, artifacts.PROBLEMS)
    if w.phase == "think":
        problems = sampling.select_problems(problems, round_, settings["problems_per_round"],
                                            settings["fresh_problems"], p.seed)
    problems = sampling.shard(problems, int(w.shard), settings["shards"])
    requests = sampling.make_requests(problems, tasks.from_config(p.task).prompt, w.phase, round_, settings["n"],
                                      p.seed)
    log.info("round %d %s, shard %s of %d: %d problems x %d samples from %s (%s backend)", round_, w.phase, w.shard,
             settings["shards"], len(problems), settings["n"], p.model, p.sampling["backend"])
    sampler = sampling.load_sampler(p.model, p.sampling, threads=snakemake.threads)
    if snakemake.input.probe:  # think.auto_temperature: the one the round's probe chose
        temperature = probe.chosen(artifacts.read(snakemake.input.probe[0], artifacts.PROBE))
        log.info("temperature %g, chosen by the round's probe (%s)", temperature, snakemake.input.probe[0])
    else:  # the round's: tpt.stages hands think.temperatures' value for the round
        temperature = settings["temperature"]
    samples = sampling.generate(sampler, requests, p.model, temperature, settings["top_p"], settings["max_new_tokens"])
    artifacts.write(samples, snakemake.output[0], artifacts.SAMPLES)
    log.info("%d samples, %.1f%% truncated, %.1f tokens on average -> %s", len(samples),
             100 * (samples["finish_reason"] == "length").mean(), samples["completion_tokens"].mean(),
             snakemake.output[0])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (Snakemake's script object)
