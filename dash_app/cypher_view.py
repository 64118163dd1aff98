"""A Cypher result as the console shows it: grid rows, and a small graph when the rows describe one.

A result looks like a graph when its cells hold nodes (maps with `_label`) — consecutive nodes
in a row are joined, named by the relationship between them when there is one — or when it
has two id-like columns (`…_id`, `…_key`, source/target), one edge per row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from graph.cypher import CypherResult

MAX_GRAPH_ROWS = 150  # a neighbourhood, never the whole graph
_NODE_KEYS = ("firm_id", "applicant_id", "publication_number", "key", "node_id", "chain_id", "name")
_PAIR_NAMES = ("source", "target", "from", "to", "src", "dst")


def grid_cell(value: Any) -> Any:
    """A JSON-safe, readable grid cell: maps and lists as JSON text, dates as ISO text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def grid(result: CypherResult) -> tuple[list[dict], list[dict]]:
    """(columnDefs, rowData) for dash-ag-grid; columns keyed c0, c1… since Cypher names may repeat or hold dots."""
    column_defs = [{"field": f"c{i}", "headerName": name, "tooltipField": f"c{i}"} for i, name in enumerate(result.columns)]
    rows = [{f"c{i}": grid_cell(value) for i, value in enumerate(row)} for row in result.rows]
    return column_defs, rows


def _node_id(node: dict) -> str | None:
    label = node.get("_label", "")
    for key in _NODE_KEYS:
        if node.get(key) not in (None, ""):
            return f"{label}:{node[key]}"
    return None


def _node_label(node: dict) -> str:
    return str(node.get("name") or node.get("name_zh") or node.get("title") or node.get("firm_id") or node.get("_label"))


def _id_columns(columns: list[str]) -> list[int]:
    return [i for i, name in enumerate(columns)
            if name.lower().endswith(("_id", "_key", "_node")) or name.lower() in ("id", "key", *_PAIR_NAMES)]


def graph_elements(result: CypherResult, max_rows: int = MAX_GRAPH_ROWS) -> list[dict]:
    """Cytoscape elements for the first `max_rows` rows, or [] when the result is not graph-like."""
    rows = result.rows[:max_rows]
    if any(isinstance(v, dict) and "_label" in v for row in rows for v in row):
        return _from_nodes(rows)
    id_columns = _id_columns(result.columns)
    if len(id_columns) >= 2:
        return _from_pairs(result.columns, rows, id_columns[0], id_columns[1])
    return []


def _from_nodes(rows: list[list]) -> list[dict]:
    nodes: dict[str, dict] = {}
    edges: dict[str, dict] = {}
    for row in rows:
        previous, relation = None, None
        for value in row:
            if isinstance(value, dict) and "_type" in value:
                relation = value["_type"]
            elif isinstance(value, dict) and "_label" in value and (node_id := _node_id(value)):
                nodes.setdefault(node_id, {"data": {"id": node_id, "label": _node_label(value),
                                                    "kind": value["_label"]}, "classes": value["_label"]})
                if previous and previous != node_id:
                    edge_id = f"{previous}->{node_id}:{relation or ''}"
                    edges.setdefault(edge_id, {"data": {"id": edge_id, "source": previous, "target": node_id,
                                                        "label": relation or ""}})
                previous, relation = node_id, None
    return [*nodes.values(), *edges.values()]


def _from_pairs(columns: list[str], rows: list[list], first: int, second: int) -> list[dict]:
    labels = {name.lower(): i for i, name in enumerate(columns)}

    def label_column(index: int) -> int | None:
        base = columns[index].lower().rsplit("_", 1)[0]  # firm_id → firm, node_key → node
        return labels.get(base) if base != columns[index].lower() else None

    nodes: dict[str, dict] = {}
    edges: dict[str, dict] = {}
    for row in rows:
        ends = []
        for index in (first, second):
            value = row[index]
            if value in (None, "") or isinstance(value, dict | list):
                break
            label_at = label_column(index)
            label = row[label_at] if label_at is not None and row[label_at] not in (None, "") else value
            node_id = str(value)  # the same id in either column is one node (node_key / parent_key)
            nodes.setdefault(node_id, {"data": {"id": node_id, "label": str(label), "kind": columns[index]},
                                       "classes": "pair"})
            ends.append(node_id)
        if len(ends) == 2 and ends[0] != ends[1]:
            edge_id = f"{ends[0]}->{ends[1]}"
            edges.setdefault(edge_id, {"data": {"id": edge_id, "source": ends[0], "target": ends[1], "label": ""}})
    return [*nodes.values(), *edges.values()] if edges else []
