"""Contract tables -> node and relationship tables in the graph schema (backend-neutral).

Every backend loads the same `GraphTables`: LadybugDB COPYs them from Parquet staging files,
Neo4j MERGEs them in batches, the neo4j-admin export writes them as CSV. Rows that cannot
become part of the graph (a citation of a patent outside the patents table, a filing by an
unknown applicant, a duplicate key, ...) are left out and counted under a readable reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.contracts import CONTRACTS
from graph.schema import NODES, RELS
from graph.workspace import Workspace

SOURCE_TABLES = (
    "tech_nodes", "supply_links", "patents", "applicants", "filings", "firms", "matches", "node_patents",
    "firm_scores",
)
_COLUMNS = {
    "patents": ["publication_number", "application_number", "kind", "patent_type", "title", "application_date",
                "publication_date", "ipc", "cpc", "cited_publications", "claims_count", "legal_status"],
}


@dataclass
class GraphTables:
    nodes: dict[str, pa.Table]
    rels: dict[str, pa.Table]
    skipped: Counter = field(default_factory=Counter)  # reason -> rows left out
    missing_tables: list[str] = field(default_factory=list)


def graph_tables(workspace: Workspace) -> GraphTables:
    """Read the workspace's contract tables and shape them into the graph schema."""
    missing = [name for name in SOURCE_TABLES if not workspace.has(name)]
    if len(missing) == len(SOURCE_TABLES):
        raise FileNotFoundError(
            f"{workspace.tables_dir}: no contract tables to load into the graph; run ingest, matching and"
            " industry_chains first"
        )
    src = {
        name: CONTRACTS[name].schema.empty_table() if name in missing
        else workspace.read(name, columns=_COLUMNS.get(name))
        for name in SOURCE_TABLES
    }
    out = GraphTables(nodes={}, rels={}, missing_tables=missing)
    _chain_nodes(src, out)
    _patent_nodes(src, out)
    _party_nodes(src, out)
    _rels(src, out)
    return out


