"""The web page end to end, as a forecaster uses it: `r2o serve` (auth none) running products in
Docker, Debian's chromium driving the page. identity-matrix and a one-day AQcast are launched
through the form and watched until COMPLETE without reloading; a second AQcast is canceled; the map,
the report and a download are checked against the API; axe-core and the keyboard on every page.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.web.browser import (
    Server,
    build_images,
    go,
    product_repo,
    screenshots,
    serious_violations,
    serve,
    unreachable_by_keyboard,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

AQCAST_DAY = "2024-07-15"
CANCELED_DAY = "2024-07-20"
STATE_WORDS = {"COMPLETE": "complete", "CANCELED": "canceled", "RUNNING": "running", "QUEUED": "queued"}


#: A product with every kind of parameter the form draws (this repository's have no enum).
OPTIONS_COMPONENT = {
    "apiVersion": "r2o/v1",
    "name": "forecast-options",
    "version": "1.0.0",
    "description": "prints its options (the form's every kind of field)",
    "owners": ["web-tests"],
    "base": "python-sci",
    "command": [
        "python3",
        "-c",
        "import sys; print(sys.argv[1:])",
        "Ref::region",
        "Ref::threshold",
        "Ref::hours",
    ],
    "parameters": {
        "region": {
            "type": "enum",
            "values": ["west", "east", "south"],
            "default": "west",
            "description": "area",
        },
        "threshold": {"type": "number", "minimum": 0, "maximum": 120, "default": 70, "description": "ppb"},
        "hours": {"type": "integer", "minimum": 1, "maximum": 72, "description": "forecast length"},
        "smooth": {"type": "boolean", "default": False, "description": "smooth the field"},
    },
    "resources": {"vcpus": 1, "memory_mib": 256, "timeout_s": 600, "retries": 1},
    "outputs": [{"name": "log", "path": "stdout", "format": "text"}],
}


@pytest.fixture(scope="module")
def server(engine: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web") / "repo"
    folder = root / "components" / "forecast-options"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (folder / "component.yaml").write_text(yaml.safe_dump(OPTIONS_COMPONENT, sort_keys=False))
    repo = product_repo(root)
    build_images(repo)
    log = tmp_path_factory.mktemp("web-log") / "serve.log"
    with serve(repo, log, "--workers", "3") as running:
        yield running


def accessible(page: Any, name: str) -> None:
    """axe-core finds nothing serious or critical, Tab reaches every control; screenshots at both
    sizes, neither wider than its screen."""
    assert serious_violations(page) == []
    assert unreachable_by_keyboard(page) == []
    assert screenshots(page, name) == {"desktop": 0, "phone": 0}


def launch_from_form(page: Any, server: Server, product: str, fill: dict[str, str], name: str) -> str:
    """Fill the product's form, check (the plan must be the API's), launch; the new run's id."""
    go(page, f"{server.url}/#/launch/{product}")
    page.fill("#f-run-name", name)
    for selector, value in fill.items():
        page.fill(selector, value)
    page.get_by_role("button", name="Check").click()
    summary = page.locator(".plan-summary")
    summary.wait_for()
    return summary.inner_text()


def wait_for_chip(page: Any, state: str, timeout_s: float) -> None:
    page.locator("h1 .chip", has_text=STATE_WORDS[state]).wait_for(timeout=timeout_s * 1000)


def run_id_of(page: Any) -> str:
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f]{32}$"))
    return str(page.url.rsplit("/", 1)[1])


def test_catalog_shows_aqcast_first_with_owner_version_and_estimate(page: Any, server: Server) -> None:
    go(page, server.url + "/")
    cards = page.locator(".card h2")
    names = [text.split()[0] for text in cards.all_inner_texts()]
    products = [p["name"] for p in server.api("/api/v1/products")["products"]]
    assert names[0] == "aqcast"
    assert sorted(names) == sorted(products)
    aqcast = page.locator(".card").first
    assert "aq-science" in aqcast.inner_text()
    version = server.api("/api/v1/products/aqcast")["version"]
    assert version in aqcast.inner_text()
    page.locator(".card dd", has_text="vCPU-hours").first.wait_for()
    accessible(page, "catalog")


def test_an_invalid_form_shows_the_fields_message_and_launches_nothing(page: Any, server: Server) -> None:
    before = len(server.api("/api/v1/runs")["runs"])
    go(page, f"{server.url}/#/launch/identity-matrix")
    page.fill("#f-size", "0")
    page.get_by_role("button", name="Check").click()
    # the server's own words for the same value (launch._schema_message): "0 is below the minimum 1"
    assert page.locator("#error-size").inner_text() == "0 is below the minimum 1"
    assert page.locator("#f-size").get_attribute("aria-invalid") == "true"
    assert page.get_by_role("button", name="Launch").is_disabled()
    accessible(page, "launch-invalid")

    go(page, f"{server.url}/#/launch/aqcast")
    page.fill("#f-start", AQCAST_DAY)
    page.fill("#f-days", "2024-09-30")  # the last day: 78 days, beyond the 31 the service allows
    page.get_by_role("button", name="Check").click()
    assert page.locator("#error-days").inner_text() == "78 is above the maximum 31"
    assert len(server.api("/api/v1/runs")["runs"]) == before


