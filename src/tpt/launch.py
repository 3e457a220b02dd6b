"""Launch a fine-tune: in one plain process, or over several GPUs and nodes with `accelerate launch`.

The finetune rule's shell command is `command(config, ...)` followed by the job's paths. It runs this module's
`main` (the fine-tune itself, in every process) in one of three ways:

    one process      python -m tpt.launch <paths>
    one node, N > 1  python -m accelerate.commands.launch --config_file config/accelerate/<strategy>.yaml
                         --num_processes N --main_process_port 0 -m tpt.launch <paths>
    M > 1 nodes      srun --nodes=M --ntasks=M --ntasks-per-node=1 ... python -m tpt.launch slurm-node
                         --config_file ... --num_processes M*N --num_machines M ... -m tpt.launch <paths>

In the multi-node case the rule's command runs once, on the first node of a SLURM job (the job asks for one task
per node: see job_resources in workflow/rules/common.smk), srun starts one launcher per node, and each launcher
adds its node's rank and the first node's address from SLURM's variables before starting accelerate.

Only the standard library is imported at the top: the Snakefile imports this module to build the command, and
must not pay for torch on every start.
"""
import argparse
import atexit
import importlib.util
import json
import logging
import os
import re
import shlex
import signal
import sys
import threading

from tpt.config import ConfigError


def plan(config):
    """(nodes, processes per node, strategy) of the fine-tune from config["resources"]["finetune"] and
    config["finetune"]["distributed"]; strategy is None for one process. An impossible combination is a
    ConfigError that says what to change."""
    res, dist = config["resources"]["finetune"], config["finetune"]["distributed"]
    gpus, nodes, strategy = res["gpu"], res["nodes"], dist["strategy"]
    if gpus and dist["processes"] not in (None, gpus):
        raise ConfigError(f"finetune.distributed.processes={dist['processes']} with resources.finetune.gpu={gpus}: "
                          "tpt runs one process per GPU; leave finetune.distributed.processes unset (null)")
    per_node = dist["processes"] or max(gpus, 1)
    if nodes * per_node == 1:
        if strategy != "auto":
            raise ConfigError(f"finetune.distributed.strategy={strategy} needs several processes, but "
                              f"resources.finetune.gpu={gpus} and resources.finetune.nodes={nodes} make one: ask "
                              "for more GPUs or nodes, or set finetune.distributed.strategy: auto")
        return 1, 1, None
    if strategy == "auto":
        strategy = "fsdp" if gpus else "ddp"
    if strategy == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError("finetune.distributed.strategy=deepspeed, but DeepSpeed is not installed in this "
                          "environment: `pip install deepspeed` (where the fine-tune jobs run), or use "
                          "finetune.distributed.strategy: fsdp")
    return nodes, per_node, strategy


def command(config, accelerate_dir, python=None):
    """The start of the finetune rule's shell command: what runs `-m tpt.launch` once or in every process
    (the rule appends the paths). accelerate_dir holds the shipped accelerate configs, <strategy>.yaml. python:
    the words that start the job's Python (a conda job's `env PYTHONPATH=... python`); default: this Python."""
    nodes, per_node, strategy = plan(config)
    python = python or shlex.quote(sys.executable)
    if strategy is None:
        return f"{python} -m tpt.launch"
    accelerate = (f"--config_file {shlex.quote(os.path.join(accelerate_dir, strategy + '.yaml'))} "
                  f"--num_processes {nodes * per_node}")
    if nodes == 1:  # port 0: accelerate picks a free port, so two jobs on one node do not collide
        return f"{python} -m accelerate.commands.launch {accelerate} --main_process_port 0 -m tpt.launch"
    # srun starts one launcher per node, in the job's allocation (outside one it would ask SLURM for a new
    # allocation: stop there instead). The jobstep executor strips the job's other SLURM variables, so the step's
    # share is spelled out: the job's CPUs per task, all its memory (--mem=0; the GPUs come by default), with "="
    # (srun's --kill-on-bad-exit takes an optional value: in "... 1", 1 would be the program)
    guard = (f"printenv SLURM_JOB_ID >/dev/null || (echo 'resources.finetune.nodes={nodes} trains over the nodes "
             "of a SLURM job: run with --profile profiles/slurm' >&2; exit 1)")
    srun = (f"srun --nodes={nodes} --ntasks={nodes} --ntasks-per-node=1 "
            f"--cpus-per-task={config['threads']['finetune']} --mem=0 --kill-on-bad-exit=1")
    port = config["finetune"]["distributed"]["main_process_port"]
    return (f"{guard}; {srun} {python} -m tpt.launch slurm-node {accelerate} --num_machines {nodes} "
            f"--main_process_port {port} -m tpt.launch")


