"""The Batch routes page as a person uses it, and the metrics where they arrive: one real Airflow stack.

The stack (API server, scheduler, DAG processor, the local Batch) runs with StatsD on, sending to a UDP
port this module listens on, and the local Batch throttles the first two SubmitJob calls as AWS would.

The stack runs Airflow's simple auth manager with a real user (no all-admins shortcut): the browser
logs in through Airflow's login page, opens "Batch routes" inside Airflow's UI, and reads what a
person would: every route of the example table with its job counts, the failed task's job with its
reason and log link, the link back to the task instance, and the page refreshing on its own as the
sleeping task's job ends. When the test fails it saves what the browser showed
(``.artifacts/ui-page-failure.png``); ``BATCH_ROUTER_UPDATE_SCREENSHOT=1`` writes the screenshot in
docs/ui.md.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from batch_router import examples
from batch_router.dev.airflow_stack import AirflowStack
from batch_router.dev.browser import browser_missing, start_chromium
from batch_router.dev.demo import EXECUTOR, executor_env, wait_batch_jobs_ended
from batch_router.dev.local.clients import local_batch_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DAGS = Path(__file__).parent / "ui_dags"
ARTIFACT = ROOT / ".artifacts" / "ui-page-failure.png"
SCREENSHOT = ROOT / "docs" / "images" / "batch-routes-page.png"
USER, PASSWORD = "oncall", "e2e-password"
ROUTES = ("fargate-small", "ec2-large", "ec2-gpu", "eks-general")
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except Exception as exc:  # the DOM is being rebuilt by a refresh: look again
            last_error = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


THROTTLED_SUBMITS = 2
RUNS: dict[str, str] = {}  # the DAG run this module's first test made; the metrics test reads its metrics


class StatsdListener:
    """A StatsD server for the test: every datagram Airflow's StatsD client sends, kept as lines."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            self.lines += [line for line in data.decode().splitlines() if line]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def counters(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for name, value, kind in self._parsed():
            if kind == "c":
                totals[name] += value
        return dict(totals)

    def gauges(self) -> dict[str, list[float]]:
        """Every value each gauge was sent, in order."""
        values: dict[str, list[float]] = defaultdict(list)
        for name, value, kind in self._parsed():
            if kind == "g":
                values[name].append(value)
        return dict(values)

    def _parsed(self) -> list[tuple[str, float, str]]:
        parsed = []
        for line in list(self.lines):
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            parsed.append((name, float(value), kind.split("|")[0]))
        return parsed


@pytest.fixture(scope="module")
def statsd() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, statsd: StatsdListener) -> Iterator[AirflowStack]:
    if (problem := browser_missing()) is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {problem}")
        pytest.skip(problem)
    home = tmp_path_factory.mktemp("airflow-home")
    dags = tmp_path_factory.mktemp("dags")
    for source in DAGS.glob("*.py"):
        shutil.copy(source, dags)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **executor_env(examples.ROUTES_FILE),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
    }
    airflow = AirflowStack(home=home, dags_folder=dags, executor=EXECUTOR, extra_env=env)
    try:
        airflow.start_on_local_batch(examples.ROUTES_FILE, throttle_submits=THROTTLED_SUBMITS)
        airflow.api.login(USER, PASSWORD)
        yield airflow
    finally:
        airflow.stop()


@pytest.fixture(scope="module")
def browser(stack: AirflowStack) -> Iterator[Any]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/plugin/batch-routes")
    username = wait_for("Airflow's login form", lambda: driver.find_element(By.NAME, "username"))
    username.send_keys(USER)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def into_page(driver: Any) -> None:
    """Airflow renders the page (its React app) inside its own UI: wait until it is there."""
    from selenium.webdriver.common.by import By

    wait_for(
        "the page inside Airflow's UI",
        lambda: driver.find_element(By.CSS_SELECTOR, ".batch-router-page #page"),
    )


def counts(driver: Any, route: str) -> dict[str, int]:
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-route="{route}"]')
    return {
        cell.get_attribute("data-count"): int(cell.text)
        for cell in row.find_elements(By.CSS_SELECTOR, "td[data-count]")
    }


