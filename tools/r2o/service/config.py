"""How the service is set up: where it keeps its state, its limits, quotas and prices."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20


@dataclass(frozen=True)
class Quotas:
    """Per user: runs queued or running at once, and vCPU-hours a calendar month (UTC)."""

    concurrent_runs: int = 4
    vcpu_hours_per_month: float = 500.0


@dataclass(frozen=True)
class Prices:
    """What a vCPU-hour costs, for the estimate `validate_only` gives (on-demand EC2 Linux, us-east-1,
    a c6i.large's $0.085/h over its 2 vCPUs). Change it to your own contract's price."""

    vcpu_hour: float = 0.0425
    currency: str = "USD"


@dataclass(frozen=True)
class ServiceConfig:
    root: Path  # .r2o/service of the repository: the store, uploads and run folders
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    native: bool = False  # run components on the host (development), not in their images
    max_days: int = 31  # the longest date range a pipeline run may ask for
    upload_max_bytes: int = 512 * MIB
    lease_s: float = 30.0  # a run's executor renews its lease every third of this
    quotas: Quotas = Quotas()
    prices: Prices = Prices()
    db: Path | None = None  # default: root / "r2o.db"
    # how long a finished run's outputs are kept (AWS: the results bucket's lifecycle); None: for ever
    results_expiry_days: float | None = None

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.root / "r2o.db"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"
