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
again: finished tasks are found in the cache, the others run. The scheduler (main thread) starts a
ready task when the vCPUs it declares fit in the budget; a failed task blocks its dependents while
independent tasks finish. Ctrl-C stops launching and kills the running tasks (native process
groups; Docker containers, which the Docker executor then removes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import queue
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from r2o.errors import NotFoundError, PipelineError, R2OError
from r2o.manifest import Component, Parameter
from r2o.pipeline.cache import Hasher, TaskCache, link_tree, task_key
from r2o.pipeline.plan import Task, TaskGraph, TaskInput
from r2o.pipeline.provenance import Provenance, cache_key_of
from r2o.repo import Repository
from r2o.run.plan import make_plan
from r2o.run.runner import Executor, run

REPORT_FILE = "report.json"
RUN_ENV = "R2O_PIPELINE_RUN"  # set in every task's environment: finds our containers after a crash

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


@dataclass(frozen=True)
class Backend:
    """How tasks execute: one executor, and the image (tag, digest) of each component."""

    name: str
    executor: Executor
    images: Mapping[str, str]  # component -> image reference (content tag)
    digests: Mapping[str, str] = field(default_factory=dict)
    native: bool = False


def run_dir_for(repo: Repository, graph: TaskGraph) -> Path:
    return repo.root / ".r2o" / "pipelines" / graph.pipeline.name / graph.run_name


def cache_root(repo: Repository) -> Path:
    return repo.root / ".r2o" / "cache" / "tasks"


def make_backend(repo: Repository, graph: TaskGraph, *, native: bool) -> Backend:
    """The Docker (default) or native backend; Docker needs every image built already."""
    from r2o.images.plan import ImageGraph

    images_graph = ImageGraph.from_repo(repo)
    components = sorted({t.component for t in graph.tasks})
    images = {c: images_graph.ref(c) for c in components}
    if native:
        from r2o.run.native import NativeExecutor

        return Backend("native", NativeExecutor(repo.root), images, {c: "native" for c in components}, True)
    from r2o.images.engine import Engine
    from r2o.run.docker import DockerExecutor

    engine = Engine.connect()
    digests: dict[str, str] = {}
    missing = []
    for comp, ref in images.items():
        image = engine.image(ref)
        if image is None:
            missing.append(comp)
        else:
            digests[comp] = str(image.id)
    if missing:
        raise NotFoundError(
            f"images not built for: {', '.join(missing)}",
            hint=f"run: r2o build {' '.join(missing)}  (or r2o build --all)",
        )
    return Backend("docker", DockerExecutor(engine), images, digests)


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
        self._key_locks: dict[str, threading.Lock] = {}

    # --- scheduling ---------------------------------------------------------------------------

    def execute(self) -> RunReport:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._locked():
            self.cache.clean_partials()
            self._clean_partials(self.run_dir)
            if not self.backend.native:
                self._kill_containers(remove_only=True)
            self._t0 = time.monotonic()
            interrupted = False
            try:
                self._schedule()
            except KeyboardInterrupt:
                interrupted = True
                self._interrupt()
            report = self._report(started_at, interrupted)
        if interrupted:
            raise KeyboardInterrupt
        return report

    def _schedule(self) -> None:
        pending = [t for t in self.graph.tasks]
        running: dict[str, float] = {}  # task id -> vcpus held
        while pending or running:
            budget = self.jobs - sum(running.values())
            still: list[Task] = []
            for task in pending:
                states = [self.records[d].status for d in task.deps]
                if any(s in (FAILED, BLOCKED) for s in states):
                    rec = self.records[task.id]
                    rec.status = BLOCKED
                    rec.error = "a task it depends on failed"
                    self._emit("finished", task.id, rec)
                    continue
                need = min(task.vcpus, float(self.jobs))
                if all(s in DONE for s in states) and need <= budget:
                    budget -= need
                    running[task.id] = need
                    self._launch(task)
                    continue
                still.append(task)
            pending = still
            if not running:
                if pending:  # cannot happen in a valid graph; never spin
                    raise PipelineError(f"tasks can never start: {', '.join(t.id for t in pending)}")
                break
            tid, record = self._done.get()
            running.pop(tid, None)
            self.records[tid] = record
            self._emit("finished", tid, record)

    def _launch(self, task: Task) -> None:
        rec = self.records[task.id]
        rec.status = RUNNING
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
        except Exception as exc:  # a bug must not hang the scheduler
            rec.status = FAILED
            rec.error = f"internal error: {type(exc).__name__}: {exc}"
        rec.finished = time.monotonic() - self._t0
        self._done.put((task.id, rec))

    def _emit(self, kind: str, tid: str, rec: TaskRecord | None, message: str = "") -> None:
        recs = self.records.values()
        self.on_event(
            Event(
                kind,
                tid,
                rec,
                done=sum(1 for r in recs if r.status in DONE),
                running=sum(1 for r in recs if r.status == RUNNING),
                failed=sum(1 for r in recs if r.status in (FAILED, BLOCKED)),
                total=len(self.records),
                elapsed=time.monotonic() - self._t0,
                message=message,
            )
        )

    def _interrupt(self) -> None:
        """Stop: kill what runs, wait for the workers to clean their staging, promote nothing new."""
        self._emit("note", "", None, "interrupted: stopping running tasks")
        self._kill_running()
        deadline = time.monotonic() + 60
        while any(r.status == RUNNING for r in self.records.values()) and time.monotonic() < deadline:
            try:
                tid, record = self._done.get(timeout=1)
            except queue.Empty:
                self._kill_running()
                continue
            if record.status == FAILED:
                record.status = INTERRUPTED
            self.records[tid] = record
        for rec in self.records.values():
            if rec.status == RUNNING:
                rec.status = INTERRUPTED

    def _kill_running(self) -> None:
        if self.backend.native:
            for pid in _child_pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        else:
            self._kill_containers(remove_only=False)

    def _kill_containers(self, *, remove_only: bool) -> None:
        """Containers of this run: kill them (Ctrl-C) or remove leftovers of a killed run (start)."""
        from r2o.run.docker import DockerExecutor

        executor = self.backend.executor
        if not isinstance(executor, DockerExecutor):
            return
        marker = f"{RUN_ENV}={self.run_dir}"
        try:
            for container in executor.engine.client.containers.list(
                all=True, filters={"label": "org.r2o.component"}
            ):
                if marker not in (container.attrs.get("Config", {}).get("Env") or []):
                    continue
                if remove_only:
                    container.remove(force=True)
                else:
                    container.kill()
        except Exception:  # best effort: the executor's own cleanup still removes what it started
            pass

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.cache.root.mkdir(parents=True, exist_ok=True)
        with (self.cache.root / ".lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise PipelineError(
                    "another `r2o pipeline run` is using this repository's task cache",
                    hint="wait for it to finish (or stop it), then run this command again",
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
        with self._hash_lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
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
            plan = dataclasses.replace(plan, environment={**plan.environment, RUN_ENV: str(self.run_dir)})
            log: list[bytes] = []
            log_path = self.run_dir / "logs" / f"{task.id}.log"
            try:
                result = run(plan, self.backend.executor, echo=lambda _stream, chunk: log.append(chunk))
            except R2OError as exc:
                code = re.search(r"exited with code (-?\d+)", exc.message)
                rec.exit_code = int(code.group(1)) if code else None
                _write_log(log_path, log)
                raise PipelineError(
                    f"task {task.id} failed: {exc.message}", hint=self._rerun_hint(task, inputs, log_path)
                ) from None
            _write_log(log_path, log)
            rec.status, rec.exit_code, rec.seconds = RAN, result.execution.exit_code, result.execution.seconds

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
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
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
            if dest.exists():
                trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
                os.rename(dest, trash / "old")
                os.rename(staging, dest)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(staging, dest)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

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
        tmp = self.run_dir / f".{REPORT_FILE}.tmp"
        tmp.write_text(json.dumps(report.as_dict(), indent=2) + "\n", "utf-8")
        os.replace(tmp, self.run_dir / REPORT_FILE)
        return report

    @staticmethod
    def _clean_partials(run_dir: Path) -> None:
        for path in run_dir.rglob(".*"):
            if path.is_dir() and (".partial-" in path.name or ".old-" in path.name):
                shutil.rmtree(path, ignore_errors=True)


def _write_log(path: Path, chunks: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(chunks))


def _child_pids() -> list[int]:
    """Our direct children (the native executor starts each task as a session leader)."""
    pids: list[int] = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            pids.extend(int(p) for p in children.read_text().split())
        except OSError:
            continue
    return pids


def run_pipeline(
    repo: Repository,
    graph: TaskGraph,
    *,
    native: bool,
    jobs: int | None,
    on_event: Callable[[Event], None] | None = None,
) -> RunReport:
    from r2o.render.batch import head_commit

    backend = make_backend(repo, graph, native=native)
    return LocalRun(
        repo, graph, backend, jobs=jobs, on_event=on_event, git_commit=head_commit(repo.root)
    ).execute()
