"""Manifests from files, for ``argoml validate``: multi-document YAML (or JSON), and the
WorkflowTemplates beside them that ``templateRef`` may point to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from argoml import manifests
from argoml.validation.resolver import DocumentResolver

SUFFIXES = (".yaml", ".yml", ".json")


class UnreadableFile(ValueError):
    pass


@dataclass
class ParsedFile:
    name: str
    documents: list[Any]


def parse(name: str, text: str) -> ParsedFile:
    """The non-empty documents of ``text``; :class:`UnreadableFile` when it is not YAML."""
    try:
        return ParsedFile(name, manifests.load_all(text))  # numbers as kubectl reads them: 1e-5 is a number
    except yaml.YAMLError as exc:
        raise UnreadableFile(f"failed to parse: {exc}".replace("\n", " ")) from exc


def read(path: Path) -> ParsedFile:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"Can't read from file: {exc}") from exc
    return parse(str(path), text)


def resolver_for(sources: Iterable[ParsedFile], directories: Iterable[Path],
                 templates: Iterable[Path] = ()) -> DocumentResolver:
    """Templates from the given sources first, then from every manifest in ``directories``
    (not recursively) and in ``templates`` (files, or directories searched recursively)."""
    documents = [d for source in sources for d in source.documents]
    given = {Path(source.name).resolve() for source in sources}
    candidates = [p for directory in sorted(set(directories)) for p in sorted(directory.iterdir())]
    for path in templates:
        candidates += sorted(path.rglob("*")) if path.is_dir() else [path]
    seen = set(given)
    for path in candidates:
        if path.suffix in SUFFIXES and path.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            try:
                documents += read(path).documents
            except UnreadableFile:
                continue  # a broken neighbour is not the file being validated
    return DocumentResolver(documents)