def test_an_on_call_engineer_finds_every_route_the_failed_job_and_the_way_back_to_the_task(
    stack: AirflowStack, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    dag = stack.wait_dag("e2e_ui")
    assert dag is not None
    run_id = RUNS["e2e_ui"] = stack.run_dag("e2e_ui")
    client = local_batch_client(stack.batch_env)
    gpu_queue = "airflow-gpu"
    wait_for(
        "the sleeper's job to run",
        lambda: client.list_job_summaries(gpu_queue, status="RUNNING")[0],
        timeout=180,
    )
    base = stack.api.base_url
    try:
        log_in(browser, base)
        into_page(browser)
        wait_for("the sleeper RUNNING on ec2-gpu", lambda: counts(browser, "ec2-gpu").get("RUNNING") == 1)
        refreshes = int(browser.find_element(By.ID, "page").get_attribute("data-refreshes"))
        browser.execute_script("window.notReloaded = true")  # gone if anything reloads the page
        listed = [
            r.get_attribute("data-route") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-route]")
        ]
        assert listed == list(ROUTES)

        state = stack.wait_run("e2e_ui", run_id, timeout=240)
        assert state == "failed"  # one task fails on purpose
        wait_batch_jobs_ended(
            client, ["airflow-fargate", "airflow-ec2", gpu_queue], "e2e_ui", run_id, timeout=60
        )

        # The page refreshes on its own (no reload): the sleeper's job ended.
        wait_for(
            "ec2-gpu to show the ended job",
            lambda: (
                counts(browser, "ec2-gpu") == {**dict.fromkeys(counts(browser, "ec2-gpu"), 0), "SUCCEEDED": 1}
            ),
            timeout=60,
        )
        assert int(browser.find_element(By.ID, "page").get_attribute("data-refreshes")) > refreshes
        assert browser.execute_script("return window.notReloaded") is True
        wait_for("fargate-small's counts", lambda: counts(browser, "fargate-small")["FAILED"] == 1)
        assert counts(browser, "fargate-small")["SUCCEEDED"] == 2  # quick, and fails (its runner ended well)
        assert counts(browser, "ec2-large")["SUCCEEDED"] == 1
        assert set(counts(browser, "eks-general").values()) == {0}
        if os.environ.get("BATCH_ROUTER_UPDATE_SCREENSHOT"):
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SCREENSHOT))

        # A task that failed while its job succeeded says both.
        browser.find_element(
            By.CSS_SELECTOR, 'tr[data-route="fargate-small"] td[data-count="SUCCEEDED"] a'
        ).click()
        wait_for(
            "the failed task of a succeeded job",
            lambda: any(
                r.find_element(By.CSS_SELECTOR, "[data-testid=task-state]").text == "failed"
                and "e2e_ui.fails" in r.text
                for r in browser.find_elements(By.CSS_SELECTOR, "table[data-testid=jobs] tbody tr")
            ),
        )

        # The failed count leads to the failed job: its reason, exit code, links.
        browser.find_element(
            By.CSS_SELECTOR, 'tr[data-route="fargate-small"] td[data-count="FAILED"] a'
        ).click()
        row = wait_for(
            "the failed job in the jobs table",
            lambda: [
                r
                for r in browser.find_elements(By.CSS_SELECTOR, "table[data-testid=jobs] tbody tr")
                if r.get_attribute("data-status") == "FAILED"
            ],
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, "table[data-testid=jobs] tbody tr")) == 1
        failed = row[0]
        job_id = failed.get_attribute("data-job")
        failed_job = client.describe_jobs([job_id])[0]
        assert failed_job["status"] == "FAILED"
        assert failed.find_element(By.CSS_SELECTOR, "[data-testid=reason]").text == failed_job["statusReason"]
        assert failed.find_element(By.CSS_SELECTOR, "[data-testid=task-state]").text == "failed"
        assert "137" in failed.text
        log_link = failed.find_element(By.CSS_SELECTOR, "[data-testid=log-link]").get_attribute("href")
        stream = failed_job["container"]["logStreamName"]
        assert "log-events" in log_link and stream.split("/")[-1] in log_link
        ti_link = failed.find_element(By.CSS_SELECTOR, "[data-testid=ti-link]")
        assert ti_link.text == "e2e_ui.killed"

        # "all tries": the try's route and the router's reason, and its job.
        failed.find_element(By.CSS_SELECTOR, "a[data-tries]").click()
        tries = wait_for(
            "the task instance's tries",
            lambda: browser.find_elements(By.CSS_SELECTOR, "table[data-testid=tries] tbody tr"),
        )
        assert "Airflow queue 'default' is listed by route 'fargate-small'" in tries[0].text
        assert job_id in tries[0].text

        # Back to Airflow's own page of the task instance...
        ti_link.click()
        wait_for("Airflow's task instance page", lambda: "/dags/e2e_ui/runs/" in browser.current_url)
        assert browser.current_url.startswith(f"{base}/dags/e2e_ui/runs/")
        assert "/tasks/killed" in browser.current_url
        # ...whose "Batch tries" tab says the same.
        browser.get(browser.current_url.split("?")[0] + "/plugin/batch-tries")
        tab = wait_for(
            "the task instance's Batch tries tab",
            lambda: browser.find_elements(
                By.CSS_SELECTOR, ".batch-router-page table[data-testid=tries] tbody tr"
            ),
        )
        assert job_id in tab[0].text and "fargate-small" in tab[0].text
    except BaseException:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACT))
        raise


