"""Benchmark: autoscaling real model servers — reaction time, cold starts, churn under load.

Run with ``.venv/bin/python bench/autoscaling.py``. It starts ``moorage serve``
on a free port in a temporary data dir, with ``--clock-speed 30`` (a minute
of the server's clock is two real seconds, so CloudWatch's minute periods
pass quickly; model servers start and drain in real time), and measures:

1. **Load step to a new instance serving.** An endpoint of one instance with
   a target tracking policy on ``SageMakerVariantInvocationsPerInstance``
   (target 60 a minute, maximum 2 instances) is idle, then two clients
   invoke without pause. Measured from the first request of the load: when
   the scaling activity starts (the policy's AlarmHigh needs 3 datapoints of
   a minute, as on AWS: server-clock time, shown as such), and when the
   first answer comes from the new instance's process (real time after the
   activity: the model server's start). Repeated ``--rounds`` times, scaled
   back in between.
2. **Held request from zero vs a warm request.** An inference component
   with ``MinCapacity`` 0 is scaled to 0 copies; the next invocation is
   held while the controller starts a copy. Its latency (client-side) is
   compared with the median of 20 warm invocations right after, per round.
3. **Churn under load.** Two clients invoke without pause while the
   variant's scalable target is moved 1 → 2 → 1 instances ``--cycles``
   times (``RegisterScalableTarget`` with ``MinCapacity`` = ``MaxCapacity``:
   the controller scales into the range through
   ``UpdateEndpointWeightsAndCapacities``). Every failed request is counted.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import ROLE, Server, client, machine

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
SPEED = 30.0
INFERENCE_PY = b"""\
import json
import os


def model_fn(model_dir):
    return None


def transform_fn(model, input_data, content_type, accept):
    return json.dumps({"pid": os.getpid()}), "application/json"
"""


def write_model(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(INFERENCE_PY)
        tar.addfile(info, io.BytesIO(INFERENCE_PY))
    return path


def wait_until(what: str, check: Any, timeout_s: float = 180.0, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll_s)


class Load:
    """Clients invoking without pause; every answer's pid and every failure kept."""

    def __init__(self, url: str, endpoint: str, clients: int = 2, **extra: Any) -> None:
        self.url = url
        self.endpoint = endpoint
        self.extra = extra
        self.clients = clients
        self.started = 0.0
        self.answers: list[tuple[float, int]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        runtime = client("sagemaker-runtime", self.url)
        while not self._stop.is_set():
            try:
                body = runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    Body=b"{}",
                    ContentType="application/json",
                    **self.extra,
                )["Body"].read()
                self.answers.append((time.monotonic(), int(json.loads(body)["pid"])))
            except Exception as exc:
                self.failures.append(repr(exc))

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def first_answer_not_from(self, pids: set[int]) -> float | None:
        for at, pid in list(self.answers):
            if pid not in pids:
                return at
        return None


def instances(sm: Any, endpoint: str) -> tuple[str, int, int]:
    described = sm.describe_endpoint(EndpointName=endpoint)
    variant = described["ProductionVariants"][0]
    return (
        described["EndpointStatus"],
        variant.get("DesiredInstanceCount", 0),
        variant.get("CurrentInstanceCount", 0),
    )


def variant_endpoint(url: str, artifact: Path, name: str) -> None:
    sm = client("sagemaker", url)
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact.as_uri()},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_until("InService", lambda: instances(sm, name) == ("InService", 1, 1))


def variant_ids(endpoint: str) -> dict[str, str]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }


def pids_of(url: str, endpoint: str, tries: int = 20, **extra: Any) -> set[int]:
    runtime = client("sagemaker-runtime", url)
    found = set()
    for _ in range(tries):
        body = runtime.invoke_endpoint(
            EndpointName=endpoint, Body=b"{}", ContentType="application/json", **extra
        )["Body"].read()
        found.add(int(json.loads(body)["pid"]))
    return found


def load_step(url: str, artifact: Path, rounds: int) -> list[dict[str, float]]:
    endpoint = "bench-step"
    variant_endpoint(url, artifact, endpoint)
    sm = client("sagemaker", url)
    aas = client("application-autoscaling", url)
    ids = variant_ids(endpoint)
    results = []
    for index in range(rounds):
        aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=2)
        wait_until("1 instance", lambda: instances(sm, endpoint) == ("InService", 1, 1))
        aas.put_scaling_policy(
            **ids,
            PolicyName="step",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 60.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleOutCooldown": 60,
                "ScaleInCooldown": 60,
            },
        )
        # Idle long enough for the last round's datapoints to age out of AlarmHigh's window.
        time.sleep(4 * 60 / SPEED + (8.0 if index else 0.0))
        before = pids_of(url, endpoint, tries=3)
        seen = len(aas.describe_scaling_activities(**ids)["ScalingActivities"])
        with Load(url, endpoint) as load:
            wait_until(
                "a scaling activity",
                lambda seen=seen: (
                    len(aas.describe_scaling_activities(**ids)["ScalingActivities"]) > seen
                ),
                timeout_s=120,
            )
            activity_at = time.monotonic()
            wait_until(
                "an answer from the new instance",
                lambda before=before: load.first_answer_not_from(before) is not None,
                timeout_s=120,
            )
            serving_at = load.first_answer_not_from(before)
            assert serving_at is not None
        detect_s = activity_at - load.started
        results.append(
            {
                "detect_server_s": detect_s * SPEED,
                "detect_real_s": detect_s,
                "start_s": serving_at - activity_at,
                "failures": float(len(load.failures)),
            }
        )
        aas.delete_scaling_policy(PolicyName="step", **ids)
        aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=1)
        wait_until("back to 1", lambda: instances(sm, endpoint) == ("InService", 1, 1))
    return results


