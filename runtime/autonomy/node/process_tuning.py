"""Settings for a process that `Node.start` owns: a long-running server, not a script.

Open files: the soft limit is raised to the hard one, because every conversation in flight holds a socket
from its caller and one to its model, and the usual soft limit of 1,024 caps a node at ~500 of them.

The garbage collector, measured under agent load (bench/agents_bench.py):
  - full collections walked every tracked object, including the few hundred thousand that importing
    FastAPI, pydantic and the model SDKs leaves behind and that live as long as the process: pauses of
    100-200 ms. `gc.freeze()` once start-up is over moves them out of the collector's sight for good;
  - during start-up, a young-generation collection every 700 allocations is wasted work: 10,000;
  - once the node serves, `gc_pacing.GcPacer` runs the collector by the clock (see there why).

AUTONOMY_GC_TUNING=0 leaves the collector's settings alone.
"""

from __future__ import annotations

import gc
import logging
import os
import resource

logger = logging.getLogger("autonomy.node")

YOUNG_THRESHOLD = 10_000


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as error:  # some sandboxes refuse; the node still runs, with fewer sockets
            logger.warning("cannot raise the open-files limit from %d to %d: %s", soft, hard, error)


def enabled() -> bool:
    return os.environ.get("AUTONOMY_GC_TUNING", "1").strip().lower() not in ("0", "false", "no", "off")


def tune_for_server() -> None:
    raise_open_files_limit()
    if enabled():
        _young, middle, old = gc.get_threshold()
        gc.set_threshold(max(_young, YOUNG_THRESHOLD), middle, old)


def freeze_startup_objects() -> None:
    """Call when start-up (imports, app set-up) is over; cheap to call again after more set-up."""
    if enabled():
        gc.collect()  # what start-up left as garbage goes now, not into the permanent generation
        gc.freeze()
