"""The web page's test bench: `r2o serve` as a real process on a repository copy, Debian's chromium
driven by Playwright, an OIDC provider on loopback (oidc-provider-mock), axe-core, screenshots.

Screenshots go to ``.r2o/artifacts/web/`` (ignored by git; CI keeps them as artifacts).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT, make_git_repo
from tests.services import answering, free_port

ARTIFACTS = REPO_ROOT / ".r2o" / "artifacts" / "web"
CHROMIUM = Path(os.environ.get("R2O_CHROMIUM", "/usr/bin/chromium"))
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
R2O = Path(sys.executable).with_name("r2o")


def product_repo(root: Path) -> Path:
    """A git repository holding this repository's products (components, base images, libraries,
    pipelines): the same content tags, so the images `r2o build --all` made here are reused."""
    ignore = shutil.ignore_patterns("rootfs.tar", "__pycache__", "*.pyc")
    for folder in ("components", "base-images", "libs", "pipelines"):
        if (REPO_ROOT / folder).is_dir():
            shutil.copytree(REPO_ROOT / folder, root / folder, ignore=ignore, dirs_exist_ok=True)
    return make_git_repo(root)


def build_images(repo: Path) -> None:
    proc = subprocess.run(
        [str(R2O), "--repo", str(repo), "build", "--all"], capture_output=True, text=True, timeout=3600
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])


@dataclass
class Server:
    url: str
    log: Path

    def api(self, path: str, *, token: str | None = None, method: str = "GET", body: Any = None) -> Any:
        """The answer of the API: JSON, or the raw bytes of a download (what the page is checked against)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            if response.headers.get_content_type() == "application/json":
                return json.loads(raw)
            return raw


@contextmanager
def serve(repo: Path, log: Path, *args: str) -> Iterator[Server]:
    """`r2o serve` in a process of its own on a free loopback port; stopped with SIGINT."""
    port = free_port()
    command = [str(R2O), "--repo", str(repo), "serve", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    with answering(command, log, f"{url}/healthz", "r2o serve"):
        yield Server(url, log)


@contextmanager
def oidc_provider(users: Iterable[str], log: Path, token_seconds: int = 3600) -> Iterator[str]:
    """An OpenID provider on a loopback port (tests/web/oidc_provider.py, a process of its own);
    yields its issuer URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "tests.web.oidc_provider", str(port), str(token_seconds), *users]
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/.well-known/openid-configuration"
    with answering(command, log, probe, "the OIDC provider", timeout=30, cwd=REPO_ROOT, stop=signal.SIGTERM):
        yield url


def wait_ready(page: Any) -> None:
    """The page has started (config read, signed in or not) and drawn its first view."""
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)


def go(page: Any, url: str) -> None:
    page.goto(url)
    wait_ready(page)
    page.wait_for_selector("main h1", timeout=20_000)


def screenshots(page: Any, name: str) -> dict[str, int]:
    """The page at both sizes, full length, under .r2o/artifacts/web/<name>-<viewport>.png; for each
    size, how many pixels the page is wider than the screen (0: nothing to scroll sideways)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    overflow = {}
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        overflow[label] = int(page.evaluate("document.documentElement.scrollWidth")) - size["width"]
    page.set_viewport_size(before)
    return overflow


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def unreachable_by_keyboard(page: Any, limit: int = 400) -> list[str]:
    """The visible controls (links, buttons, fields, scrollable regions) that pressing Tab never
    reaches, described; an empty list when every one is reachable."""
    count = page.evaluate(
        """() => {
          const all = [...document.querySelectorAll('a[href], button:not([disabled]), '
            + 'input:not([disabled]), select:not([disabled]), summary, [tabindex="0"]')];
          const shown = all.filter((e) => e.getClientRects().length > 0
                                          && getComputedStyle(e).visibility !== 'hidden'
                                          && !e.closest('dialog:not([open])')
                                          && !(e.closest('details:not([open])') && e.tagName !== 'SUMMARY'));
          shown.forEach((e, i) => e.setAttribute('data-kb', String(i)));
          return shown.length;
        }"""
    )
    page.evaluate("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    reached: set[str] = set()
    for _ in range(min(limit, count * 2 + 5)):
        page.keyboard.press("Tab")
        mark = page.evaluate("document.activeElement && document.activeElement.getAttribute('data-kb')")
        if mark is not None:
            reached.add(mark)
        if len(reached) == count:
            break
    missing: list[str] = page.evaluate(
        """(reached) => [...document.querySelectorAll('[data-kb]')]
             .filter((e) => !reached.includes(e.getAttribute('data-kb')))
             .map((e) => e.tagName.toLowerCase() + ': '
                         + (e.getAttribute('aria-label') || e.textContent || e.id).trim().slice(0, 60))""",
        sorted(reached),
    )
    return missing