def test_the_documented_metrics_arrive_at_statsd_per_route_with_their_values(
    stack: AirflowStack, statsd: StatsdListener, browser: Any
) -> None:
    """After the run above (this module's first test): five tries on three routes, two SubmitJob calls
    throttled, one job failed, the sleeper seen running for 40 s. Names as docs/metrics.md lists them."""
    prefix = "airflow.batch_router"
    if "e2e_ui" not in RUNS:  # run on its own (-k): make the run the page test would have made
        RUNS["e2e_ui"] = stack.run_dag("e2e_ui")
        stack.wait_run("e2e_ui", RUNS["e2e_ui"], timeout=240)

    def settled() -> dict[str, float] | None:
        counters = statsd.counters()
        done = counters.get(f"{prefix}.succeeded.ec2-gpu") and counters.get(f"{prefix}.failed.fargate-small")
        return counters if done else None

    counters = wait_for("the run's counters at StatsD", settled, timeout=60)
    gauges = wait_for(
        "the running gauges back at 0",
        lambda: (g := statsd.gauges()) and g.get(f"{prefix}.jobs.running.ec2-gpu", [1])[-1] == 0 and g,
        timeout=60,
    )

    assert counters[f"{prefix}.submitted.fargate-small"] == 3
    assert counters[f"{prefix}.submitted.ec2-large"] == 1
    assert counters[f"{prefix}.submitted.ec2-gpu"] == 1
    assert counters[f"{prefix}.succeeded.fargate-small"] == 2  # quick, and fails (its job succeeded)
    assert counters[f"{prefix}.failed.fargate-small"] == 1  # killed: its job failed
    assert counters[f"{prefix}.running.ec2-gpu"] == 1
    assert sum(v for k, v in counters.items() if k.startswith(f"{prefix}.throttled.")) == THROTTLED_SUBMITS
    assert f"{prefix}.submitted" in counters  # the tagged name too (for backends that keep tags)
    assert 1 in gauges[f"{prefix}.jobs.running.ec2-gpu"]
    # Every route's gauges arrive (each is reported at start) and end at 0. How long a try stays pending
    # or queued on the local Batch can be under the gauges' 1 s interval, so only the sleeper's
    # running (40 s) is sure to be seen above 0.
    for route in ROUTES:
        for gauge in ("pending", "queued", "running"):
            assert gauges[f"{prefix}.jobs.{gauge}.{route}"][-1] == 0, (gauge, route)
    # how late state arrives: the job events path (the local Batch sends AWS's events) and the sweeps
    assert 0 <= max(gauges[f"{prefix}.events.lag_seconds"]) < 60
    assert f"{prefix}.poll.sweep_seconds" in gauges
