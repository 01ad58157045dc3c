"""A real headless Chromium for dashboard tests, driven through Selenium.

Debian's ``chromium`` and ``chromium-driver`` packages (``.ci/run``
installs them when missing); nothing is downloaded. The browser logs in
through the login form exactly as a person would, with the server's key.
Screenshots go to ``tests/artifacts/screenshots/`` (ignored by git; the
rest of ``tests/artifacts/`` is the model-artifact tests): the tests save
the pages they check, and a test that fails in the browser leaves a picture
of what the page showed then (``<test>-failed.png``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from support.server import MoorageServer

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
T = TypeVar("T")


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        f"{names[0]} is not installed: .ci/run installs Debian's chromium and "
        "chromium-driver (apt-get install -y chromium chromium-driver)"
    )


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=_binary("chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    except BaseException:
        # What the page showed when the test failed, named after the test.
        test = os.environ.get("PYTEST_CURRENT_TEST", "browser").split(" ")[0]
        with contextlib.suppress(WebDriverException):
            screenshot(driver, re.sub(r"[^A-Za-z0-9_.-]+", "-", test) + "-failed")
        raise
    finally:
        driver.quit()


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy (page parts are redrawn every poll)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except (StaleElementReferenceException, WebDriverException) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or check}" + (f": {last}" if last else ""))


def log_in(driver: webdriver.Chrome, server: MoorageServer) -> None:
    """Open the server's page and log in through the form with its key."""
    keys = server.credentials
    driver.get(server.url + "/")
    driver.find_element(By.ID, "access_key_id").send_keys(keys["aws_access_key_id"])
    driver.find_element(By.ID, "secret_access_key").send_keys(keys["aws_secret_access_key"])
    driver.find_element(By.CSS_SELECTOR, "form#login button").click()
    wait_for(lambda: driver.find_elements(By.ID, "endpoints"), what="the endpoint list")


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the whole page as ``tests/artifacts/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(int(height) + 120, 800), 6000))
    driver.save_screenshot(str(path))
    return path


def text_of(driver: webdriver.Chrome, css: str) -> str:
    elements = driver.find_elements(By.CSS_SELECTOR, css)
    return " ".join(str(e.text) for e in elements)


def js(driver: webdriver.Chrome, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)
