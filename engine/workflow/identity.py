"""A version's identity: the hash of its files' canonical text (what modellers rewrite on save does not count)."""

from __future__ import annotations

import hashlib
import json

from lxml import etree

_MODELLER_ATTRIBUTES = ("exporter", "exporterVersion")


def canonical_text(text: str) -> str:
    """What a version's identity is made of: the XML without what modellers rewrite on save (whitespace between
    elements, the `exporter`/`exporterVersion` attributes). Text inside elements (scripts, conditions,
    expressions, where indentation matters) is kept exactly. Unparseable text is its own identity."""
    try:
        root = etree.fromstring(text.encode())  # noqa: S320 - analysts' files, no entities resolved
    except etree.XMLSyntaxError:
        return text
    for name in _MODELLER_ATTRIBUTES:
        root.attrib.pop(name, None)
    for element in root.iter():
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    return etree.tostring(root, method="c14n").decode()


def content_hash(files: dict[str, str]) -> str:
    """The identity of a version's files: the same diagram saved again by a modeller hashes the same."""
    canonical = sorted((name, canonical_text(text)) for name, text in files.items())
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()
