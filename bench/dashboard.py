"""Benchmark: the dashboard's endpoint list with 200 endpoints, in a real Chromium.

Run with ``.venv/bin/python bench/dashboard.py`` (needs Debian's
``chromium`` and ``chromium-driver``, which ``.ci/run`` installs). It
starts ``moorage serve`` on a free port in a temporary data dir, creates
``--endpoints`` endpoints for inference components (their variants name no
model, so no model server runs and the machine only pays for the list),
waits until all are InService, then:

- ``document``: the time to answer ``GET /ui/api/endpoints`` (the document
  the list page polls every 3 s), with a session cookie, over keep-alive,
  median and p99 of ``--requests`` requests, and its size;
- ``render``: in headless Chromium, logged in through the form, the time
  from the start of navigation to the list's first full render
  (``performance.mark('endpoints-rendered')``, set by ``list.js`` once the
  rows are in the DOM), over ``--loads`` page loads (each a reload).

Prints a JSON document, then a table. Every process is stopped on exit.
"""

from __future__ import annotations

import argparse
import configparser
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parents[1]
MOORAGE = Path(sys.executable).parent / "moorage"


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(MOORAGE), "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if " listening on " in line:
            return proc, line.split(" listening on ")[1].split()[0]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("moorage serve did not start")


def read_keys(data_dir: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(data_dir / "credentials")
    section = parser["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def create_endpoints(url: str, keys: tuple[str, str], count: int) -> None:
    sm = boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=Config(retries={"max_attempts": 3}),
    )
    sm.create_endpoint_config(
        EndpointConfigName="bench-capacity",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 2}
        ],
    )
    for n in range(count):
        sm.create_endpoint(EndpointName=f"bench-{n:04d}", EndpointConfigName="bench-capacity")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        pages = sm.get_paginator("list_endpoints").paginate(StatusEquals="InService")
        if sum(len(page["Endpoints"]) for page in pages) >= count:
            return
        time.sleep(1)
    raise RuntimeError("the endpoints did not become InService")


def login_cookie(url: str, keys: tuple[str, str]) -> str:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = urllib.parse.urlencode({"access_key_id": keys[0], "secret_access_key": keys[1]})
    conn.request("POST", "/ui/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    reply = conn.getresponse()
    reply.read()
    conn.close()
    return str(reply.getheader("set-cookie")).split(";")[0]


def measure_document(url: str, cookie: str, requests: int) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times: list[float] = []
    size = 0
    rows = 0
    for _ in range(requests):
        started = time.perf_counter()
        conn.request("GET", "/ui/api/endpoints", headers={"Cookie": cookie})
        reply = conn.getresponse()
        data = reply.read()
        times.append((time.perf_counter() - started) * 1000)
        if reply.status != 200:
            raise RuntimeError(f"GET /ui/api/endpoints answered {reply.status}")
        size = len(data)
        rows = len(json.loads(data)["endpoints"])
    conn.close()
    times.sort()
    return {
        "rows": rows,
        "bytes": size,
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
    }


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def rendered_ms(driver: webdriver.Chrome, rows: int, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    script = (
        "const m = performance.getEntriesByName('endpoints-rendered');"
        "const t = document.getElementById('endpoints');"
        "return m.length && t ? [m[0].startTime, Number(t.dataset.rows)] : null;"
    )
    while time.monotonic() < deadline:
        found = driver.execute_script(script)
        if found:
            if int(found[1]) != rows:
                raise RuntimeError(f"the list showed {found[1]} rows, not {rows}")
            return float(found[0])
        time.sleep(0.05)
    raise RuntimeError("the list did not render")


def measure_render(url: str, keys: tuple[str, str], rows: int, loads: int) -> dict[str, Any]:
    driver = browser()
    try:
        driver.get(url + "/")
        driver.find_element(By.ID, "access_key_id").send_keys(keys[0])
        driver.find_element(By.ID, "secret_access_key").send_keys(keys[1])
        driver.find_element(By.CSS_SELECTOR, "form#login button").click()
        times = []
        # The login's own reload is the first load; then plain reloads.
        for index in range(loads):
            if index:
                driver.refresh()
            time.sleep(0.2)
            times.append(rendered_ms(driver, rows))
        return {
            "loads": loads,
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
        }
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="moorage-bench-dashboard-"))
    proc, url = start_server(data_dir)
    try:
        keys = read_keys(data_dir)
        create_endpoints(url, keys, args.endpoints)
        document = measure_document(url, login_cookie(url, keys), args.requests)
        render = measure_render(url, keys, args.endpoints, args.loads)
    finally:
        proc.terminate()
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "endpoints": args.endpoints,
        "document": document,
        "render": render,
    }
    print(json.dumps(result, indent=2))
    print()
    print(f"{'what':<44} {'median':>10} {'worst':>10}")
    print(
        f"{'GET /ui/api/endpoints (' + str(document['bytes']) + ' bytes)':<44} "
        f"{document['median_ms']:>8} ms {document['p99_ms']:>7} ms (p99)"
    )
    print(
        f"{'navigation to list rendered (Chromium)':<44} "
        f"{render['median_ms']:>8} ms {render['max_ms']:>7} ms (max)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
