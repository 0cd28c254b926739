"""The deploy files agree with the code and with what their readers accept: compose with the
services' ports and variables and with the Compose Specification's schema; the Kubernetes base
generated from the services themselves, and every overlay rendered by kustomize and validated
offline (Kubernetes' own schemas, strictly; KEDA's resources against its CRDs), with the
security, probes and references a cluster needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deh_platform.settings import ServiceSettings
from deh_practices.settings import PracticesSettings
from deh_stack import kubernetes
from deh_stack.config import OPENSEARCH_VERSION, SERVICE_NAMES
from deh_stack.docker import distribution, server_image_name
from deh_stack.stack import SERVERS
from deh_stack.tools import compose, kustomize

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = Path(__file__).with_name("schemas")
KEDA_CRDS = SCHEMAS / "keda"
KUBERNETES_VERSION = "1.33"  # the oldest release still supported upstream when this was written
SERVER_VARIABLES = {f"DEH_{name.upper()}" for name in ("kafka_bootstrap", "mongo_url", "opensearch_url")}
EXTERNAL_SECRETS = {"deh-kafka-cluster-ca-cert", kubernetes.OPENSEARCH_CA}  # made by the operators, not by these files
# The kafka scaler's trigger settings in KEDA 2.21 (pkg/scalers/kafka_scaler.go), those we use
# and those we might: a misspelt one would be ignored by KEDA and pass its CRD.
KAFKA_TRIGGER_KEYS = {
    *(f"{name}{source}" for name in ("bootstrapServers", "consumerGroup", "topic") for source in ("", "FromEnv")),
    "lagThreshold",
    "activationLagThreshold",
    "offsetResetPolicy",
    "allowIdleConsumers",
    "excludePersistentLag",
    "limitToPartitionsWithLag",
    "sasl",
    "tls",
}
Document = dict[str, Any]
# What the services' image reads (deploy/Dockerfile) rather than the service itself.
IMAGE_VARIABLES = {"DEH_HTTP_HOST", "DEH_HTTP_PORT"}


class ComposeLoader(yaml.SafeLoader):
    """YAML as compose reads it: `!reset` (drop what the file below says) and `!override`
    (replace it rather than merge) mark a value of an override file."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.ScalarNode)
    return None if node.value in ("", "null") else loader.construct_scalar(node)


for _tag in ("!reset", "!override"):
    ComposeLoader.add_constructor(_tag, _untagged)


def compose_file(name: str) -> Document:
    loaded: Document = yaml.load((DEPLOY / name).read_text(), Loader=ComposeLoader)
    return loaded


def read_by(service: str, variable: str) -> bool:
    """Whether a service reads the variable: a shared DEH_<SETTING> or its own DEH_<SERVICE>_<SETTING>."""
    fields = {*ServiceSettings.model_fields, *(PracticesSettings.model_fields if service == "practices" else ())}
    return variable in {f"DEH_{field.upper()}" for field in fields} | {
        f"DEH_{service.upper()}_{field.upper()}" for field in fields
    }


def test_compose_runs_each_service_from_its_image_with_the_variables_it_reads() -> None:
    production, on_host = compose_file("compose.yaml"), compose_file("compose.host.yaml")
    deployments = {d["metadata"]["name"]: d for d in base_documents() if d["kind"] == "Deployment"}
    http_ports = set()
    for name in SERVICE_NAMES:
        service = production["services"][name]
        assert service["build"]["args"]["SERVICE"] == name
        (container,) = deployments[f"deh-{name}"]["spec"]["template"]["spec"]["containers"]
        assert service["image"].split(":")[0] == container["image"] == f"deh-{name}", "one image name everywhere"
        ((published,),) = [port.rsplit(":", 1)[1:] for port in service["ports"]]
        assert int(published) == kubernetes.PORT, "the port the image listens on, as in Kubernetes"
        assert "healthcheck" not in service, "the image's own: /readyz on DEH_HTTP_PORT, as Kubernetes' readiness"
        environment = {**service["environment"], **on_host["services"][name]["environment"]}
        assert {variable for variable in environment if variable.startswith("DEH_")} - IMAGE_VARIABLES == {
            variable for variable in environment if variable.startswith("DEH_") and read_by(name, variable)
        }
        assert {"DEH_KAFKA_BOOTSTRAP", f"DEH_{name.upper()}_MONGO_URL", "DEH_OPENSEARCH_URL"} <= set(environment)
        assert environment[f"DEH_{name.upper()}_KAFKA_USER"] == name, "its own Kafka user, as provisioned"
        http_ports.add(on_host["services"][name]["environment"]["DEH_HTTP_PORT"])
    assert len(http_ports) == len(SERVICE_NAMES), "on one host network each service listens on its own port"
    provision = production["services"]["kafka-provision"]["environment"]
    assert {v for v in provision if v.endswith("_KAFKA_PASSWORD")} == {
        "DEH_KAFKA_PASSWORD",
        *(f"DEH_{name.upper()}_KAFKA_PASSWORD" for name in SERVICE_NAMES),
    }
    for server in SERVERS:
        found = {**production["services"][server], **on_host["services"][server]}
        assert found["image"] == server_image_name(server), "the image deh-stack images builds"
        assert found["build"]["args"]["DIST"] == distribution(server)
    official = (DEPLOY / "opensearch.Dockerfile").read_text()
    assert f"opensearch:{OPENSEARCH_VERSION}" in official, "the version the stack and the tests run"
    assert production["services"]["dashboards"]["image"].endswith(f":{OPENSEARCH_VERSION}")
    users = (DEPLOY / "mongo-users.js").read_text()
    assert all(f'"{name}"' in users for name in SERVICE_NAMES), "a MongoDB user per service"