def _build(schema: pa.Schema, columns: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    return pa.table({f.name: pc.cast(columns[f.name], f.type) for f in schema}, schema=schema)


def _node(out: GraphTables, label: str, columns: dict, *, report_repeats: bool = True) -> None:
    node_type = NODES[label]
    table = _build(node_type.arrow_schema(), columns)
    keyed = pc.is_valid(table[node_type.key])
    if not pc.all(keyed).as_py():
        out.skipped[f"{label}: empty {node_type.key}"] += table.num_rows - pc.sum(keyed).as_py()
        table = table.filter(keyed)
    reason = f"{label}: duplicate {node_type.key}" if report_repeats else None
    out.nodes[label] = _dedupe(out, table, [node_type.key], reason)


def _rel(out: GraphTables, rel_type: str, columns: dict) -> None:
    """Add relationship rows, keeping only those whose endpoints are nodes of the graph."""
    rel = RELS[rel_type]
    table = _build(rel.arrow_schema(), columns)
    # Each end as its row number in the node table: null when absent, and repeats are then found on integers.
    ends: list[pa.ChunkedArray] = []
    for end, label in (("from", rel.start), ("to", rel.end)):
        position = pc.index_in(table[end], value_set=out.nodes[label][NODES[label].key])
        present = pc.is_valid(position)
        dropped = table.num_rows - (pc.sum(present).as_py() or 0)
        if dropped:
            out.skipped[f"{rel_type}: {'start' if end == 'from' else 'end'} {label} not in the graph"] += dropped
            table, position = table.filter(present), position.filter(present)
            ends = [e.filter(present) for e in ends]
        ends.append(position)
    if table.num_rows:
        codes = [e.to_numpy() for e in ends]
        codes += [pc.fill_null(pc.dictionary_encode(table[name].combine_chunks()).indices, -1).to_numpy() + 1
                  for name in rel.identity]
        key = np.zeros(table.num_rows, np.int64)
        for code in codes:
            key = key * (int(code.max()) + 1) + code
        first = np.unique(key, return_index=True)[1]
        if len(first) < table.num_rows:
            out.skipped[f"{rel_type}: duplicate relationship"] += table.num_rows - len(first)
            table = table.take(pa.array(np.sort(first)))
    out.rels[rel_type] = table


def _dedupe(out: GraphTables, table: pa.Table, keys: list[str], reason: str | None) -> pa.Table:
    """Keep the first row per key; count the others under `reason` (None: repeats are normal)."""
    if table.num_rows == 0:
        return table
    rows = pa.array(np.arange(table.num_rows))
    first = table.select(keys).append_column("_row", rows).group_by(keys).aggregate([("_row", "min")])
    repeats = table.num_rows - first.num_rows
    if repeats:
        if reason:
            out.skipped[reason] += repeats
        table = table.take(pa.array(np.sort(first["_row_min"].to_numpy())))
    return table


def _node_key(chain_id, node_id) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(chain_id, node_id, "/")


def _chain_nodes(src: dict[str, pa.Table], out: GraphTables) -> None:
    nodes = src["tech_nodes"]
    _node(out, "Chain", {"chain_id": nodes["chain_id"], "name_zh": nodes["chain_name_zh"],
                         "name_en": nodes["chain_name_en"]}, report_repeats=False)  # one row per node
    _node(out, "TechNode", {
        "key": _node_key(nodes["chain_id"], nodes["node_id"]), "chain_id": nodes["chain_id"],
        "node_id": nodes["node_id"], "name_zh": nodes["name_zh"], "name_en": nodes["name_en"],
        "level": nodes["level"], "segment": nodes["segment"], "weight": nodes["weight"],
        "expression": nodes["expression"],
    })


def _patent_nodes(src: dict[str, pa.Table], out: GraphTables) -> None:
    patents = src["patents"]
    year = pc.coalesce(pc.year(patents["application_date"]), pc.year(patents["publication_date"]))
    main_ipc = _first_elements(patents["ipc"])
    _node(out, "Patent", {
        **{name: patents[name] for name in ("publication_number", "application_number", "kind", "patent_type",
                                            "title", "application_date", "publication_date", "ipc", "cpc",
                                            "claims_count", "legal_status")},
        "year": year, "main_ipc": main_ipc,
    })


def _first_elements(lists: pa.ChunkedArray) -> pa.Array:
    """The first element of each list, null for an empty or null list."""
    heads = pc.list_slice(lists.combine_chunks(), 0, 1)  # at most one element each
    lengths = pc.fill_null(pc.list_value_length(heads), 0).to_numpy(zero_copy_only=False)
    at = np.maximum(np.cumsum(lengths) - 1, 0)
    values = pc.list_flatten(heads)
    if len(values) == 0:
        return pa.nulls(len(heads), pa.string())
    return pc.if_else(pa.array(lengths > 0), values.take(pa.array(at)), pa.scalar(None, pa.string()))


def _party_nodes(src: dict[str, pa.Table], out: GraphTables) -> None:
    applicants = src["applicants"]
    _node(out, "Applicant", {p.name: applicants[p.name] for p in NODES["Applicant"].props})
    firms = src["firms"]
    _node(out, "Firm", {p.name: firms[p.name] for p in NODES["Firm"].props})
    firms = out.nodes["Firm"]
    located = firms.filter(pc.is_valid(firms["province"]))
    region_key = pc.if_else(
        pc.is_valid(located["city"]),
        pc.binary_join_element_wise(located["province"], located["city"], "/"),
        located["province"],
    )
    # Many firms share a region, so repeats are expected and not reported.
    _node(out, "Region", {"key": region_key, "province": located["province"], "city": located["city"]},
          report_repeats=False)
    _rel(out, "LOCATED_IN", {"from": located["firm_id"], "to": region_key})
    register = src["firms"].filter(pc.is_valid(src["firms"]["parent_firm_id"]))
    _rel(out, "SUBSIDIARY_OF", {"from": register["firm_id"], "to": register["parent_firm_id"]})


def _rels(src: dict[str, pa.Table], out: GraphTables) -> None:
    nodes = src["tech_nodes"]
    node_key = _node_key(nodes["chain_id"], nodes["node_id"])
    _rel(out, "HAS_NODE", {"from": nodes["chain_id"], "to": node_key})
    children = nodes.filter(pc.is_valid(nodes["parent_id"]))
    _rel(out, "CHILD_OF", {"from": _node_key(children["chain_id"], children["node_id"]),
                           "to": _node_key(children["chain_id"], children["parent_id"])})
    links = src["supply_links"]
    _rel(out, "SUPPLIES", {"from": _node_key(links["chain_id"], links["from_node"]),
                           "to": _node_key(links["chain_id"], links["to_node"])})
    in_node = src["node_patents"]
    _rel(out, "IN_NODE", {"from": in_node["publication_number"],
                          "to": _node_key(in_node["chain_id"], in_node["node_id"]), "rule": in_node["matched_rule"]})

    patents = src["patents"]
    cited = patents["cited_publications"].combine_chunks() if patents.num_rows else pa.array([], pa.list_(pa.string()))
    citing = pc.take(patents["publication_number"], pc.list_parent_indices(cited))
    _rel(out, "CITES", {"from": citing, "to": pc.list_flatten(cited)})

    filings = src["filings"]
    _rel(out, "FILED", {"from": filings["applicant_id"], "to": filings["publication_number"],
                        "position": filings["position"], "raw_name": filings["raw_name"]})

    matches = src["matches"]
    unresolved = pc.is_null(matches["firm_id"])
    rejected = pc.equal(matches["decision"], "rejected")
    out.skipped["RESOLVES_TO: applicant resolves to no firm"] += pc.sum(unresolved).as_py() or 0
    out.skipped["RESOLVES_TO: rejected candidate"] += pc.sum(pc.and_(rejected, pc.invert(unresolved))).as_py() or 0
    kept = matches.filter(pc.and_(pc.invert(unresolved), pc.invert(rejected)))
    _rel(out, "RESOLVES_TO", {"from": kept["applicant_id"], "to": kept["firm_id"],
                              **{name: kept[name] for name in ("score", "decision", "link_type", "evidence",
                                                               "method_version")}})

    scores = src["firm_scores"]
    _rel(out, "RANKED_IN", {"from": scores["firm_id"], "to": _node_key(scores["chain_id"], scores["node_id"]),
                            **{p.name: scores[p.name] for p in RELS["RANKED_IN"].props}})
    for reason in [r for r, n in out.skipped.items() if not n]:
        del out.skipped[reason]
