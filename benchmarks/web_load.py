"""The web page's first load: bytes transferred (gzip) and time to interactive, in Debian's chromium.

    .venv/bin/python benchmarks/web_load.py [--loads 5] [--page catalog]

Starts `r2o serve --native` (auth none, loopback; --native: nothing here runs a component, so no
Docker engine is needed) on a temporary copy of this repository's products (its real catalog:
AQcast and every component), then loads the page cold (a new browser context: no cache, no
storage) --loads times. Bytes are what went over the wire for every response of the load (the
page's files and the API answers it needed, headers excluded, the catalog's estimates that arrive
after it is interactive included), from the browser's network events. Time to interactive is from
navigation start to the moment the page has read its configuration, the API has answered and the
first view is drawn and takes input (app.js marks it on <body>). Goals: <= 150 KB, <= 1 s.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ROUTES = {"catalog": "/#/catalog", "runs": "/#/runs", "account": "/#/account"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_repo(root: Path) -> None:
    """This repository's products (components, base images, libraries, pipelines): its real catalog."""
    ignore = shutil.ignore_patterns("rootfs.tar", "__pycache__", "*.pyc")
    for folder in ("components", "base-images", "libs", "pipelines"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.invalid",
            "commit",
            "-q",
            "-m",
            "bench",
        ],
        check=True,
    )


def start_server(repo: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    r2o = Path(sys.executable).with_name("r2o")
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(r2o), "--repo", str(repo), "serve", "--native", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"r2o serve exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return proc, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"r2o serve did not answer within 60 s:\n{log.read_text()[-2000:]}")


def one_load(browser: Any, url: str) -> tuple[int, int, float]:
    """(bytes on the wire, responses, ms to interactive) of one cold load."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes: dict[str, int] = {}
    cdp.on(
        "Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"]))
    )
    headers: dict[str, int] = {}

    def received(event: dict[str, Any]) -> None:
        # encodedDataLength of loadingFinished counts headers too: subtract them to report bodies
        response = event["response"]
        headers[event["requestId"]] = int(response.get("encodedDataLength", 0))

    cdp.on("Network.responseReceived", received)
    sent: set[str] = set()
    cdp.on("Network.requestWillBeSent", lambda e: sent.add(e["requestId"]))
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    ready_ms = float(page.evaluate("Number(document.body.dataset.readyMs)"))
    # the catalog's estimates come after it is interactive: wait for them, and for every response
    page.wait_for_function("() => !document.body.textContent.includes('estimating…')", timeout=30_000)
    deadline = time.monotonic() + 10
    while set(sizes) != sent and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    context.close()
    body = sum(max(0, size - headers.get(rid, 0)) for rid, size in sizes.items())
    return body, len(sizes), ready_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--page", choices=sorted(ROUTES), default="catalog")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="r2o-web-load-") as tmp:
        repo = Path(tmp) / "repo"
        make_repo(repo)
        proc, url = start_server(repo, Path(tmp) / "serve.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                one_load(browser, url + ROUTES[args.page])  # warm the server's own caches (catalog, tags)
                loads = [one_load(browser, url + ROUTES[args.page]) for _ in range(args.loads)]
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    size, responses, _ = loads[0]
    times = sorted(t for _, _, t in loads)
    print(
        f"web page first load ({args.page}, {args.loads} cold loads in Debian's chromium, "
        "r2o serve on loopback)"
    )
    print(
        f"  transferred: {size} bytes ({size / 1000:.1f} KB, gzip) in {responses} responses  [goal <= 150 KB]"
    )
    print(
        f"  time to interactive: median {statistics.median(times):.0f} ms, "
        f"min {times[0]:.0f} ms, max {times[-1]:.0f} ms  [goal <= 1000 ms]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