def test_the_example_env_file_names_every_variable_compose_requires() -> None:
    required = set()
    for name in ("compose.yaml", "compose.host.yaml"):
        text = (DEPLOY / name).read_text()
        required |= {part.split(":?")[0] for part in text.split("${")[1:] if ":?" in part.split("}")[0]}
    example = (DEPLOY / "hub.env.example").read_text().splitlines()
    named = {line.split("=")[0] for line in example if line and not line.startswith("#")}
    assert required
    assert required <= named


def test_the_image_listens_and_is_checked_on_the_port_it_is_told() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"DEH_HTTP_PORT={kubernetes.PORT}" in dockerfile
    assert '--host \\"${DEH_HTTP_HOST}\\"' in dockerfile, "all interfaces, or 127.0.0.1 on a host's network"
    assert f"EXPOSE {kubernetes.PORT}" in dockerfile
    (healthcheck,) = [line for line in dockerfile.splitlines() if "/readyz" in line]
    (command,) = [line for line in dockerfile.splitlines() if line.startswith("CMD")]
    for line in (healthcheck, command):
        assert "DEH_HTTP_PORT" in line
        assert str(kubernetes.PORT) not in line, "the port the image is told, not a fixed one"
    assert "USER 10001" in dockerfile, "not root, the uid the pods run as"
    (uv,) = [line for line in dockerfile.splitlines() if line.startswith("ARG UV_VERSION=")]
    assert uv in (DEPLOY / "server.Dockerfile").read_text().splitlines(), "one uv for every image"


@pytest.mark.parametrize("name", ["compose.yaml", "compose.host.yaml"])
def test_compose_files_follow_the_compose_specification(name: str) -> None:
    schema = json.loads((SCHEMAS / "compose" / "compose-spec.json").read_text())
    checker = jsonschema.validators.validator_for(schema)(schema)
    problems = [error.message for error in checker.iter_errors(compose_file(name))]
    assert problems == []
    misspelt: dict[str, Any] = {
        "name": "deh",
        "services": {"kafka": {"image": "apache/kafka:4.1.1", "restartt": "always"}},
    }
    assert any("restartt" in error.message for error in checker.iter_errors(misspelt))


