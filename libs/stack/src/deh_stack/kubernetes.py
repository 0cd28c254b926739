"""Write each service's Kubernetes resources from what the service is (issue 16).

`python -m deh_stack.kubernetes` writes deploy/k8s/base/services.yaml: per installed service
(found by its `deh.services` entry point, as `apidocs` does) a ServiceAccount, a Deployment, a
Service, a PodDisruptionBudget, a NetworkPolicy and a KEDA ScaledObject with its
TriggerAuthentication. What differs between services comes from the service itself: the servers
it uses (its settings), its consumer groups (its runtime), so the manifests cannot drift from
the code; `--check` only reports a stale file (a test runs it). The rest of the Kustomize base
(the ConfigMap, the Secret, the provisioning Job) and the overlays are written by hand.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI

from deh_platform.runtime import ServiceRuntime

PORT = 8000
UID = 10001
# The servers' pods, as their operators label them (Strimzi, the MongoDB Community Operator,
# the OpenSearch Operator), and the ports the services reach them on.
SERVERS = {
    "kafka": ({"strimzi.io/cluster": "deh-kafka", "strimzi.io/kind": "Kafka"}, 9093),
    "mongodb": ({"app": "deh-mongo-svc"}, 27017),
    "opensearch": ({"opster.io/opensearch-cluster": "deh-opensearch"}, 9200),
}
# The CA that signed the OpenSearch cluster's HTTPS certificate (key ca.crt): the operator's or
# cert-manager's, given this name.
OPENSEARCH_CA = "deh-opensearch-ca"
# Scale out when a consumer group lags by this many messages per replica, or CPU passes this.
LAG_PER_REPLICA = "200"
CPU_PERCENT = "70"
# Addresses outside the cluster: the identity provider's keys (HTTPS), practices' link checks.
PUBLIC = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]}


def runtime_of(service: str) -> ServiceRuntime:
    (app_entry,) = entry_points(group="deh.services", name=service)
    app: FastAPI = app_entry.load()
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def resources(service: str, runtime: ServiceRuntime) -> list[dict[str, Any]]:
    name = f"deh-{service}"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "labels": _labels(service)},
            "automountServiceAccountToken": False,  # a service never talks to the Kubernetes API
        },
        _deployment(service, name, searches=runtime.search is not None),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": _labels(service)},
            "spec": {"selector": _selector(service), "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": _labels(service)},
            # One pod at a time through a drain; pods not ready (a server away) may go anyway.
            "spec": {
                "maxUnavailable": 1,
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
                "selector": {"matchLabels": _selector(service)},
            },
        },
        _network_policy(service, name, runtime),
        *_scaling(service, name, runtime),
    ]


def _labels(service: str) -> dict[str, str]:
    return {**_selector(service), "app.kubernetes.io/part-of": "deh"}


def _selector(service: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": f"deh-{service}"}


def _deployment(service: str, name: str, *, searches: bool) -> dict[str, Any]:
    prefix = f"DEH_{service.upper()}_"
    # A service with a search index: its OpenSearch user (the security plugin is on) and the CA
    # of the cluster's HTTPS certificate.
    search_user = [
        {"name": f"{prefix}OPENSEARCH_USER", "valueFrom": _secret(f"{service}-opensearch-user")},
        {"name": f"{prefix}OPENSEARCH_PASSWORD", "valueFrom": _secret(f"{service}-opensearch-password")},
    ]
    search_ca = {"name": "opensearch-ca", "mountPath": "/etc/deh/opensearch-ca", "readOnly": True}
    container = {
        "name": service,
        "image": name,  # the overlays name the registry and the version
        "ports": [{"name": "http", "containerPort": PORT}],
        "envFrom": [{"configMapRef": {"name": "deh-config"}}],
        # The Secret holds what is the service's own: its Kafka user and password (the KEDA
        # trigger reads the same keys), its MongoDB connection string with its credentials, and
        # its OpenSearch user.
        "env": [
            {"name": f"{prefix}KAFKA_USER", "valueFrom": _secret(f"{service}-kafka-user")},
            {"name": f"{prefix}KAFKA_PASSWORD", "valueFrom": _secret(f"{service}-kafka-password")},
            {"name": f"{prefix}MONGO_URL", "valueFrom": _secret(f"{service}-mongo-url")},
            *(search_user if searches else []),
            {"name": "DEH_AUTH_SECRET", "valueFrom": _secret("auth-secret", optional=True)},
        ],
        # /healthz answers while the process and its loops live; /readyz also needs the servers
        # (up to 2 s of checks): starting and staying alive are not made to wait for them.
        "startupProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2, "failureThreshold": 60},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 3},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "768Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "kafka-ca", "mountPath": "/etc/deh/kafka-ca", "readOnly": True},
            *([search_ca] if searches else []),
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": _labels(service)},
        # No `replicas`: KEDA's autoscaler owns the count (an apply would reset it).
        "spec": {
            # A new pod first, the old one stopped only once the new one is ready.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": _selector(service)},
            "template": {
                "metadata": {"labels": _labels(service)},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    # Pod Security "restricted": not root, no privilege, the runtime's seccomp profile.
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _selector(service)},
                        }
                    ],
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        {"name": "kafka-ca", "secret": {"secretName": "deh-kafka-cluster-ca-cert"}},
                        *([{"name": "opensearch-ca", "secret": {"secretName": OPENSEARCH_CA}}] if searches else []),
                    ],
                },
            },
        },
    }


def _secret(key: str, *, optional: bool = False) -> dict[str, Any]:
    return {"secretKeyRef": {"name": "deh-secrets", "key": key, **({"optional": True} if optional else {})}}


def _network_policy(service: str, name: str, runtime: ServiceRuntime) -> dict[str, Any]:
    """In: HTTP from the namespaces an operator labels `deh.eu/ingress: "true"` (the ingress
    controller, the portal's gateway). Out: the cluster's DNS, the servers the service uses (in
    its namespace), HTTPS outside the cluster (the identity provider's keys), plain HTTP too
    where a job checks links, and an OpenTelemetry collector labelled as its chart does."""
    used = ["kafka", *(["mongodb"] if runtime.mongo else []), *(["opensearch"] if runtime.search else [])]
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    web_ports = [443, *([80] if "link check" in runtime.jobs else [])]
    outside = {"to": [{"ipBlock": PUBLIC}], "ports": [{"protocol": "TCP", "port": port} for port in web_ports]}
    telemetry = {
        "to": [
            {
                "namespaceSelector": {},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "opentelemetry-collector"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 4318}],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": _labels(service)},
        "spec": {
            "podSelector": {"matchLabels": _selector(service)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"deh.eu/ingress": "true"}}}],
                    "ports": [{"protocol": "TCP", "port": PORT}],
                }
            ],
            "egress": [
                dns,
                *(
                    {
                        "to": [{"podSelector": {"matchLabels": SERVERS[server][0]}}],
                        "ports": [{"protocol": "TCP", "port": SERVERS[server][1]}],
                    }
                    for server in used
                ),
                outside,
                telemetry,
            ],
        },
    }


def _scaling(service: str, name: str, runtime: ServiceRuntime) -> list[dict[str, Any]]:
    """One ScaledObject per service (two autoscalers on one Deployment would fight): its
    consumer groups' lag and its CPU, from 2 replicas up."""
    lag = [
        {
            "type": "kafka",
            "metadata": {
                # KEDA connects from its own namespace: the bootstrap's full name, as the pods read it.
                "bootstrapServersFromEnv": "DEH_KAFKA_BOOTSTRAP",
                "consumerGroup": consumer.group,
                "lagThreshold": LAG_PER_REPLICA,
                "sasl": "scram_sha512",
                "tls": "enable",
            },
            "authenticationRef": {"name": f"{name}-kafka"},
        }
        for consumer in runtime.consumers
    ]
    cpu = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": CPU_PERCENT}}
    return [
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": f"{name}-kafka", "labels": _labels(service)},
            "spec": {
                "secretTargetRef": [
                    {"parameter": "username", "name": "deh-secrets", "key": f"{service}-kafka-user"},
                    {"parameter": "password", "name": "deh-secrets", "key": f"{service}-kafka-password"},
                    {"parameter": "ca", "name": "deh-kafka-cluster-ca-cert", "key": "ca.crt"},
                ]
            },
        },
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": name, "labels": _labels(service)},
            "spec": {
                "scaleTargetRef": {"name": name},
                "minReplicaCount": 2,
                "maxReplicaCount": 6,
                "triggers": [*lag, cpu],
            },
        },
    ]


def render(services: list[str]) -> str:
    header = (
        "# Generated by `python -m deh_stack.kubernetes` from the services themselves (their\n"
        "# servers, their consumer groups): change the generator, not this file.\n"
    )
    documents = [document for service in services for document in resources(service, runtime_of(service))]
    return header + yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("deploy/k8s/base/services.yaml"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    services = sorted(point.name for point in entry_points(group="deh.services"))
    text = render(services)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"stale: {args.out} (run python -m deh_stack.kubernetes)", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} for {', '.join(services)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
