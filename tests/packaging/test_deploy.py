"""deploy/: the compose file and the Kubernetes manifests describe a working shared service —
Redis, replicas that use it and read the settings the CLI really takes, readiness on the health
route, a load balancer or Service in front, an autoscaler on the sandbox's Deployment."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
# (file, document) for every document of every Kubernetes manifest
MANIFESTS: list[tuple[Path, dict]] = [
    (f, d) for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())
]


def cli_environment() -> set[str]:
    return set(
        re.findall(r'os\.environ\.get\("(HARNESS_[A-Z_]+)"\)', (ROOT / "harness" / "cli.py").read_text())
    )


def test_compose_runs_redis_two_replicas_on_it_and_a_balancer_over_both():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [name for name, s in services.items() if s.get("image", "").startswith("connector-harness")]
    assert len(replicas) == 2 and "redis" in services
    for name in replicas:
        env = services[name]["environment"]
        assert env["HARNESS_STORE"].startswith("redis://redis:6379")
        assert set(env) <= cli_environment(), "a setting the CLI does not read"
        assert "redis" in services[name]["depends_on"]
    # nginx proxies to a network alias every replica has, looked up at request time (Docker's
    # DNS), so it starts with a replica down and follows restarted or scaled ones
    nginx = (DEPLOY / "nginx.conf").read_text()
    (target,) = re.findall(r"set \$sandbox (\S+):8765;", nginx)
    assert "proxy_pass http://$sandbox;" in nginx and "resolver 127.0.0.11" in nginx
    for name in replicas:
        assert target in services[name]["networks"]["default"]["aliases"]
    others = [s for n, s in services.items() if n not in replicas]
    assert not any(target in s.get("networks", {}).get("default", {}).get("aliases", []) for s in others)
    assert services["lb"]["ports"] == ["8765:8765"]


def test_kubernetes_has_a_ready_checked_deployment_a_service_an_autoscaler_and_redis():
    by_kind: dict[str, list[dict]] = {}
    for _, doc in MANIFESTS:
        by_kind.setdefault(doc["kind"], []).append(doc)
    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"]}
    sandbox = deployments["harness-sandbox"]["spec"]["template"]["spec"]["containers"][0]
    assert sandbox["readinessProbe"]["httpGet"]["path"] == "/_sandbox/health"
    env = {e["name"]: e for e in sandbox["env"]}
    assert set(env) <= cli_environment()
    assert env["HARNESS_STORE"]["value"] == "redis://harness-redis:6379/0"
    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    assert services["harness-redis"]["spec"]["selector"] == {"app": "harness-redis"}
    assert (
        services["harness-sandbox"]["spec"]["selector"]
        == deployments["harness-sandbox"]["spec"]["selector"]["matchLabels"]
    )
    (hpa,) = by_kind["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "harness-sandbox" and hpa["spec"]["minReplicas"] >= 2
    assert "harness-redis" in deployments


KUBERNETES = "1.30"  # the oldest release the manifests are meant for (autoscaling/v2, probes)


@pytest.mark.parametrize(
    ("path", "doc"), MANIFESTS, ids=[f"{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in MANIFESTS]
)
def test_each_kubernetes_manifest_is_valid_against_the_api_schema(path: Path, doc: dict) -> None:
    """Strict: an unknown field (a misspelt key Kubernetes would drop silently) fails too."""
    assert kubernetes_validate.validate(doc, KUBERNETES, strict=True) == KUBERNETES


def test_the_schema_check_catches_a_misspelt_and_a_mistyped_field() -> None:
    (deployment,) = [
        d for p, d in MANIFESTS if d["kind"] == "Deployment" and d["metadata"]["name"] == "harness-sandbox"
    ]
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8765
    mistyped = copy.deepcopy(deployment)
    mistyped["spec"]["replicas"] = "two"
    for broken, words in ((misspelt, "'prot' was unexpected"), (mistyped, "'two' is not of type")):
        with pytest.raises(kubernetes_validate.ValidationError, match=words):
            kubernetes_validate.validate(broken, KUBERNETES, strict=True)
