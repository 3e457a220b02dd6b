"""Logging for jobs (rule scripts, and the fine-tune's `python -m tpt.launch`): to the job's log file and to the
terminal.

The log file is where Snakemake (and a SLURM user) points when a job fails, so `start` also routes an uncaught
exception there: the job's log ends with the error and its traceback, whatever the stage.
"""
import logging
import os
import sys


def start(log_path, name="job"):
    """Route `logging` (ours and the libraries') to the file log_path (None: the terminal only) and stderr; return
    our logger, tpt.<name>. An exception that ends the program is logged, with its traceback, to the same places."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", handlers=handlers,
                        force=True)
    log = logging.getLogger(f"tpt.{name}")
    log_uncaught_exceptions(log)
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() != "true":  # (accelerate launch's DeepSpeed)
        logging.getLogger("DeepSpeed").addFilter(quiet_deepspeed_accelerator)
    return log


def quiet_deepspeed_accelerator(record):
    """A filter of DeepSpeed's logger for a job that does not train with DeepSpeed: transformers' Trainer imports
    DeepSpeed wherever it is installed, which on a machine without a GPU warns that it is "Setting accelerator to
    CPU", a warning about nothing that job uses. Every other DeepSpeed message passes."""
    return not record.getMessage().startswith("Setting accelerator to CPU")


def start_rule(snakemake):
    """start() for a rule script: the rule's log file (if it has one) and its name."""
    return start(snakemake.log[0] if snakemake.log else None, snakemake.rule)


def log_uncaught_exceptions(log):
    """Make an exception that reaches the top of the program go through `log` (file and terminal) instead of
    Python's default printout to stderr only. Ctrl-C stays Python's."""
    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            return sys.__excepthook__(kind, value, tb)
        log.error("job failed: %s: %s", kind.__name__, value, exc_info=(kind, value, tb))
        for handler in logging.getLogger().handlers:
            handler.flush()
    sys.excepthook = hook


def fail(log, message):
    """End the job with `message` in its log (a SystemExit does not pass through the exception hook)."""
    log.error("job failed: %s", message)
    raise SystemExit(message)