# Written into the model folder by the main process when the job has done everything (model saved, weights
# interpolated, card written): the finetune rule keeps a model that has it even if a process fails after that.
DONE = "finetune_done.json"


def keep_finished(python=None):
    """What the finetune rule's command runs when the launcher fails (`<command> <paths> || <this> --out ... --log
    ...`): `python -m tpt.launch finished`, which ends the job with success if the model was finished (see
    finished), else with the launcher's status."""
    return f"{python or shlex.quote(sys.executable)} -m tpt.launch finished --status $?"


def finished(argv):
    """The exit status of a fine-tune job whose launcher exited with --status. A failure after the main process
    recorded the job done (DONE in the model folder, written after the model and its card were saved
    atomically) does not lose the model: the job succeeds, and its log says what failed. Before that, the job
    fails with the launcher's status, and Snakemake removes the incomplete output as usual."""
    parser = argparse.ArgumentParser(prog="python -m tpt.launch finished", description=finished.__doc__)
    parser.add_argument("--status", type=int, required=True, help="the launcher's exit status")
    parser.add_argument("--out", required=True, help="the model folder")
    parser.add_argument("--log", help="the job's log file")
    args = parser.parse_args(argv)
    if args.status == 0 or not os.path.exists(os.path.join(args.out, DONE)):
        return args.status or 0
    message = (f"WARNING tpt.launch: a fine-tune process failed (launcher exit status {args.status}) after the "
               f"model was saved and recorded done ({os.path.join(args.out, DONE)}): the model is kept and the job "
               "succeeds; the lines above say which process failed")
    print(message, file=sys.stderr)
    if args.log:
        with open(args.log, "a") as f:
            f.write(message + "\n")
    return 0


def _record_done(out_dir, figures):
    """The job's last act on its model folder: DONE, written atomically."""
    tmp = os.path.join(out_dir, DONE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(figures, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out_dir, DONE))


def _exit_without_finalizing():
    """End a training process of a process group without the interpreter's finalization.

    Why: the process group's worker threads (gloo's ProcessGroupGloo::runLoop; NCCL's watchdog likewise) can still
    be releasing the last work items of the final barrier when the main thread returns. Releasing a work item
    drops tensors owned by Python, which takes the GIL; during Py_FinalizeEx, CPython ends a thread that asks for
    the GIL with pthread_exit, whose unwinding through the work item's noexcept destructor calls std::terminate
    ("terminate called without an active exception", SIGABRT; seen in a core dump of a 2-process DeepSpeed run
    on a busy CPU: the aborting thread was in ~AsyncBarrierWork -> ~AsyncAllgatherWork -> decref_pyobject ->
    take_gil -> PyThread_exit_thread, the main thread in Py_FinalizeEx's garbage collection). So the process does
    what finalization would have done for us — joins its other Python threads, runs the atexit functions (logging,
    W&B and MLflow flush there), flushes its streams — and leaves with os._exit while the interpreter is whole."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def node_rank_and_address(env):
    """This node's rank and the first node's host name, from the variables srun sets in each task."""
    if "SLURM_NODEID" not in env or "SLURM_STEP_NODELIST" not in env:
        raise SystemExit("resources.finetune.nodes > 1 trains over the nodes of a SLURM job, started by srun: run "
                         "the workflow with --profile profiles/slurm (SLURM_NODEID and SLURM_STEP_NODELIST are "
                         "not set here)")
    # a SLURM host list such as "gpu[03-05,07],cpu01": the first host is the first name, each bracket replaced
    # by its first number ("gpu03")
    first = re.split(r",(?![^\[]*\])", env["SLURM_STEP_NODELIST"])[0]
    return int(env["SLURM_NODEID"]), re.sub(r"\[([^,\]-]+)[^\]]*\]", r"\1", first)


def slurm_node(accelerate_args):
    """One node's launcher in a multi-node job: accelerate launch with this node's rank and the main address."""
    rank, address = node_rank_and_address(os.environ)
    os.execv(sys.executable, [sys.executable, "-m", "accelerate.commands.launch", "--machine_rank", str(rank),
                              "--main_process_ip", address, *accelerate_args])


def _die_with_launcher():
    """End this process when its launcher ends. torchrun starts each process in a session of its own, so a launcher
    killed with SIGKILL (Snakemake or a job killed hard) would leave them training, and writing the model."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the launcher was gone already
        sys.exit("tpt.launch: the launcher of this process has ended")


