"""Saved queries: `graph/queries/*.cypher`, each runnable unchanged on LadybugDB and Neo4j.

Each file starts with a header of `//` lines::

    // name: node_firms_ranked
    // description: Firms ranked in one technology node, best first.
    // param node_key: string = "ai/chip" -- the node's key, chain_id/node_id
    // param limit: int = 20 -- at most this many rows

Types are string, int, float, bool and string[]; the example after `=` is JSON. Everything
after the header is the query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

QUERIES_DIR = Path(__file__).with_name("queries")
PARAM_TYPES = ("string", "int", "float", "bool", "string[]")
_PARAM = re.compile(r"^param\s+(\w+)\s*:\s*(\S+)\s*=\s*(.+?)\s+--\s+(.+)$")


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str
    example: Any
    description: str

    def coerce(self, value: Any) -> Any:
        """`value` as this parameter's type; strings (from a command line or a form) are parsed."""
        try:
            if self.type == "string":
                return str(value)
            if self.type == "int":
                return int(value)
            if self.type == "float":
                return float(value)
            if self.type == "bool":
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    return value.lower() in ("true", "1", "yes")
                return bool(value)
            if isinstance(value, str):
                return json.loads(value) if value.startswith("[") else [v.strip() for v in value.split(",") if v.strip()]
            return [str(v) for v in value]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {self.name!r} must be {self.type} (e.g. {json.dumps(self.example, ensure_ascii=False)}),"
                             f" got {value!r}") from exc


@dataclass(frozen=True)
class SavedQuery:
    name: str
    description: str
    params: tuple[QueryParam, ...]
    cypher: str  # the query without its header
    path: Path

    def example_params(self) -> dict[str, Any]:
        return {p.name: p.example for p in self.params}

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters for running the query: every declared one, typed; unknown names refused."""
        unknown = sorted(set(values) - {p.name for p in self.params})
        if unknown:
            raise ValueError(f"query {self.name!r} has no parameter {', '.join(unknown)};"
                             f" it takes: {', '.join(p.name for p in self.params) or 'none'}")
        missing = [p for p in self.params if p.name not in values]
        if missing:
            raise ValueError(f"query {self.name!r} needs " + ", ".join(
                f"{p.name} ({p.type}, e.g. {json.dumps(p.example, ensure_ascii=False)})" for p in missing))
        return {p.name: p.coerce(values[p.name]) for p in self.params}


def parse_query_file(path: Path) -> SavedQuery:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    header, body_start = {}, 0
    params = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith("//"):
            body_start = number - 1
            break
        text = line[2:].strip()
        if text.startswith("param "):
            match = _PARAM.match(text)
            if not match or match.group(2) not in PARAM_TYPES:
                raise ValueError(f"{path}:{number}: expected `// param NAME: TYPE = EXAMPLE -- DESCRIPTION`"
                                 f" with TYPE one of {', '.join(PARAM_TYPES)}")
            name, typ, example, description = match.groups()
            try:
                params.append(QueryParam(name, typ, json.loads(example), description))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: example of {name!r} is not JSON: {example}") from exc
        elif ":" in text:
            key, _, value = text.partition(":")
            header[key.strip()] = value.strip()
    else:
        body_start = len(lines)
    cypher = "\n".join(lines[body_start:]).strip()
    name = header.get("name")
    if name != path.stem:
        raise ValueError(f"{path}: header `// name:` must be {path.stem!r}, found {name!r}")
    if not header.get("description") or not cypher:
        raise ValueError(f"{path}: needs a `// description:` line and a query after the header")
    return SavedQuery(name, header["description"], tuple(params), cypher, path)


@cache
def _catalog() -> dict[str, SavedQuery]:
    return {q.name: q for q in (parse_query_file(p) for p in sorted(QUERIES_DIR.glob("*.cypher")))}


def list_queries() -> list[SavedQuery]:
    return list(_catalog().values())


def get_query(name: str) -> SavedQuery:
    try:
        return _catalog()[name]
    except KeyError:
        raise KeyError(f"no saved query {name!r}; known: {', '.join(_catalog())}") from None
