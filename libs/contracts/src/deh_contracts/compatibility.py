"""Is a new JSON Schema of a published message type backward compatible with the old one?

Within a version only additive changes are allowed, and "additive" means exactly what an older
reader tolerates (deh_platform.consumer with deh_contracts.vocabulary): a new optional field (it is
ignored), a new enum value (it is kept and counted), a new message type (it is skipped). Breaking:
a field removed or renamed, a type changed or widened (a field that may now be null, or another
type: an older reader refuses it), an optional field made required (or a new required field), an
enum value removed.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    return _Comparison(old, new).compare(old, new, "(root)")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        old, new = _resolve(old, self.old_root), _resolve(new, self.new_root)
        if "anyOf" in old or "anyOf" in new:
            return self._compare_variants(old, new, path)
        if _kind(old) != _kind(new):
            return [f"{path}: type changed from {_kind(old)} to {_kind(new)}"]
        if "const" in old and old["const"] != new.get("const"):
            return [f"{path}: constant changed from {old['const']!r} to {new.get('const')!r}"]
        breaks = _removed_enum_values(old, new, path)
        if old.get("type") == "array":
            breaks += self.compare(old.get("items", {}), new.get("items", {}), f"{path}[]")
        if old.get("type") == "object":
            breaks += self._compare_objects(old, new, path)
        return breaks

    def _compare_variants(self, old: Schema, new: Schema, path: str) -> list[str]:
        new_variants = [_resolve(variant, self.new_root) for variant in new.get("anyOf", [new])]
        old_variants = [_resolve(variant, self.old_root) for variant in old.get("anyOf", [old])]
        old_kinds = {_kind(variant) for variant in old_variants}
        breaks = [
            f"{path}: now also accepts {_kind(variant)}, which older readers refuse"
            for variant in new_variants
            if _kind(variant) not in old_kinds
        ]
        for variant in old.get("anyOf", [old]):
            variant = _resolve(variant, self.old_root)
            same_kind = [candidate for candidate in new_variants if _kind(candidate) == _kind(variant)]
            if not same_kind:
                breaks.append(f"{path}: no longer accepts {_kind(variant)}")
            else:
                breaks += self.compare(variant, same_kind[0], path)
        return breaks

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> list[str]:
        breaks: list[str] = []
        old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
        for name, schema in old_properties.items():
            if name not in new_properties:
                breaks.append(f"{path}.{name}: field removed or renamed")
            else:
                breaks += self.compare(schema, new_properties[name], f"{path}.{name}")
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            breaks.append(f"{path}.{name}: field is now required")
        old_values, new_values = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_values, dict) and isinstance(new_values, dict):
            breaks += self.compare(old_values, new_values, f"{path}{{}}")
        return breaks


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        schema = root.get("$defs", {})[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _kind(schema: Schema) -> str:
    kind = schema.get("type", "any")
    return f"{kind}:{schema['format']}" if "format" in schema else str(kind)


def _removed_enum_values(old: Schema, new: Schema, path: str) -> list[str]:
    if "enum" not in old or "enum" not in new:
        return []
    removed = [value for value in old["enum"] if value not in new["enum"]]
    return [f"{path}: enum values removed: {removed}"] if removed else []