def test_the_form_is_drawn_from_the_schema_and_checks_as_the_server_does(page: Any, server: Server) -> None:
    go(page, f"{server.url}/#/launch/forecast-options")
    region = page.locator("#f-region")
    assert region.evaluate("(e) => e.tagName") == "SELECT"
    assert region.locator("option").all_inner_texts()[-3:] == ["west", "east", "south"]
    assert region.input_value() == "west"  # the default, filled in
    threshold = page.locator("#f-threshold")
    assert (threshold.get_attribute("min"), threshold.get_attribute("max")) == ("0", "120")
    assert threshold.input_value() == "70"
    assert "ppb" in page.locator("#help-threshold").inner_text()
    assert page.locator("#f-smooth").get_attribute("type") == "checkbox"
    assert not page.locator("#f-smooth").is_checked()

    page.get_by_role("button", name="Check").click()
    assert page.locator("#error-hours").inner_text() == "required"
    for value in ("100", "0", "2.5"):
        page.fill("#f-hours", value)
        page.get_by_role("button", name="Check").click()
        shown = page.locator("#error-hours").inner_text()
        answer = server.api(
            "/api/v1/runs",
            method="POST",
            body={
                "product": "forecast-options",
                "parameters": {"hours": float(value) if "." in value else int(value)},
                "validate_only": True,
            },
        )
        said = {e["field"]: e["message"] for e in answer["errors"]}
        assert shown == said["parameters.hours"], value  # the page's words are the service's
    page.fill("#f-hours", "24")
    page.select_option("#f-region", "east")
    page.get_by_role("button", name="Check").click()
    assert "1 task" in page.locator(".plan-summary").inner_text()
    assert page.locator("#error-hours").inner_text() == ""


def test_an_input_file_is_uploaded_for_the_check(page: Any, server: Server) -> None:
    go(page, f"{server.url}/#/launch/emissions-area")
    page.get_by_role("button", name="Check").click()
    assert page.locator("#error-in-wrfout").inner_text().startswith("required")
    netcdf = {"name": "wrfout_d01.nc", "mimeType": "application/x-netcdf", "buffer": b"CDF\x01" + bytes(60)}
    page.set_input_files("#in-wrfout", files=[netcdf])
    page.get_by_role("button", name="Check").click()
    # valid only with an upload of this user's: the service checked the id the page sent
    assert "1 task" in page.locator(".plan-summary").inner_text()


def test_identity_matrix_from_the_form_completes_live_and_downloads(page: Any, server: Server) -> None:
    summary = launch_from_form(page, server, "identity-matrix", {"#f-size": "4"}, "matrix from the page")
    plan = server.api(
        "/api/v1/runs",
        method="POST",
        body={"product": "identity-matrix", "parameters": {"size": 4}, "validate_only": True},
    )["plan"]
    assert f"{plan['tasks']} task" in summary
    assert f"{plan['vcpu_hours']:.3f} vCPU-hours" in summary
    accessible(page, "launch-checked")
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Launch").click()
    run_id = run_id_of(page)
    wait_for_chip(page, "COMPLETE", 180)
    assert page.evaluate("window.notReloaded") is True  # it got there by polling, not by a reload

    output = next(
        o for o in server.api(f"/api/v1/runs/{run_id}/outputs")["outputs"] if o["path"].endswith("stdout.txt")
    )
    button = page.locator(f"button.download[data-path='{output['path']}']")
    with page.expect_download() as download:
        button.click()
    saved = Path(download.value.path()).read_bytes()
    assert saved == server.api(output["url"])
    assert len(saved) == output["size"]
    assert b"[[1. 0. 0. 0.]" in saved