def _card(args, rows, val):
    """The function that writes the model's README.md from the training figures (tpt.card), or None."""
    if not args.card:
        return None
    from tpt import card

    info = {**json.loads(args.card), "start_model": args.model, "finetune": json.loads(args.finetune),
            "examples": len(rows) + len(val), "val_examples": len(val)}
    if args.probe:  # think.auto_temperature: the temperature the round's probe chose
        from tpt import artifacts, probe

        table = artifacts.read(args.probe, artifacts.PROBE)
        info["think"]["temperature"], info["temperature_from"] = probe.chosen(table), table["temperature"].tolist()
    return lambda figures: card.training_card(info, figures)


def main(argv):
    """The fine-tune of one job, run by each of its processes (one, or one per GPU under accelerate launch)."""
    parser = argparse.ArgumentParser(prog="python -m tpt.launch", description=main.__doc__)
    parser.add_argument("--train", required=True, help="SFT examples (Parquet)")
    parser.add_argument("--val", required=True, help="held-out SFT examples (Parquet)")
    parser.add_argument("--model", required=True, help="the model to start from: hub id or HF folder")
    parser.add_argument("--out", required=True, help="folder of the fine-tuned model")
    parser.add_argument("--scratch", required=True, help="folder of the resumable checkpoints")
    parser.add_argument("--finetune", required=True, help="the config's finetune section, as JSON")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of the job on this node")
    parser.add_argument("--log", help="log file (written by the main process)")
    parser.add_argument("--mix-with", help="finetune.interpolate: the model the fine-tuned weights are averaged with")
    parser.add_argument("--curve", help="training curve (Parquet, TRAINING_CURVE) written by the main process")
    parser.add_argument("--card", help="what the model card says of the run, as JSON (see tpt.card)")
    parser.add_argument("--probe", help="think.auto_temperature: the round's probe (PROBE), for the card")
    args = parser.parse_args(argv)

    if "LOCAL_RANK" in os.environ:
        _die_with_launcher()
    # torch, transformers: imported here, in the training processes only
    from tpt import artifacts, runlog, train

    rank, local_processes = int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    if rank == 0 and os.path.exists(os.path.join(args.out, DONE)):
        os.remove(os.path.join(args.out, DONE))  # an earlier job's (Snakemake removes the folder itself first)
    if rank == 0:  # to the log file and the terminal, as the other rules' scripts log
        log = runlog.start(args.log, "finetune")
    else:  # the other processes say only what goes wrong
        logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s rank {rank} %(name)s: %(message)s")
        log = logging.getLogger("tpt.finetune")
    rows = artifacts.read(args.train, artifacts.SFT).to_dict("records")
    val = artifacts.read(args.val, artifacts.SFT).to_dict("records")
    log.info("fine-tuning %s on %d examples (%d validation) in %s process(es)", args.model, len(rows), len(val),
             os.environ.get("WORLD_SIZE", 1))
    figures = train.finetune(args.model, args.out, rows, val, json.loads(args.finetune), args.scratch,
                             threads=max(1, args.threads // local_processes),  # the node's cores, shared
                             curve_path=args.curve, card=_card(args, rows, val))
    cfg = json.loads(args.finetune)
    ratio = cfg.get("interpolate", {}).get("ratio", 1.0)
    if ratio < 1 and rank == 0:
        if not args.mix_with:
            runlog.fail(log, "finetune.interpolate.ratio < 1 needs --mix-with: the model to interpolate with")
        train.interpolate(args.out, args.mix_with, ratio)
        log.info("weights interpolated: %.2f x fine-tuned + %.2f x %s", ratio, 1 - ratio, args.mix_with)
    if rank == 0:
        _record_done(args.out, figures)
    log.info("done: %s -> %s", figures, args.out)
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # every process stays until the main one has finished the model: then none can lose it
        dist.destroy_process_group()
        _exit_without_finalizing()


if __name__ == "__main__":
    if sys.argv[1:2] == ["slurm-node"]:
        slurm_node(sys.argv[2:])
    elif sys.argv[1:2] == ["finished"]:
        sys.exit(finished(sys.argv[2:]))
    else:
        main(sys.argv[1:])