def rendered_compose(tmp_path: Path, *files: str, profile: str = "") -> Document:
    """The compose files as docker compose itself merges them (with the profile on), from the
    example env file with its secrets filled in."""
    tool = compose()
    if tool is None:
        pytest.skip("no Go on this machine to build docker compose with")
    example = (DEPLOY / "hub.env.example").read_text()
    filled = tmp_path / "hub.env"
    filled.write_text("\n".join(line + "secret" if line.endswith("=") else line for line in example.splitlines()))
    arguments = [*(f"--file={DEPLOY / name}" for name in files), f"--env-file={filled}", f"--profile={profile}"]
    done = subprocess.run(
        [tool, *arguments, "config", "--format=json"], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    merged: Document = json.loads(done.stdout)
    return merged


def test_the_production_form_locks_every_container_down_and_limits_it(tmp_path: Path) -> None:
    services = rendered_compose(tmp_path, "compose.yaml")["services"]
    own_images = {f"deh-{name}" for name in SERVICE_NAMES} | {server_image_name(name).split(":")[0] for name in SERVERS}
    for name, service in services.items():
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        if service["image"].split(":")[0] in own_images:
            assert (service["read_only"], service["cap_drop"]) == (True, ["ALL"]), name
    for name in SERVICE_NAMES:
        assert services[name]["deploy"]["replicas"] == 2


def test_the_host_override_puts_everything_on_127_0_0_1_of_the_hosts_network(tmp_path: Path) -> None:
    merged = rendered_compose(tmp_path, "compose.yaml", "compose.host.yaml", profile="observability")
    assert "networks" not in merged, "no container network is made"
    services = merged["services"]
    for name, service in services.items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name
    for name in SERVICE_NAMES:
        assert services[name]["environment"]["DEH_HTTP_HOST"] == "127.0.0.1"
        assert services[name]["deploy"]["replicas"] == 1
    for name in ("mongo", "opensearch"):
        assert services[name]["image"] == server_image_name(name)
        assert services[name].get("command") is None, "the image's own: deh-stack serve"
        assert "healthcheck" not in services[name], "the image's own: deh-stack ready"
    assert services["dashboards"]["environment"]["SERVER_HOST"] == "127.0.0.1"
    assert services["otel-collector"]["environment"]["OTLP_RECEIVER_ENDPOINT"].startswith("127.0.0.1:")


def test_the_kubernetes_base_is_generated_from_the_services_as_they_are() -> None:
    assert kubernetes.main(["--check", "--out", str(K8S / "base" / "services.yaml")]) == 0, (
        "run python -m deh_stack.kubernetes"
    )


def base_documents() -> list[Document]:
    return [
        document
        for name in ("provision-job.yaml", "services.yaml")
        for document in yaml.safe_load_all((K8S / "base" / name).read_text())
    ]


def base_config() -> dict[str, str]:
    """The variables of the ConfigMap deh-config (made by kustomize from config.env)."""
    lines = (K8S / "base" / "config.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def rendered(overlay: str, workspace: Path) -> list[Document]:
    """The overlay as kustomize builds it (prod with the example's secrets in place of its own)."""
    tool = kustomize()
    if tool is None:
        pytest.skip("no Go on this machine to build kustomize with")
    copy = workspace / "k8s"
    shutil.copytree(K8S, copy)
    example = copy / "overlays" / "prod" / "secrets.env.example"
    shutil.copy(example, example.with_suffix(""))
    built = subprocess.run([tool, "build", copy / "overlays" / overlay], capture_output=True, text=True, check=True)
    return [document for document in yaml.safe_load_all(built.stdout) if document]


def test_the_base_validates_strictly_without_kustomize() -> None:
    for document in base_documents():
        validate(document)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_overlay_renders_to_resources_that_validate_and_hold_together(overlay: str, tmp_path: Path) -> None:
    documents = rendered(overlay, tmp_path)
    for document in documents:
        validate(document)
    (namespace,) = [document for document in documents if document["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    by_kind: dict[str, dict[str, Document]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
    assert set(by_kind["Deployment"]) == {f"deh-{name}" for name in SERVICE_NAMES}
    for deployment in by_kind["Deployment"].values():
        assert "replicas" not in deployment["spec"], "KEDA's autoscaler owns the count"
        assert_restricted_with_probes(deployment["spec"]["template"]["spec"])
    assert_restricted_with_probes(by_kind["Job"]["deh-kafka-provision"]["spec"]["template"]["spec"], probes=False)
    for scaled in by_kind["ScaledObject"].values():
        assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind["Deployment"]
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "kafka":
                assert set(trigger["metadata"]) <= KAFKA_TRIGGER_KEYS, "KEDA's CRD types them as any text"
                assert trigger["authenticationRef"]["name"] in by_kind["TriggerAuthentication"]
                config = by_kind["ConfigMap"]
                (bootstrap,) = {c["data"]["DEH_KAFKA_BOOTSTRAP"] for c in config.values()}
                assert bootstrap.split(":")[0].endswith(f".{namespace['metadata']['name']}.svc"), (
                    "KEDA's operator resolves it from its own namespace"
                )
    secrets = {name: document.get("data", {}) for name, document in by_kind["Secret"].items()}
    for name, key in secret_references(documents):
        if name not in EXTERNAL_SECRETS:
            assert name in secrets, f"no Secret {name}"
            assert key in secrets[name], f"Secret {name} has no key {key}"


def assert_restricted_with_probes(pod: Document, *, probes: bool = True) -> None:
    """Pod Security "restricted", each container pinned to an image version, and probed."""
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        assert ":" in container["image"].rsplit("/", 1)[-1], f"{container['image']}: no version"
        assert not container["image"].endswith(":latest")
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"]
        if probes:
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert {port["containerPort"] for port in container["ports"]} == {kubernetes.PORT}


def secret_references(documents: list[Document]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for document in documents:
        if document["kind"] == "TriggerAuthentication":
            found += [(ref["name"], ref["key"]) for ref in document["spec"]["secretTargetRef"]]
        template = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in template.get("containers", []):
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference and not reference.get("optional"):
                    found.append((reference["name"], reference["key"]))
    return found


def validate(document: Document) -> None:
    """Kubernetes' schema of the kind (unknown fields refused), or KEDA's CRD for its kinds."""
    if document["apiVersion"].startswith("keda.sh/"):
        jsonschema.validate(document, keda_schema(document["kind"]))
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def keda_schema(kind: str) -> Document:
    crd = yaml.safe_load((KEDA_CRDS / f"keda.sh_{kind.lower()}s.yaml").read_text())
    (version,) = [version for version in crd["spec"]["versions"] if version["name"] == "v1alpha1"]
    schema: Document = version["schema"]["openAPIV3Schema"]
    return strict(schema)


def strict(schema: Document) -> Document:
    """The CRD's schema refusing fields it does not name (a misspelt field would pass it)."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {name: strict(inner) for name, inner in schema["properties"].items()}
        schema.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = strict(schema[key])
    return schema


def test_a_misspelt_field_fails_validation() -> None:
    deployment = next(document for document in base_documents() if document["kind"] == "Deployment")
    typo = {**deployment, "spec": {**deployment["spec"], "replicaz": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(typo)
    scaled = next(document for document in base_documents() if document["kind"] == "ScaledObject")
    with pytest.raises(jsonschema.ValidationError):
        validate({**scaled, "spec": {**scaled["spec"], "minReplicaCnt": 1}})


def test_the_variables_kubernetes_sets_are_ones_the_services_read() -> None:
    shared = {f"DEH_{field.upper()}" for field in ServiceSettings.model_fields}
    documents = base_documents()
    practices = {f"DEH_PRACTICES_{field.upper()}" for field in PracticesSettings.model_fields}
    assert set(base_config()) <= shared | practices
    for document in documents:
        template = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in template.get("containers", []):
            for variable in container.get("env", []):
                service = variable["name"].removeprefix("DEH_").split("_", 1)[0].lower()
                own = {f"DEH_{service.upper()}_{field.upper()}" for field in ServiceSettings.model_fields}
                assert variable["name"] in shared | (own if service in SERVICE_NAMES else set()), variable["name"]


def test_the_provisioning_job_makes_every_services_kafka_user() -> None:
    (job,) = [document for document in base_documents() if document["kind"] == "Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    passwords = {variable["name"] for variable in container["env"] if variable["name"].endswith("_KAFKA_PASSWORD")}
    assert passwords == {"DEH_KAFKA_PASSWORD", *(f"DEH_{name.upper()}_KAFKA_PASSWORD" for name in SERVICE_NAMES)}


def test_each_service_scales_on_the_lag_of_each_of_its_consumer_groups() -> None:
    scaled = {d["metadata"]["name"]: d for d in base_documents() if d["kind"] == "ScaledObject"}
    for service in SERVICE_NAMES:
        groups = {consumer.group for consumer in kubernetes.runtime_of(service).consumers}
        triggers = scaled[f"deh-{service}"]["spec"]["triggers"]
        assert {t["metadata"]["consumerGroup"] for t in triggers if t["type"] == "kafka"} == groups
        assert any(t["type"] == "cpu" for t in triggers), "HTTP scales by CPU"


def test_deployments_ask_mongodb_for_majority_journaled_writes() -> None:
    # What the local server gives by committing and syncing every write (decision 0002).
    services = compose_file("compose.yaml")["services"]
    urls = [services[name]["environment"][f"DEH_{name.upper()}_MONGO_URL"] for name in SERVICE_NAMES]
    example = (K8S / "overlays" / "prod" / "secrets.env.example").read_text().splitlines()
    urls += [line.split("=", 1)[1] for line in example if "-mongo-url=" in line]
    assert len(urls) == 2 * len(SERVICE_NAMES)

    for url in urls:
        options = parse_qs(urlsplit(url).query)
        assert (options["w"], options["journal"]) == (["majority"], ["true"]), url