def test_aqcast_one_day_from_the_form_with_a_canceled_second(page: Any, server: Server) -> None:
    launch_from_form(page, server, "aqcast", {"#f-start": AQCAST_DAY}, "AQcast one day")
    page.get_by_role("button", name="Launch").click()
    aqcast = run_id_of(page)

    launch_from_form(page, server, "aqcast", {"#f-start": CANCELED_DAY}, "AQcast to cancel")
    page.get_by_role("button", name="Launch").click()
    doomed = run_id_of(page)
    running = page.locator(".cell.s-RUNNING").first
    running.wait_for(timeout=120_000)
    running.click()
    page.locator("#h-log ~ p.help", has_text="Following").wait_for()  # the log follows the running task
    page.get_by_role("button", name="Cancel…").click()
    page.get_by_role("button", name="Cancel the run").click()
    wait_for_chip(page, "CANCELED", 120)
    assert server.api(f"/api/v1/runs/{doomed}")["state"] == "CANCELED"

    # the runs list follows the first run to its end without a reload
    go(page, f"{server.url}/#/runs")
    row = page.locator(f"tr[data-run='{aqcast}']")
    row.wait_for()
    page.evaluate("window.notReloaded = true")
    accessible(page, "runs")
    page.locator(f"tr[data-run='{aqcast}'][data-state='COMPLETE']").wait_for(timeout=900_000)
    assert page.evaluate("window.notReloaded") is True
    assert "complete" in page.locator(f"tr[data-run='{aqcast}'] .chip").inner_text()
    assert "canceled" in page.locator(f"tr[data-run='{doomed}'] .chip").inner_text()

    go(page, f"{server.url}/#/runs/{aqcast}")
    detail = server.api(f"/api/v1/runs/{aqcast}")
    cells = page.locator("button.cell")
    assert cells.count() == len(detail["tasks"])
    for task in detail["tasks"][:3]:
        cell = page.locator(f"button.cell[data-task='{task['id']}']")
        assert STATE_WORDS[task["state"]] in cell.inner_text()  # the colour's text equivalent
        cell.focus()
        tip = page.locator(f"#{cell.get_attribute('aria-describedby')}")
        assert tip.is_visible() and task["reason"] in tip.inner_text()
    assert " → " in page.locator(".critical-path").inner_text()

    # the map: a thumbnail inline, the full picture on demand (its width read from the API's PNG)
    png = next(
        o for o in server.api(f"/api/v1/runs/{aqcast}/outputs")["outputs"] if o["path"].endswith(".png")
    )
    full_width = struct.unpack(">I", server.api(png["url"])[16:20])[0]
    thumb = page.locator("button.thumb img")
    thumb.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", thumb.element_handle()) > 0
    page.locator("button.thumb").click()
    full = page.locator("dialog.viewer img.full")
    full.wait_for()
    page.wait_for_function("() => document.querySelector('dialog.viewer img.full').naturalWidth > 0")
    assert page.evaluate("() => document.querySelector('dialog.viewer img.full').naturalWidth") == full_width
    page.keyboard.press("Escape")

    # the compliance report as a table: one row per reported day, as the report file says
    report = next(
        o for o in server.api(f"/api/v1/runs/{aqcast}/outputs")["outputs"] if o["path"].endswith("report.txt")
    )
    text = server.api(report["url"]).decode()
    days = [line.split()[0] for line in text.splitlines() if re.match(r"\d{4}-\d{2}-\d{2}\s", line)]
    rows = page.locator(".report tbody th").all_inner_texts()
    assert rows == days and AQCAST_DAY in rows
    accessible(page, "run-detail")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download provenance").click()
    assert download.value.suggested_filename == f"r2o-{aqcast}-provenance.json"


def test_runs_are_filtered_by_state(page: Any, server: Server) -> None:
    go(page, f"{server.url}/#/runs")
    page.select_option("#filter-state", "CANCELED")
    page.wait_for_url(re.compile(r"#/runs\?state=CANCELED$"))
    page.locator("table.runs tbody tr").first.wait_for()
    canceled = server.api("/api/v1/runs?state=CANCELED")["runs"]
    assert canceled
    shown = page.locator("table.runs tbody tr")
    assert shown.count() == len(canceled)
    assert {shown.nth(i).get_attribute("data-state") for i in range(shown.count())} == {"CANCELED"}


def test_relaunch_prefills_the_form(page: Any, server: Server) -> None:
    first = server.api(
        "/api/v1/runs", method="POST", body={"product": "identity-matrix", "parameters": {"size": 3}}
    )
    go(page, f"{server.url}/#/runs/{first['id']}")
    page.get_by_role("link", name="Relaunch…").click()
    page.locator("#f-size").wait_for()
    assert page.locator("#f-size").input_value() == "3"
    page.fill("#f-size", "5")
    page.get_by_role("button", name="Check").click()
    page.get_by_role("button", name="Relaunch").click()
    second = run_id_of(page)
    detail = server.api(f"/api/v1/runs/{second}")
    assert detail["relaunch_of"] == first["id"] and detail["parameters"] == {"size": 5}


def test_the_page_keeps_working_while_the_api_is_unreachable(page: Any, server: Server) -> None:
    go(page, f"{server.url}/#/runs")
    page.route("**/api/v1/**", lambda route: route.abort())
    status = page.locator("#status")
    status.wait_for(state="visible", timeout=30_000)
    assert "not answering" in status.inner_text()
    assert "{" not in status.inner_text()
    page.unroute("**/api/v1/**")
    status.wait_for(state="hidden", timeout=60_000)
    assert page.locator("table.runs tbody tr").count() > 0


def test_account_shows_identity_and_quota(page: Any, server: Server) -> None:
    go(page, f"{server.url}/#/account")
    me = server.api("/api/v1/me")
    text = page.locator("main").inner_text()
    assert me["name"] in text and "vCPU-hours this month" in text
    assert str(me["quota"]["concurrent_runs"]["limit"]) in text
    assert "You are" in page.locator("#who").inner_text()  # auth none: it says who you are
    accessible(page, "account")


def test_a_missing_run_is_explained_in_words(page: Any, server: Server) -> None:
    go(page, f"{server.url}/#/runs/{'0' * 32}")
    alert = page.get_by_role("alert")
    assert "no run" in alert.inner_text() and "another user" in alert.inner_text()
    assert "{" not in page.locator("main").inner_text()
