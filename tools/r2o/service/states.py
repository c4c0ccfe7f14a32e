"""Run and task states: the GA4GH WES names, and the only moves between them.

A state never moves backwards: a run that is RUNNING never becomes QUEUED again, a finished run is
never reopened (a relaunch is a new run). The store applies a change only when it is a move forward
(:func:`can_move`), so two writers (a worker and a cancel request, a server restarted after a crash)
can never undo each other's work.
"""

from __future__ import annotations

QUEUED = "QUEUED"
INITIALIZING = "INITIALIZING"
RUNNING = "RUNNING"
CANCELING = "CANCELING"
COMPLETE = "COMPLETE"
EXECUTOR_ERROR = "EXECUTOR_ERROR"  # a task failed: the component's own failure
SYSTEM_ERROR = "SYSTEM_ERROR"  # r2o could not run it (an image missing, the engine gone)
CANCELED = "CANCELED"
# task states that WES has and a run never takes
SKIPPED = "SKIPPED"  # a task that never ran because one it depends on failed
CACHED = "CACHED"  # shown as COMPLETE to WES: found finished in the cache, not run again

RUN_STATES = (QUEUED, INITIALIZING, RUNNING, CANCELING, COMPLETE, EXECUTOR_ERROR, SYSTEM_ERROR, CANCELED)
TERMINAL = frozenset({COMPLETE, EXECUTOR_ERROR, SYSTEM_ERROR, CANCELED})
ACTIVE = frozenset({QUEUED, INITIALIZING, RUNNING, CANCELING})

_RANK = {QUEUED: 0, INITIALIZING: 1, RUNNING: 2, CANCELING: 3}


def can_move(old: str, new: str) -> bool:
    """Whether a run may go from ``old`` to ``new``: forward only, never out of a terminal state,
    and a run being canceled only ends (canceled, or finished anyway)."""
    if old == new or old in TERMINAL:
        return False
    if new in TERMINAL:
        return True
    return _RANK[new] > _RANK[old]
