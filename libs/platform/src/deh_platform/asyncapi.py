"""The AsyncAPI 3.0 document of a service, generated from its code: the topics it produces, the
consumers it declares with their handled types, and the contract models' JSON Schemas."""

from __future__ import annotations

from typing import Any

from deh_contracts.registry import DEAD_LETTERS, MessageType, Topic, types_on
from deh_platform.runtime import ServiceRuntime

_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes (Kafka binding, binary content mode) and W3C trace context.",
    "properties": {
        name: {"type": "string"}
        for name in (
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_subject",
            "ce_time",
            "ce_dataschema",
            "content-type",
            "traceparent",
            "tracestate",
        )
    },
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"],
}


def asyncapi_document(runtime: ServiceRuntime, title: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def declare(topic: Topic, specs: list[MessageType], action: str, operation_id: str) -> None:
        channel = channels.setdefault(
            _name(topic.name),
            {"address": topic.name, "description": topic.description, "messages": {}, **_parameters(topic)},
        )
        for spec in specs:
            messages[_name(spec.type_name)] = _message(spec, schemas)
            channel["messages"][_name(spec.type_name)] = {"$ref": f"#/components/messages/{_name(spec.type_name)}"}
        operations[operation_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{_name(topic.name)}"},
            "messages": [
                {"$ref": f"#/channels/{_name(topic.name)}/messages/{_name(spec.type_name)}"} for spec in specs
            ],
        }

    for topic in [*runtime.produces, DEAD_LETTERS]:
        declare(topic, types_on(topic), "send", f"publish-{_name(topic.name)}")
    for consumer in runtime.consumers:
        for topic in consumer.topics:
            handled = [spec for spec in types_on(topic) if spec.type_name in consumer.handlers]
            if handled:
                declare(topic, handled, "receive", f"{consumer.group}-consumes-{_name(topic.name)}")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1", "description": f"Kafka messages of the {runtime.name} service."},
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "variables": {
                    "bootstrap": {"default": "127.0.0.1:19092", "description": "DEH_KAFKA_BOOTSTRAP of the deployment"}
                },
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas, "securitySchemes": _SECURITY},
    }


_SECURITY = {
    "scram": {
        "type": "scramSha512",
        "description": "Each service and each partner system is its own Kafka user (SASL/SCRAM-SHA-512; "
        "TLS in a deployment), and may touch only its own topics.",
    }
}


def _parameters(topic: Topic) -> dict[str, Any]:
    if topic.per_partner:
        return {
            "parameters": {"partner": {"description": "The partner system's name, given at onboarding (e.g. salto)."}}
        }
    if topic.per_service:
        return {
            "parameters": {
                "service": {"description": "The service's name (membership, practices, events, monitoring)."}
            }
        }
    return {}


def _message(spec: MessageType, schemas: dict[str, Any]) -> dict[str, Any]:
    payload = spec.model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(payload.pop("$defs", {}))
    return {
        "name": spec.type_name,
        "title": spec.model.__name__,
        "summary": spec.description.splitlines()[0] if spec.description else "",
        "contentType": "application/json",
        "headers": _HEADERS,
        "payload": payload,
        # An answer names the message it answers in `request_id`; other messages are their own.
        "correlationId": {
            "location": "$message.payload#/request_id"
            if "request_id" in spec.model.model_fields
            else "$message.header#/ce_id"
        },
    }


def _name(value: str) -> str:
    return value.replace(".", "_").replace("-", "_").replace("{", "").replace("}", "")
