"""The local executor: runs a task graph in parallel within a vCPU budget, cached, resumable, atomic.

Every task goes through :func:`r2o.run.runner.run` with the Docker or the native executor (the one
runner every backend uses). Per task, in a worker thread:

1. resolve its input files (a pipeline file, or a finished task's output in the run directory; a
   ``collect: all`` input becomes a directory of hard links named ``<stem>_<day><suffix>``);
2. compute its cache key (image tag, backend, parameters, input content hashes);
3. reuse the run directory's copy when its provenance carries that key, else link the cache entry
   ``.r2o/cache/tasks/<key>/`` when it exists, else run the component with the cache entry as its
   output directory (the runner stages in a temporary directory and renames on success);
4. promote ``<run>/<step>/<day>/`` (hard links to the cache entry + provenance.json) with a rename.

Nothing partial is ever promoted, so a crash or Ctrl-C is resumed by running the same command
again: finished tasks are found in the cache, the others run. Every external input file is checked
before the first task starts. The scheduler (main thread) starts a ready task when the vCPUs it
declares fit in the budget; a failed task blocks its dependents while independent tasks finish.
Ctrl-C (or SIGTERM, SIGHUP) stops launching and tells every running task to stop: the runner kills
its process or container and removes its staging folder.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import datetime as dt
import fcntl
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from r2o import fs, git, workspace
from r2o.errors import PipelineError, R2OError, RunError
from r2o.manifest import Component, Parameter
from r2o.pipeline.cache import Hasher, TaskCache, link_tree, task_key
from r2o.pipeline.plan import Task, TaskGraph, TaskInput
from r2o.pipeline.provenance import Provenance, cache_key_of
from r2o.repo import Repository
from r2o.run.backend import Backend, prepare
from r2o.run.plan import make_plan
from r2o.run.runner import run

REPORT_FILE = "report.json"
# Two tasks with one cache key (same component, parameters and inputs) run once in this process, even
# in two concurrent runs (the service): the second waits for the first and finds its cache entry.
_KEY_LOCKS: dict[str, threading.Lock] = {}
_KEY_LOCKS_LOCK = threading.Lock()

PENDING, RUNNING, RAN, CACHED, FAILED, BLOCKED, INTERRUPTED = (
    "pending",
    "running",
    "ran",
    "cached",
    "failed",
    "blocked",
    "interrupted",
)
DONE = (RAN, CACHED)


@dataclass
class TaskRecord:
    id: str
    status: str = PENDING
    cache_hit: str | None = None  # "run" (run directory), "cache" (.r2o/cache), None (ran)
    started: float | None = None  # seconds since the run started
    finished: float | None = None
    seconds: float | None = None  # the component's own run time
    exit_code: int | None = None
    key: str | None = None
    output_dir: str | None = None
    error: str | None = None
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Event:
    kind: str  # started | finished (status in record) | note
    task: str
    record: TaskRecord | None
    done: int
    running: int
    failed: int
    total: int
    elapsed: float
    message: str = ""


@dataclass(frozen=True)
class RunReport:
    pipeline: str
    run_dir: Path
    backend: str
    jobs: int
    wall_seconds: float
    critical_path_seconds: float
    tasks: tuple[TaskRecord, ...]
    started_at: str
    interrupted: bool = False

    @property
    def failed(self) -> list[TaskRecord]:
        return [t for t in self.tasks if t.status == FAILED]

    @property
    def ok(self) -> bool:
        return all(t.status in DONE for t in self.tasks)

    def raise_for_failures(self) -> None:
        if not self.ok:
            details = "\n".join(f"{t.id}: {t.error}" for t in self.failed)
            raise PipelineError(
                f"{len(self.failed)} task(s) failed; their dependents did not run.\n{details}",
                hint=f"run report: {self.run_dir / REPORT_FILE}",
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "run_dir": str(self.run_dir),
            "backend": self.backend,
            "jobs": self.jobs,
            "started_at": self.started_at,
            "wall_seconds": round(self.wall_seconds, 3),
            "critical_path_seconds": round(self.critical_path_seconds, 3),
            "interrupted": self.interrupted,
            "counts": {
                s: sum(1 for t in self.tasks if t.status == s)
                for s in (RAN, CACHED, FAILED, BLOCKED, INTERRUPTED, PENDING)
            },
            "tasks": [t.as_dict() for t in self.tasks],
        }


def run_dir_for(repo: Repository, graph: TaskGraph) -> Path:
    return repo.root / ".r2o" / "pipelines" / graph.pipeline.name / graph.run_name


def cache_root(repo: Repository) -> Path:
    return repo.root / ".r2o" / "cache" / "tasks"


def make_backend(repo: Repository, graph: TaskGraph, *, native: bool) -> Backend:
    """The Docker (default) or native backend of every component in ``graph``; Docker needs every
    image built already. Image tags are known natively too: task cache keys hold them."""
    from r2o.images.plan import ImageGraph

    components = sorted({t.component for t in graph.tasks})
    return prepare(repo, components, native=native, build_missing=False, graph=ImageGraph.from_repo(repo))


class LocalRun:
    def __init__(
        self,
        repo: Repository,
        graph: TaskGraph,
        backend: Backend,
        *,
        jobs: int | None = None,
        on_event: Callable[[Event], None] | None = None,
        git_commit: str = "unknown",
        run_dir: Path | None = None,
    ) -> None:
        self.repo = repo
        self.graph = graph
        self.backend = backend
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.on_event = on_event or (lambda event: None)
        self.git_commit = git_commit
        self.run_dir = run_dir or run_dir_for(repo, graph)
        self.cache = TaskCache(cache_root(repo))
        self.hasher = Hasher()
        self.records = {t.id: TaskRecord(t.id) for t in graph.tasks}
        self.components: dict[str, Component] = {
            s.component.name: s.component for s in graph.pipeline.steps.values()
        }
        self._done: queue.Queue[tuple[str, TaskRecord]] = queue.Queue()
        self._t0 = 0.0
        self._hash_lock = threading.Lock()
        self._stop = threading.Event()  # set on interrupt or cancel: every running task stops
        self.session = workspace.session(repo.root)  # sweeps what killed runs left, notes our staging
        self._counts: collections.Counter[str] = collections.Counter({PENDING: len(self.records)})

    # --- scheduling ---------------------------------------------------------------------------

    def execute(self) -> RunReport:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._locked():
            self._check_external_inputs()
            self._t0 = time.monotonic()
            stopped: KeyboardInterrupt | None = None
            try:
                self._schedule()
            except KeyboardInterrupt as exc:  # Ctrl-C, or a signal (r2o.errors.Stopped)
                stopped = exc
                self._interrupt()
            report = self._report(started_at, stopped is not None)
        if stopped is not None:
            raise stopped
        return report

    def _schedule(self) -> None:
        """Start ready tasks in graph order while their vCPUs fit; settle each one as it finishes.

        Event driven (each task's unmet dependencies are counted), so a ten-year range of tens of
        thousands of tasks schedules in time linear in its size."""
        tasks = self.graph.tasks
        order = {t.id: i for i, t in enumerate(tasks)}
        waiting = {t.id: len(set(t.deps)) for t in tasks}
        dependents: dict[str, list[str]] = {t.id: [] for t in tasks}
        for t in tasks:
            for d in set(t.deps):
                dependents[d].append(t.id)
        ready = [t.id for t in tasks if waiting[t.id] == 0]  # kept in graph order
        running: dict[str, float] = {}  # task id -> vcpus held
        smallest = min((min(t.vcpus, float(self.jobs)) for t in tasks), default=1.0)

        def block(root: str) -> None:
            stack = [root]
            while stack:
                tid = stack.pop()
                rec = self.records[tid]
                if rec.status != PENDING:
                    continue
                rec.status = BLOCKED
                self._count(PENDING, BLOCKED)
                rec.error = "a task it depends on failed"
                self._emit("finished", tid, rec)
                stack.extend(dependents[tid])

        while ready or running:
            if self._stop.is_set():
                raise KeyboardInterrupt  # canceled: _interrupt stops what runs, nothing new starts
            budget = self.jobs - sum(running.values())
            still: list[str] = []
            for pos, tid in enumerate(ready):
                if budget < smallest:
                    still.extend(ready[pos:])
                    break
                task = self.graph.task(tid)
                need = min(task.vcpus, float(self.jobs))
                if need <= budget:
                    budget -= need
                    running[tid] = need
                    self._launch(task)
                else:
                    still.append(tid)
            ready = still
            if not running:
                stuck = [t.id for t in tasks if self.records[t.id].status == PENDING]
                if stuck:  # cannot happen in a valid graph; never spin
                    raise PipelineError(f"tasks can never start: {', '.join(stuck[:10])}")
                break
            try:
                tid, record = self._done.get(timeout=0.5)  # wake up now and then to see a cancel
            except queue.Empty:
                continue
            running.pop(tid, None)
            self.records[tid] = record
            self._count(RUNNING, record.status)
            self._emit("finished", tid, record)
            for dep in dependents[tid]:
                if record.status not in DONE:
                    block(dep)
                    continue
                waiting[dep] -= 1
                if waiting[dep] == 0 and self.records[dep].status == PENDING:
                    bisect.insort(ready, dep, key=order.__getitem__)
        if self._stop.is_set():  # canceled while the last tasks were stopping
            raise KeyboardInterrupt

    def _launch(self, task: Task) -> None:
        rec = self.records[task.id]
        rec.status = RUNNING
        self._count(PENDING, RUNNING)
        rec.started = time.monotonic() - self._t0
        self._emit("started", task.id, rec)
        worker = threading.Thread(
            target=self._work, args=(task, dataclasses.replace(rec)), daemon=True, name=f"r2o-task-{task.id}"
        )
        worker.start()

    def _work(self, task: Task, rec: TaskRecord) -> None:
        try:
            self._run_task(task, rec)
        except R2OError as exc:
            rec.status = FAILED
            rec.error = str(exc)
        except KeyboardInterrupt:  # the runner obeyed a stop request: it killed and cleaned its task
            rec.status = INTERRUPTED
            rec.error = "stopped"
        except Exception as exc:  # a bug must not hang the scheduler
            rec.status = FAILED
            rec.error = f"internal error: {type(exc).__name__}: {exc}"
        rec.finished = time.monotonic() - self._t0
        self._done.put((task.id, rec))

    def _emit(self, kind: str, tid: str, rec: TaskRecord | None, message: str = "") -> None:
        # Counted as tasks change state (see _count): recounting every record per event is quadratic.
        n = self._counts
        self.on_event(
            Event(
                kind,
                tid,
                rec,
                done=n[RAN] + n[CACHED],
                running=n[RUNNING],
                failed=n[FAILED] + n[BLOCKED],
                total=len(self.records),
                elapsed=time.monotonic() - self._t0,
                message=message,
            )
        )

    def _count(self, old: str, new: str) -> None:
        self._counts[old] -= 1
        self._counts[new] += 1

    def _interrupt(self) -> None:
        """Stop: tell running tasks to stop (each runner kills its process and removes its staging),
        wait for them, promote nothing new."""
        self._emit("note", "", None, "interrupted: stopping running tasks")
        self._stop.set()
        deadline = time.monotonic() + 90
        while any(r.status == RUNNING for r in self.records.values()) and time.monotonic() < deadline:
            try:
                tid, record = self._done.get(timeout=1)
            except queue.Empty:
                continue
            if record.status == FAILED:
                record.status = INTERRUPTED
            self.records[tid] = record
        for rec in self.records.values():
            if rec.status == RUNNING:
                rec.status = INTERRUPTED

    def _check_external_inputs(self) -> None:
        """Every pipeline input file exists before any task starts: a missing coarse file for day 30
        must not surface after 29 days of work."""
        missing: dict[str, set[str]] = {}  # pipeline input -> missing files
        inputs = self.graph.pipeline.inputs
        for task in self.graph.tasks:
            for tin in task.inputs:
                for source in tin.sources:
                    if source.path is None:
                        continue
                    path = Path(source.path)
                    path = path if path.is_absolute() else self.repo.root / path
                    if not path.exists():
                        name = next(
                            (
                                n
                                for n, p in inputs.items()
                                if p.path.replace("${day}", task.day or "") == source.path
                            ),
                            tin.name,
                        )
                        missing.setdefault(name, set()).add(str(path))
        if not missing:
            return
        lines = []
        hints = []
        for name, paths in missing.items():
            unique = sorted(paths)
            shown = ", ".join(unique[:3]) + (f" and {len(unique) - 3} more" if len(unique) > 3 else "")
            lines.append(f"  {name}: {shown}")
            pin = inputs.get(name)
            if pin is not None and pin.description:
                hints.append(pin.description)
        raise PipelineError(
            f"pipeline {self.graph.pipeline.name}: {sum(len(p) for p in missing.values())} input "
            "file(s) do not exist; no task was started:\n" + "\n".join(lines),
            hint="; ".join(hints) or "provide the files, then rerun",
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer per run folder; runs of other ranges share the cache safely (a cache entry is
        written once, by one runner at a time in this process, promoted with a rename)."""
        self.cache.root.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / ".lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise PipelineError(
                    f"another r2o process is running this pipeline run ({self.run_dir})",
                    hint="wait for it to finish (or stop it), then run this command again",
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def cancel(self) -> None:
        """Stop the run from another thread: no new task starts, running ones are stopped."""
        self._stop.set()

    # --- one task -----------------------------------------------------------------------------

    def _run_task(self, task: Task, rec: TaskRecord) -> None:
        component = self.components[task.component]
        inputs, sources = self._resolve_inputs(task)
        with self._hash_lock:
            hashes = {name: self.hasher.tree(path) for name, path in inputs.items()}
        image = self.backend.images[task.component]
        parameters = {
            n: Parameter.format(p.default) for n, p in component.parameters.items() if p.default is not None
        }
        parameters.update(task.parameters)
        key = task_key(image=image, backend=self.backend.name, parameters=parameters, inputs=hashes)
        rec.key = key
        dest = self.run_dir / task.id
        rec.output_dir = str(dest)
        if dest.is_dir() and cache_key_of(dest) == key:
            rec.status, rec.cache_hit = CACHED, "run"
            return
        with _KEY_LOCKS_LOCK:
            key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
        # Two tasks with the same key (same component, parameters and inputs) run once: the second waits.
        with key_lock:
            self._fill(task, component, rec, key, inputs, image)
        self._promote(task, component, self.cache.entry(key), dest, key, hashes, sources, parameters)

    def _fill(
        self,
        task: Task,
        component: Component,
        rec: TaskRecord,
        key: str,
        inputs: Mapping[str, Path],
        image: str,
    ) -> None:
        """Make the cache entry of ``key`` exist: found, or run."""
        entry = self.cache.entry(key)
        if entry.is_dir():
            rec.status, rec.cache_hit = CACHED, "cache"
        else:
            plan = make_plan(
                component,
                parameters=task.parameters,
                inputs=inputs,
                output_dir=entry,
                image=None if self.backend.native else image,
            )
            log_path = self.run_dir / "logs" / f"{task.id}.log"
            try:
                result = run(
                    plan,
                    self.backend.executor,
                    stop=self._stop,
                    log_path=log_path,
                    on_staging=self.session.note_external,
                )
            except RunError as exc:
                rec.exit_code = exc.status
                raise PipelineError(
                    f"task {task.id} failed: {exc.message}", hint=self._rerun_hint(task, inputs, log_path)
                ) from None
            rec.status, rec.exit_code, rec.seconds = RAN, result.execution.exit_code, result.execution.seconds
            if result.extra_outputs:
                rec.warning = f"undeclared outputs not kept: {', '.join(result.extra_outputs)}"

    def _resolve_inputs(self, task: Task) -> tuple[dict[str, Path], dict[str, list[str]]]:
        paths: dict[str, Path] = {}
        sources: dict[str, list[str]] = {}
        for tin in task.inputs:
            if tin.collect:
                paths[tin.name] = self._collect(task, tin)
            else:
                paths[tin.name] = self._source_path(tin, 0, task)
            sources[tin.name] = [s.path or f"{s.task}:{s.output}" for s in tin.sources]
        return paths, sources

    def _source_path(self, tin: TaskInput, index: int, task: Task) -> Path:
        source = tin.sources[index]
        if source.path is not None:
            path = Path(source.path)
            path = path if path.is_absolute() else self.repo.root / path
            if not path.exists():
                pin = next(
                    (
                        p
                        for p in self.graph.pipeline.inputs.values()
                        if p.path.replace("${day}", task.day or "") == source.path
                    ),
                    None,
                )
                raise PipelineError(
                    f"task {task.id}: pipeline input file {path} does not exist",
                    hint=(pin.description if pin and pin.description else "provide the file, then rerun"),
                )
            return path
        assert source.task is not None and source.output is not None
        producer = self.components[self.graph.task(source.task).component]
        return self.run_dir / source.task / producer.output(source.output).filename

    def _collect(self, task: Task, tin: TaskInput) -> Path:
        folder = self.run_dir / ".inputs" / task.id / tin.name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for i, source in enumerate(tin.sources):
            src = self._source_path(tin, i, task)
            name = PurePosixPath(src.name)
            target = folder / f"{name.stem}_{source.day}{name.suffix}"
            try:
                os.link(src, target)
            except OSError:
                shutil.copy2(src, target)
        return folder

    def _promote(
        self,
        task: Task,
        component: Component,
        entry: Path,
        dest: Path,
        key: str,
        hashes: Mapping[str, str],
        sources: Mapping[str, list[str]],
        parameters: Mapping[str, str],
    ) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.partial-{self.session.id}-{os.urandom(4).hex()}"
        self.session.note_external(staging)
        os.mkdir(staging, 0o700)
        try:
            link_tree(entry, staging)
            outputs = {}
            for out in component.outputs:
                f = staging / out.filename
                if f.is_file():
                    with self._hash_lock:
                        outputs[out.name] = {"file": out.filename, "sha256": self.hasher.file(f)}
            Provenance(
                pipeline=self.graph.pipeline.name,
                task=task.id,
                component=component.name,
                version=component.version,
                image=self.backend.images[task.component],
                image_digest=self.backend.digests.get(task.component, ""),
                backend=self.backend.name,
                git_commit=self.git_commit,
                cache_key=key,
                parameters=dict(parameters),
                inputs={n: {"sha256": h, "sources": sources.get(n, [])} for n, h in hashes.items()},
                outputs=outputs,
            ).write(staging)
            os.chmod(staging, 0o755)
            fs.replace_dir(staging, dest)
        finally:
            fs.remove_tree(staging)

    def _rerun_hint(self, task: Task, inputs: Mapping[str, Path], log_path: Path) -> str:
        g = self.graph
        native = " --native" if self.backend.native else ""
        single = " ".join(
            [f"r2o run {task.component}{native}"]
            + [f"-p {k}={v}" for k, v in task.parameters.items()]
            + [f"--input {k}={v}" for k, v in inputs.items()]
        )
        return (
            f"full log: {log_path}\n  -> fix it, then resume (finished tasks are reused): "
            f"r2o pipeline run {g.pipeline.name} --start {g.start.isoformat()} --days {g.days}{native}\n"
            f"  -> or run this task alone: {single}"
        )

    # --- report -------------------------------------------------------------------------------

    def _report(self, started_at: str, interrupted: bool) -> RunReport:
        seconds = {r.id: r.seconds or 0.0 for r in self.records.values()}
        report = RunReport(
            pipeline=self.graph.pipeline.name,
            run_dir=self.run_dir,
            backend=self.backend.name,
            jobs=self.jobs,
            wall_seconds=time.monotonic() - self._t0,
            critical_path_seconds=self.graph.critical_path(seconds),
            tasks=tuple(self.records[t.id] for t in self.graph.tasks),
            started_at=started_at,
            interrupted=interrupted,
        )
        fs.atomic_write(self.run_dir / REPORT_FILE, json.dumps(report.as_dict(), indent=2) + "\n")
        return report


def run_pipeline(
    repo: Repository,
    graph: TaskGraph,
    *,
    native: bool,
    jobs: int | None,
    on_event: Callable[[Event], None] | None = None,
    prepare_inputs: bool = False,
) -> RunReport:
    """Run ``graph`` locally; with ``prepare_inputs``, missing input files that have a prepare
    command are made first (reported as notes)."""
    if prepare_inputs:
        from r2o.pipeline import inputs

        def say(line: str) -> None:
            if on_event is not None:
                on_event(Event("note", "", None, 0, 0, 0, len(graph.tasks), 0.0, line))

        inputs.prepare_missing(repo, graph, say=say)
    with make_backend(repo, graph, native=native) as backend:
        return LocalRun(
            repo, graph, backend, jobs=jobs, on_event=on_event, git_commit=git.head_commit(repo.root)
        ).execute()
