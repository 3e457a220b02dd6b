"""Logging for rule scripts: to the rule's log file and to the terminal."""
import logging
import os
import sys


def start(snakemake):
    """Route `logging` (ours and the libraries') to the rule's log file and stderr; return our logger."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        os.makedirs(os.path.dirname(os.path.abspath(snakemake.log[0])), exist_ok=True)
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", handlers=handlers,
                        force=True)
    return logging.getLogger(f"tpt.{snakemake.rule}")
