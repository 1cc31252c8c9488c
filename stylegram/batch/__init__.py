"""Many jobs: style transfers over folders and sweeps, and unit scans, here or on a Dask cluster.

    config.py    BatchConfig, the settings of `stylegram batch`
    jobs.py      job specs and sweeps, their names and keys; one job from bytes to PNG bytes
    manifest.py  OUTDIR/batch.jsonl, what makes a batch resumable
    engines.py   the engine interface, the local engine, and the batch loop
    cluster.py   the Dask engine: a worker plugin holding VGG, bytes in and out, retries
    scan.py      unit scans in parts on a cluster, merged in a tree
    maximize.py  activation maximisation on a cluster, one task per unit

Dask is imported only by cluster.py (scan.py and maximize.py through it), and only when a
scheduler is given.
"""

from .config import BatchConfig
from .engines import Engine, LocalEngine, Summary, run_batch
from .jobs import Job, Outcome, Task, make_jobs, parse_sweep

__all__ = [
    "BatchConfig",
    "Engine",
    "Job",
    "LocalEngine",
    "Outcome",
    "Summary",
    "Task",
    "make_jobs",
    "parse_sweep",
    "run_batch",
]
