"""Industry chains as data: one YAML file per chain (format: docs/chains.md), validated on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import networkx as nx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from industry_chains.errors import ChainError, ExpressionError
from industry_chains.expression import Expression, parse_expression

SHIPPED_CHAINS = Path(__file__).resolve().parent / "chains"
_ID = r"^[a-z0-9][a-z0-9_]*(\.[a-z0-9][a-z0-9_]*)*$"


class _NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_ID, max_length=64)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    segment: Literal["upstream", "midstream", "downstream"] | None = None
    expression: str | None = None
    weight: float = Field(default=1.0, gt=0, le=10)
    children: list[_NodeSpec] = []


class _LinkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from")
    to: str


class _ChainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=32)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    description: str | None = None
    nodes: list[_NodeSpec] = Field(min_length=1)
    supply_links: list[_LinkSpec] = []


@dataclass(frozen=True)
class ChainNode:
    id: str
    parent_id: str | None
    name_zh: str
    name_en: str
    level: int  # 1 = segment
    segment: str
    expression: Expression | None
    weight: float


@dataclass(frozen=True)
class Chain:
    id: str
    name_zh: str
    name_en: str
    source_file: Path
    nodes: tuple[ChainNode, ...]  # pre-order: every parent before its children
    supply_links: tuple[tuple[str, str], ...]

    @property
    def depth(self) -> int:
        return max(node.level for node in self.nodes)


def load_chains(directory: Path | None = None) -> list[Chain]:
    """Load and validate every *.yaml chain in `directory` (default: the shipped chains)."""
    directory = Path(directory) if directory is not None else SHIPPED_CHAINS
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ChainError(f"no chain files (*.yaml) in {directory}")
    chains: list[Chain] = []
    seen: dict[str, Path] = {}
    for path in files:
        chain = load_chain(path)
        if chain.id in seen:
            raise ChainError(f"chain id '{chain.id}' is also used by {seen[chain.id].name}", file=path.name)
        seen[chain.id] = path
        chains.append(chain)
    return chains


def load_chain(path: Path) -> Chain:
    """Load one chain file; raise ChainError naming the file, line, node and problem."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        composed = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        raise ChainError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=where) from None
    if not isinstance(raw, dict):
        raise ChainError("the file must hold a mapping with id, name_zh, name_en, nodes", file=path.name)
    try:
        spec = _ChainSpec.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        field = next((part for part in reversed(loc) if isinstance(part, str)), "")
        problem = f"field '{field}': {_pydantic_problem(error)}"
        raise ChainError(problem, file=_where(path, composed, loc), node=_node_label(raw, loc)) from None
    return _build(path, composed, spec)


def _pydantic_problem(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling; allowed fields are listed in docs/chains.md)"
    if error["type"] == "missing":
        return "required field is missing"
    return error["msg"]


def _build(path: Path, composed: yaml.Node, spec: _ChainSpec) -> Chain:
    nodes: list[ChainNode] = []
    locations: dict[str, tuple] = {}

    def visit(node: _NodeSpec, loc: tuple, parent: ChainNode | None) -> None:
        where, label = _where(path, composed, loc), f"{node.id} ({_loc_text(loc)})"
        if node.id in locations:
            raise ChainError(f"duplicate node id (first used at {_loc_text(locations[node.id])})", file=where, node=label)
        locations[node.id] = loc
        if not node.id.startswith(spec.id + "."):
            raise ChainError(f"node ids must start with the chain id '{spec.id}.'", file=where, node=label)
        if parent is None and node.segment is None:
            raise ChainError("a top-level node needs segment: upstream, midstream or downstream", file=where, node=label)
        if parent is not None and node.segment is not None:
            raise ChainError("only top-level nodes carry a segment; this node inherits its parent's", file=where,
                             node=label)
        if not node.children and node.expression is None:
            raise ChainError("a leaf node needs an expression", file=where, node=label)
        expression = None
        if node.expression is not None:
            try:
                expression = parse_expression(node.expression)
            except ExpressionError as exc:
                raise exc.located(_where(path, composed, (*loc, "expression")), node.id) from None
        built = ChainNode(
            id=node.id,
            parent_id=parent.id if parent else None,
            name_zh=node.name_zh,
            name_en=node.name_en,
            level=parent.level + 1 if parent else 1,
            segment=parent.segment if parent else node.segment,
            expression=expression,
            weight=node.weight,
        )
        nodes.append(built)
        for index, child in enumerate(node.children):
            visit(child, (*loc, "children", index), built)

    for index, top in enumerate(spec.nodes):
        visit(top, ("nodes", index), None)

    graph = nx.DiGraph()
    links: list[tuple[str, str]] = []
    for index, link in enumerate(spec.supply_links):
        where = _where(path, composed, ("supply_links", index))
        label = f"supply_links[{index}] ({link.from_} -> {link.to})"
        for end in (link.from_, link.to):
            if end not in locations:
                raise ChainError(f"unknown node id '{end}'", file=where, node=label)
        if graph.has_edge(link.from_, link.to):
            raise ChainError("this link is listed twice", file=where, node=label)
        graph.add_edge(link.from_, link.to)
        links.append((link.from_, link.to))
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        loop = " -> ".join([cycle[0][0], *(edge[1] for edge in cycle)])
        raise ChainError(f"supply links form a cycle: {loop}", file=path.name, node="supply_links")
    return Chain(spec.id, spec.name_zh, spec.name_en, Path(path), tuple(nodes), tuple(links))


def _loc_text(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def _node_label(raw: dict, loc: tuple) -> str:
    """The node id at the deepest node on `loc` (falling back to the structural path)."""
    current, label, path = raw, None, []
    for part in loc:
        path.append(part)
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(current, dict) and isinstance(current.get("id"), str) and isinstance(part, int):
            label = f"{current['id']} ({_loc_text(tuple(path))})"
    return label or _loc_text(loc)


def _where(path: Path, composed: yaml.Node | None, loc: tuple) -> str:
    """'file.yaml:LINE' for the deepest YAML node on `loc` that exists."""
    current, line = composed, None
    for part in loc:
        if current is None:
            break
        line = current.start_mark.line + 1
        if isinstance(current, yaml.MappingNode):
            current = next((value for key, value in current.value if key.value == part), None)
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            current = None
    if current is not None:
        line = current.start_mark.line + 1
    return f"{path.name}:{line}" if line else path.name
