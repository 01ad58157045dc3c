"""The dashboard in a real headless Chromium, against real endpoints and model servers.

A person's path through it: log in with the server's key through the form;
the endpoint list shows statuses, variants and a failed endpoint's reason
(markup in it stays text); an endpoint during a canary update shows the
canary step baking with its traffic split, then — once a rollback alarm is
forced into ALARM with SetAlarmState — the failed step, the rollback steps
and the alarm; a component endpoint shows its placement map. Assertions are
on the rendered DOM; each test saves a screenshot to
``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By

from support.archives import toolbox_archive, write_archive
from support.browser import chromium, js, log_in, screenshot, text_of, wait_for
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import create_endpoint, create_model, delete, variant, wait_status
from support.names import unique
from support.rollouts import canary_config, put_5xx_alarm
from support.server import MoorageServer
from support.traffic import Traffic

# A failure reason that is also markup: the page must show it as text.
HOSTILE = '<img src=x onerror="window.__xss=1"><b id="injected">bold</b>'


def _open_endpoint(driver: Any, server: MoorageServer, name: str) -> None:
    driver.get(f"{server.url}/#/endpoints/{name}")
    wait_for(
        lambda: js(driver, "return document.getElementById('main').dataset.loaded") == name,
        what=f"the page of {name}",
    )


def test_log_in_and_see_the_endpoint_list(serving: MoorageServer, esm: Any, tmp_path: Path) -> None:
    name = unique("dash-list")
    create_model(esm, name, toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_endpoint(esm, name, [variant("AllTraffic", name, count=1)])
    broken = unique("dash-broken")
    failing = write_archive(
        tmp_path / "broken.tar.gz",
        {
            "code/inference.py": f"""
                def model_fn(model_dir):
                    raise ValueError({HOSTILE!r})
            """
        },
    )
    create_model(esm, broken, failing.as_uri())
    create_endpoint(esm, broken, [variant("AllTraffic", broken)])
    wait_status(esm, name, "InService", timeout=120)
    reason = wait_status(esm, broken, "Failed", timeout=120)["FailureReason"]
    assert "<img" in reason
    with chromium() as driver:
        # A wrong secret is refused on the login page itself.
        driver.get(serving.url + "/")
        keys = serving.credentials
        driver.find_element(By.ID, "access_key_id").send_keys(keys["aws_access_key_id"])
        driver.find_element(By.ID, "secret_access_key").send_keys("not-the-secret")
        driver.find_element(By.CSS_SELECTOR, "form#login button").click()
        message = wait_for(lambda: driver.find_element(By.ID, "message").text, what="a refusal")
        assert "not valid" in message
        assert not driver.find_elements(By.ID, "endpoints")

        log_in(driver, serving)
        row = f'#endpoints tr[data-endpoint="{name}"]'
        wait_for(lambda: "InService" in text_of(driver, row), what=f"{name} InService")
        text = text_of(driver, row)
        assert "AllTraffic" in text and "ml.m5.large" in text and "1/1" in text
        failed = f'#endpoints tr[data-endpoint="{broken}"]'
        wait_for(lambda: "Failed" in text_of(driver, failed), what=f"{broken} Failed")
        shown = text_of(driver, failed + " td.failure")
        assert HOSTILE in shown  # the markup, as text
        assert not driver.find_elements(By.CSS_SELECTOR, "#main img, #injected")
        assert js(driver, "return window.__xss") is None
        rows = int(js(driver, "return document.getElementById('endpoints').dataset.rows"))
        assert rows >= 2
        assert js(driver, "return performance.getEntriesByName('endpoints-rendered').length") == 1
        screenshot(driver, "dashboard-endpoint-list")

        # Logging out ends the session: the dashboard's documents are refused again.
        driver.find_element(By.ID, "logout").click()
        wait_for(lambda: driver.find_elements(By.ID, "login"), what="the login page")
        status = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/ui/api/endpoints').then(r => done(r.status));"
        )
        assert status == 403
    delete(esm, name)
    delete(esm, broken)


def test_a_canary_update_and_its_rollback_as_a_timeline(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    cloudwatch = serving.client("cloudwatch")
    name = unique("dash-canary")
    for version in ("v1", "v2"):
        url = toolbox_archive(tmp_path / f"{version}.tar.gz", version).as_uri()
        create_model(esm, f"{name}-{version}", url)
        esm.create_endpoint_config(
            EndpointConfigName=f"{name}-{version}",
            ProductionVariants=[variant("AllTraffic", f"{name}-{version}", count=2)],
        )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    wait_status(esm, name, "InService", timeout=120)
    alarm = put_5xx_alarm(cloudwatch, name)
    config = canary_config(alarm, 300)
    with chromium() as driver, Traffic(runtime, name, clients=2) as traffic:
        log_in(driver, serving)
        esm.update_endpoint(
            EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=config
        )
        _open_endpoint(driver, serving, name)
        canary = '#timeline li.step[data-name^="Canary"]'
        wait_for(
            lambda: "baking until" in text_of(driver, canary),
            timeout=120,
            what="the canary step baking",
        )
        assert js(driver, f"return document.querySelector('{canary}').dataset.state") == ("current")
        # The canary step's traffic split: one of two new instances, half the traffic.
        assert text_of(driver, canary + " td.traffic") == "50%"
        first = js(driver, "return document.querySelector('#timeline li.step').dataset.state")
        assert first == "done"
        assert "Canary" in text_of(driver, "#deployment .deploy-head")
        assert "InProgress" in text_of(driver, "#deployment .deploy-head")
        wait_for(
            lambda: js(driver, "return document.querySelectorAll('#charts svg path.line').length"),
            what="the invocation charts",
        )
        # Another window redraws the charts with its own period.
        driver.find_element(By.CSS_SELECTOR, '.windows button[data-minutes="5"]').click()
        wait_for(
            lambda: "Errors per 5 s" in text_of(driver, "#charts figcaption"),
            what="the 5-minute charts",
        )
        screenshot(driver, "dashboard-canary-baking")

        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing")
        wait_for(
            lambda: "RolledBack" in text_of(driver, "#deployment .deploy-head"),
            timeout=120,
            what="the rollback to finish",
        )
        states = js(
            driver,
            "return [...document.querySelectorAll('#timeline li.step')]"
            ".map(li => [li.dataset.name, li.dataset.state]);",
        )
        by_name = dict(states)
        canary_name = next(n for n in by_name if n.startswith("Canary"))
        assert by_name[canary_name] == "failed"
        assert by_name["Provision the new fleet"] == "done"
        assert by_name["All traffic to the new fleet"] == "skipped"
        rollback = js(
            driver,
            "return [...document.querySelectorAll('#rollback li.step')]"
            ".map(li => li.dataset.state)",
        )
        assert rollback and set(rollback) == {"done"}
        reason = text_of(driver, "#deployment-reason")
        assert alarm in reason and "rolled back" in reason
        # The forced state holds one period, then data may turn it back to OK: the
        # transitions while the deployment ran stay in the timeline either way.
        alarms = text_of(driver, f'#deployment .rollback-alarms li[data-alarm="{alarm}"]')
        assert "to ALARM" in alarms
        assert "rollback" in text_of(driver, f'#alarms tr[data-alarm="{alarm}"]')
        wait_for(lambda: "InService" in text_of(driver, ".endpoint-head h1"), what="InService")
        wait_for(lambda: text_of(driver, "#logs ol.log"), what="the model servers' log lines")
        screenshot(driver, "dashboard-canary-rolled-back")
    assert traffic.failures == []
    described = esm.describe_endpoint(EndpointName=name)
    assert described["EndpointConfigName"] == f"{name}-v1"
    cloudwatch.delete_alarms(AlarmNames=[alarm])
    delete(esm, name)


def test_a_component_endpoint_shows_its_placement_map(
    serving: MoorageServer, esm: Any, tmp_path: Path
) -> None:
    name = unique("dash-ic")
    component = f"{name}-toolbox"
    create_model(esm, component, toolbox_archive(tmp_path / "m.tar.gz", "ic").as_uri())
    component_endpoint(esm, name, count=2)
    create_component(esm, component, name, model=component, copies=3, cpus=1, memory=1024)
    wait_component(esm, component, timeout=120)
    with chromium() as driver:
        log_in(driver, serving)
        row = f'#endpoints tr[data-endpoint="{name}"]'
        wait_for(lambda: "InService" in text_of(driver, row), what=f"{name} in the list")
        driver.find_element(By.CSS_SELECTOR, row + " a.endpoint-link").click()
        wait_for(
            lambda: js(driver, "return document.getElementById('main').dataset.loaded") == name,
            what="the endpoint page",
        )
        wait_for(
            lambda: driver.find_elements(By.CSS_SELECTOR, "#placement .instance"),
            what="the placement map",
        )
        instances = driver.find_elements(By.CSS_SELECTOR, "#placement .instance")
        assert len(instances) == 2
        copies = driver.find_elements(
            By.CSS_SELECTOR, f'#placement li.copy[data-component="{component}"]'
        )
        assert len(copies) == 3
        text = text_of(driver, "#placement")
        assert "ml.m5.xlarge" in text and "vCPU" in text and "MB" in text
        used = js(
            driver,
            "return [...document.querySelectorAll('#placement .instance')]"
            ".map(i => i.querySelectorAll('li.copy').length).sort()",
        )
        assert sum(used) == 3 and all(n >= 1 for n in used)
        row_text = text_of(driver, f'#components tr[data-component="{component}"]')
        assert "InService" in row_text and "3/3" in row_text
        screenshot(driver, "dashboard-placement")
    esm.delete_inference_component(InferenceComponentName=component)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = esm.list_inference_components(EndpointNameEquals=name)["InferenceComponents"]
        if not listed:
            break
        time.sleep(0.2)
    delete(esm, name)