def cold_vs_warm(url: str, artifact: Path, rounds: int) -> list[dict[str, float]]:
    sm = client("sagemaker", url)
    runtime = client("sagemaker-runtime", url)
    aas = client("application-autoscaling", url)
    endpoint, component = "bench-zero", "bench-zero-ic"
    sm.create_endpoint_config(
        EndpointConfigName=endpoint,
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "InstanceType": "ml.m5.xlarge",
                "InitialInstanceCount": 1,
                "ManagedInstanceScaling": {
                    "Status": "ENABLED",
                    "MinInstanceCount": 0,
                    "MaxInstanceCount": 1,
                },
            }
        ],
    )
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    wait_until("InService", lambda: instances(sm, endpoint)[0] == "InService")
    sm.create_model(
        ModelName=component,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact.as_uri()},
        ExecutionRoleArn=ROLE,
    )
    sm.create_inference_component(
        InferenceComponentName=component,
        EndpointName=endpoint,
        VariantName="AllTraffic",
        Specification={
            "ModelName": component,
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 1,
                "MinMemoryRequiredInMb": 1024,
            },
        },
        RuntimeConfig={"CopyCount": 1},
    )

    def copies() -> tuple[str, int, int]:
        described = sm.describe_inference_component(InferenceComponentName=component)
        config = described["RuntimeConfig"]
        return (
            described["InferenceComponentStatus"],
            config["DesiredCopyCount"],
            config["CurrentCopyCount"],
        )

    wait_until("the component", lambda: copies() == ("InService", 1, 1))
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"inference-component/{component}",
        ScalableDimension="sagemaker:inference-component:DesiredCopyCount",
        MinCapacity=0,
        MaxCapacity=1,
    )

    def invoke() -> float:
        started = time.perf_counter()
        runtime.invoke_endpoint(
            EndpointName=endpoint,
            InferenceComponentName=component,
            Body=b"{}",
            ContentType="application/json",
        )["Body"].read()
        return time.perf_counter() - started

    results = []
    for _ in range(rounds):
        sm.update_inference_component_runtime_config(
            InferenceComponentName=component, DesiredRuntimeConfig={"CopyCount": 0}
        )
        wait_until("0 copies", lambda: copies() == ("InService", 0, 0))
        cold = invoke()
        warm = statistics.median(invoke() for _ in range(20))
        results.append({"cold_s": cold, "warm_s": warm})
    return results


def churn(url: str, artifact: Path, cycles: int) -> dict[str, float]:
    endpoint = "bench-churn"
    variant_endpoint(url, artifact, endpoint)
    sm = client("sagemaker", url)
    aas = client("application-autoscaling", url)
    ids = variant_ids(endpoint)
    started = time.monotonic()
    with Load(url, endpoint) as load:
        for _ in range(cycles):
            for count in (2, 1):
                aas.register_scalable_target(**ids, MinCapacity=count, MaxCapacity=count)
                wait_until(
                    f"{count} instances",
                    lambda count=count: instances(sm, endpoint) == ("InService", count, count),
                )
    return {
        "cycles": float(cycles),
        "requests": float(len(load.answers) + len(load.failures)),
        "failures": float(len(load.failures)),
        "seconds": time.monotonic() - started,
        "pids": float(len({pid for _, pid in load.answers})),
    }


def table(
    step: list[dict[str, float]], zero: list[dict[str, float]], moved: dict[str, float]
) -> str:
    def span(rows: list[dict[str, float]], key: str, scale: float = 1.0, unit: str = "s") -> str:
        values = [r[key] * scale for r in rows]
        return f"{statistics.median(values):.2f} {unit} ({min(values):.2f}-{max(values):.2f})"

    ratios = [r["cold_s"] / r["warm_s"] for r in zero]
    lines = [
        f"Machine: {machine()}",
        "",
        "| Measure | Median (range) |",
        "|---|---|",
        f"| load step → scaling activity, server clock ({len(step)} rounds) | "
        f"{span(step, 'detect_server_s')} |",
        f"| scaling activity → first answer from the new instance, real time | "
        f"{span(step, 'start_s')} |",
        f"| failed requests during the load steps | {sum(r['failures'] for r in step):.0f} |",
        f"| held request from 0 copies (cold), {len(zero)} rounds | "
        f"{span(zero, 'cold_s', 1000, 'ms')} |",
        f"| warm request right after | {span(zero, 'warm_s', 1000, 'ms')} |",
        f"| cold / warm | {statistics.median(ratios):.0f}x ({min(ratios):.0f}-{max(ratios):.0f}) |",
        f"| scale cycles 1 → 2 → 1 under load | {moved['cycles']:.0f} cycles in "
        f"{moved['seconds']:.0f} s, {moved['requests']:.0f} requests, "
        f"{moved['failures']:.0f} failed, {moved['pids']:.0f} model processes answered |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="load steps (default 3)")
    parser.add_argument("--zero-rounds", type=int, default=5, help="cold starts (default 5)")
    parser.add_argument("--cycles", type=int, default=10, help="scale cycles (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = write_model(Path(tmp) / "model.tar.gz")
        server = Server(Path(tmp) / "data", ("--clock-speed", str(SPEED)))
        server.start()
        try:
            zero = cold_vs_warm(server.url, artifact, args.zero_rounds)
            moved = churn(server.url, artifact, args.cycles)
            step = load_step(server.url, artifact, args.rounds)
        finally:
            server.stop()
    print(table(step, zero, moved))
    return 1 if moved["failures"] or any(r["failures"] for r in step) else 0


if __name__ == "__main__":
    raise SystemExit(main())
