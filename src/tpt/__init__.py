"""tpt: Think, Prune, Train, Improve (Costello et al., 2025) as a Snakemake workflow.

The workflow's rules live in ``workflow/``; this package holds the logic they call, one module per stage.
"""
__version__ = "0.1.0"
