"""The Kubernetes manifests: valid against the Kubernetes schemas (kubernetes-validate),
consistent with config.py's launch defaults, and clean under checkov's security scan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ftw.config import Settings
from ftw.core.metrics import HTTP_DURATION
from ftw.sandboxes import SANDBOXES, refused_sandboxes, sandboxes
from tests.deploy.tools import DEPLOY, ROOT, run, tool

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
# Applied separately from `kubectl apply -k`: a template, a pre-rollout step, another namespace's add-on.
NOT_IN_KUSTOMIZATION = {"secret.yaml", "migrate-job.yaml", "prometheus-adapter-rules.yaml"}
# The oldest Kubernetes we support and the newest the schemas know.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# checkov checks left out, and why:
#   CKV_K8S_43 image by digest: the release pipeline pins digests with `kustomize edit set
#              image`; the files carry a readable version tag (and CKV_K8S_14 forbids :latest).
#   CKV_K8S_35 secrets as files: config.py (pydantic-settings) reads settings from the
#              environment; whoever can read a pod's environment can read its mounted files.
CHECKOV_SKIPS = ("CKV_K8S_43", "CKV_K8S_35")


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in MANIFESTS for d in yaml.safe_load_all(p.read_text()) if d]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _documents() if d["kind"] == kind}


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_matches_the_kubernetes_schemas(version: str) -> None:
    errors = []
    for path, document in _documents():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{path.name} {document['kind']}/{document['metadata']['name']}: {error.message}")
    assert errors == []


def test_kustomization_applies_every_manifest_except_the_separate_ones() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == {p.name for p in MANIFESTS} - NOT_IN_KUSTOMIZATION


def test_autoscaler_follows_the_launch_defaults() -> None:
    autoscale, p95_ms = Settings().autoscale, Settings().performance.api_p95_ms
    hpa = _by_kind("HorizontalPodAutoscaler")["ftw-api"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (autoscale.min_instances, autoscale.max_instances)
    cpu, latency = hpa["metrics"]
    assert cpu["resource"]["target"]["averageUtilization"] == autoscale.scale_up_cpu_percent
    assert latency["type"] == "Pods"
    assert latency["pods"]["target"]["averageValue"] == f"{p95_ms}m"  # milli-seconds of a value in seconds
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == autoscale.cooldown_s
    adapter = yaml.safe_load(_by_kind("ConfigMap")["ftw-prometheus-adapter-rules"]["data"]["config.yaml"])
    (rule,) = adapter["rules"]
    assert rule["name"]["as"] == latency["pods"]["metric"]["name"]
    # The adapter reads the app's own request-duration histogram.
    assert rule["seriesQuery"].startswith(next(iter(HTTP_DURATION.describe())).name + "_bucket{")


def test_api_probes_and_graceful_drain() -> None:
    settings = Settings()
    pod = _pod_spec(_by_kind("Deployment")["ftw-api"])
    (api,) = pod["containers"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    sleep = int(api["lifecycle"]["preStop"]["exec"]["command"][-1])
    # preStop, then the app's own drain (readiness 503, then in-flight requests) must fit.
    needed = sleep + settings.shutdown_delay_s + settings.graceful_timeout_s
    assert pod["terminationGracePeriodSeconds"] >= needed
    env = {e["name"]: e for e in api["env"]}
    assert env["WEB_CONCURRENCY"]["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"
    # The budget covers every API pod, the canary's too (canary.sh): the selector minus the track.
    pdb = _by_kind("PodDisruptionBudget")["ftw-api"]["spec"]
    selector = _by_kind("Deployment")["ftw-api"]["spec"]["selector"]["matchLabels"]
    assert pdb["selector"]["matchLabels"] == {k: v for k, v in selector.items() if k != "track"}


def test_only_the_api_goes_through_pgbouncer() -> None:
    database = _by_kind("ConfigMap")["ftw-database"]["data"]
    workloads = {**_by_kind("Deployment"), **_by_kind("Job"), **_by_kind("CronJob")}
    for name, workload in workloads.items():
        for container in _pod_spec(workload)["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            if "FTW_DATABASE_URL" not in env:
                continue
            url = database[env["FTW_DATABASE_URL"]["valueFrom"]["configMapKeyRef"]["key"]]
            assert ("@pgbouncer:" in url) == (name == "ftw-api"), name
            assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "ftw-secrets"


def test_every_pod_runs_locked_down_with_limits() -> None:
    workloads = {**_by_kind("Deployment"), **_by_kind("Job"), **_by_kind("CronJob")}
    assert workloads
    for name, workload in workloads.items():
        pod = _pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def _checkov(*target: str, frameworks: str) -> list[dict[str, Any]]:
    checkov = tool("checkov", ROOT / ".ftw" / "tools" / "checkov" / "bin" / "checkov")
    skips = ",".join(CHECKOV_SKIPS)
    options = ["--skip-check", skips, "--skip-download", "--compact", "--quiet", "--output", "json"]
    result = run([checkov, *target, "--framework", *frameworks.split(), *options], timeout=300)
    assert result.returncode in (0, 1), result.stderr[-2_000:]  # 1: some check failed
    reports = json.loads(result.stdout)
    listed: list[dict[str, Any]] = reports if isinstance(reports, list) else [reports]
    return listed


def test_checkov_finds_nothing_insecure() -> None:
    reports = _checkov("-d", str(K8S), frameworks="kubernetes secrets") + _checkov(
        "-f", str(DEPLOY / "Dockerfile"), frameworks="dockerfile"
    )
    summaries = {r["check_type"]: r["summary"] for r in reports if "summary" in r}
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert summaries["kubernetes"]["passed"] > 100
    assert summaries["dockerfile"]["passed"] > 10


def test_production_runs_the_real_vendors_and_reads_from_the_replica() -> None:
    """The start-up refusal of sandboxes holds for these files: every vendor has its real
    adapter, no sandbox is allowed, the keys come from a Secret; browse and analytics read
    from the replica's pool."""
    config = _by_kind("ConfigMap")["ftw-config"]["data"]
    adapters = {vendor: {"adapter": config[f"FTW_{vendor.upper()}__ADAPTER"]} for vendor in SANDBOXES}
    settings = Settings(environment="production", auth={"secret_key": "x" * 48}, **adapters)  # type: ignore[arg-type]
    assert refused_sandboxes(settings) == sandboxes(settings) == []
    assert "FTW_ALLOW_SANDBOX" not in config
    for name in ("ftw-api", "ftw-worker"):
        (container,) = _pod_spec(_by_kind("Deployment")[name])["containers"]
        assert {"secretRef": {"name": "ftw-vendor-keys"}} in container["envFrom"]
    for kind in ("BROWSE", "ANALYTICS"):
        assert json.loads(config[f"FTW_REPLICAS__{kind}"]) == ["postgresql://ftw@pgbouncer:6432/ftw_ro"]
