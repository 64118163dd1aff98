"""Contract tables -> node and relationship tables in the graph schema (backend-neutral).

Every backend loads the same `GraphTables`: LadybugDB COPYs them from Parquet staging files,
Neo4j MERGEs them in batches, the neo4j-admin export writes them as CSV. Rows that cannot
become part of the graph (a citation of a patent outside the patents table, a filing by an
unknown applicant, a duplicate key, ...) are left out and counted under a readable reason.

The summaries (`ACTIVE_IN`, `ACTIVE_IN_CHAIN`, TechNode and Patent counts) are computed last,
from the relationship tables as loaded, so they agree with what a path walk over the graph finds.
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
# The columns the graph is built from, where a table has others (firm_scores' reasons list: 227 of its 591 MB
# at 1M; filings' addresses; the firm register's addresses and source positions) that are not read.
_COLUMNS = {
    "patents": ["publication_number", "application_number", "kind", "patent_type", "title", "application_date",
                "publication_date", "grant_date", "ipc", "cpc", "cited_publications", "claims_count",
                "legal_status"],
    "applicants": [p.name for p in NODES["Applicant"].props],
    "filings": ["applicant_id", "publication_number", "position", "raw_name"],
    "firms": [p.name for p in NODES["Firm"].props] + ["parent_firm_id"],
    "firm_scores": ["firm_id", "chain_id", "node_id"] + [p.name for p in RELS["RANKED_IN"].props],
}
ACCEPTED_DECISIONS = ("auto", "manual")
# A patent counts as granted as in graph.ranking.features (a test keeps the two lists equal).
GRANTED_KINDS = ("B", "B1", "B2", "C", "U", "S", "Y")


@dataclass
class GraphTables:
    nodes: dict[str, pa.Table]
    rels: dict[str, pa.Table]
    skipped: Counter = field(default_factory=Counter)  # reason -> rows left out
    missing_tables: list[str] = field(default_factory=list)
    # rel type -> (start, end) row numbers in their node tables, for the summaries
    ends: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)


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
    _summaries(out)
    return out


def _build(schema: pa.Schema, columns: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    return pa.table({f.name: pc.cast(columns[f.name], f.type) for f in schema}, schema=schema)


def _node(out: GraphTables, label: str, columns: dict, *, report_repeats: bool = True) -> None:
    node_type = NODES[label]
    size = len(next(iter(columns.values())))
    # Summary properties are filled in by _summaries once the relationships are known.
    columns = {p.name: pa.nulls(size, p.arrow_type) for p in node_type.props} | columns
    table = _build(node_type.arrow_schema(), columns)
    keyed = pc.is_valid(table[node_type.key])
    empty = table.num_rows - (pc.sum(keyed).as_py() or 0)  # sum is null for a table without rows
    if empty:
        out.skipped[f"{label}: empty {node_type.key}"] += empty
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
    codes = [e.to_numpy() for e in ends]
    if table.num_rows:
        codes += [pc.fill_null(pc.dictionary_encode(table[name].combine_chunks()).indices, -1).to_numpy() + 1
                  for name in rel.identity]
        key = np.zeros(table.num_rows, np.int64)
        for code in codes:
            key = key * (int(code.max()) + 1) + code
        first = np.unique(key, return_index=True)[1]
        if len(first) < table.num_rows:
            out.skipped[f"{rel_type}: duplicate relationship"] += table.num_rows - len(first)
            first = np.sort(first)
            table = table.take(pa.array(first))
            codes = [code[first] for code in codes]
    out.ends[rel_type] = (codes[0].astype(np.int64), codes[1].astype(np.int64))
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
                                            "title", "application_date", "publication_date", "grant_date", "ipc",
                                            "cpc", "claims_count", "legal_status")},
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


def _summaries(out: GraphTables) -> None:
    """ACTIVE_IN, ACTIVE_IN_CHAIN and the count properties of TechNode and Patent, from the loaded relationships.

    Works on row numbers (out.ends) with numpy: sorting and counting integers, no string joins.
    """
    patents, tech_nodes, firms = out.nodes["Patent"], out.nodes["TechNode"], out.nodes["Firm"]
    n_patents, n_nodes, n_firms = patents.num_rows, tech_nodes.num_rows, max(firms.num_rows, 1)
    decision = out.rels["RESOLVES_TO"]["decision"]
    accepted = pc.fill_null(pc.is_in(decision, value_set=pa.array(ACCEPTED_DECISIONS)), False).to_numpy(
        zero_copy_only=False)
    link_applicant, link_firm = (end[accepted] for end in out.ends["RESOLVES_TO"])
    filer, filed_patent = out.ends["FILED"]
    # (patent, firm) once each, however many of the patent's applicants resolve to the firm
    filing, link = _pairs(filer, link_applicant)
    pair = np.unique(filed_patent[filing] * n_firms + link_firm[link])
    held_patent, held_firm = pair // n_firms, pair % n_firms
    in_patent, in_node = out.ends["IN_NODE"]
    held, membership = _pairs(held_patent, in_patent)  # (patent, firm) x (patent, node)
    patent, firm, node = held_patent[held], held_firm[held], in_node[membership]

    year = patents["year"].to_numpy(zero_copy_only=False).astype(float)  # NaN where unknown
    invention = pc.fill_null(pc.equal(patents["patent_type"], "invention"), False).to_numpy(zero_copy_only=False)
    granted = pc.fill_null(pc.or_kleene(pc.is_in(patents["kind"], value_set=pa.array(GRANTED_KINDS)),
                                        pc.is_valid(patents["grant_date"])), False).to_numpy(zero_copy_only=False)
    order = np.lexsort((node, firm))
    patent, firm, node = patent[order], firm[order], node[order]
    group, starts = np.unique(firm * n_nodes + node, return_index=True)
    active_firm, active_node = group // n_nodes, group % n_nodes
    first_year, last_year = _per_group(np.fmin, year[patent], starts), _per_group(np.fmax, year[patent], starts)
    _summary_rel(out, "ACTIVE_IN", {
        "from": firms["firm_id"].take(active_firm), "to": tech_nodes["key"].take(active_node),
        "patents": np.diff(np.append(starts, len(patent))),
        "inventions": _per_group(np.add, invention[patent].astype(np.int64), starts),
        "granted": _per_group(np.add, granted[patent].astype(np.int64), starts),
        "first_year": pa.array(first_year, mask=np.isnan(first_year)),
        "last_year": pa.array(last_year, mask=np.isnan(last_year)),
    })

    chain_of_node = pc.index_in(tech_nodes["chain_id"], value_set=out.nodes["Chain"]["chain_id"]).to_numpy(
        zero_copy_only=False)
    n_chains = max(out.nodes["Chain"].num_rows, 1)
    firm_chain = firm * n_chains + chain_of_node[node]
    chain_group, chain_patents = np.unique(np.unique(firm_chain * n_patents + patent) // n_patents,
                                           return_counts=True)
    # the firm's nodes in the chain, by key: its ACTIVE_IN rows ordered by (firm, chain, node key)
    node_rank = np.argsort(np.argsort(tech_nodes["key"].to_numpy(zero_copy_only=False)))
    active_chain = active_firm * n_chains + chain_of_node[active_node]
    by_key = np.lexsort((node_rank[active_node], active_chain))
    node_count = np.unique(active_chain, return_counts=True)[1]
    nodes = pa.ListArray.from_arrays(pa.array(np.append(0, np.cumsum(node_count)).astype(np.int32)),
                                     tech_nodes["key"].combine_chunks().take(active_node[by_key]))
    _summary_rel(out, "ACTIVE_IN_CHAIN", {
        "from": firms["firm_id"].take(chain_group // n_chains),
        "to": out.nodes["Chain"]["chain_id"].take(chain_group % n_chains),
        "patents": chain_patents, "node_count": node_count, "nodes": nodes,
    })

    resolved = np.zeros(n_patents, bool)
    resolved[held_patent] = True
    _set_property(out, "Patent", "resolved", resolved)
    _set_property(out, "Patent", "forward_citations", np.bincount(out.ends["CITES"][1], minlength=n_patents))
    _set_property(out, "TechNode", "patent_count", np.bincount(in_node, minlength=n_nodes))
    _set_property(out, "TechNode", "firm_count", np.bincount(active_node, minlength=n_nodes))
    _set_property(out, "TechNode", "unresolved_count",
                  np.bincount(in_node[~resolved[in_patent]], minlength=n_nodes))


def _pairs(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (i, j) of every pair with left[i] == right[j] (an inner join on integer keys)."""
    order = np.argsort(right, kind="stable")
    lo = np.searchsorted(right[order], left, "left")
    counts = np.searchsorted(right[order], left, "right") - lo
    i = np.repeat(np.arange(len(left)), counts)
    offsets = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, order[np.repeat(lo, counts) + offsets]


def _per_group(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """`ufunc` reduced over each run of `values` beginning at `starts` (sorted group starts)."""
    return ufunc.reduceat(values, starts) if len(starts) else values[:0]


def _summary_rel(out: GraphTables, rel_type: str, columns: dict) -> None:
    """A summary relationship: its ends are node rows already, so no lookups or dedupe are needed."""
    columns = {name: pa.array(v) if isinstance(v, np.ndarray) else v for name, v in columns.items()}
    out.rels[rel_type] = _build(RELS[rel_type].arrow_schema(), columns)


def _set_property(out: GraphTables, label: str, name: str, values: np.ndarray) -> None:
    table = out.nodes[label]
    at = table.schema.get_field_index(name)
    out.nodes[label] = table.set_column(at, table.schema.field(at), pa.array(values).cast(table.schema.field(at).type))


# Delta between two builds --------------------------------------------------------------------


@dataclass
class TableDelta:
    """How one node or relationship table changed: rows to add, rows whose properties changed, keys gone."""

    inserted: pa.Table
    updated: pa.Table
    deleted: pa.Table  # the key columns only (node key, or from / to / identity properties)

    @property
    def changes(self) -> int:
        return self.inserted.num_rows + self.updated.num_rows + self.deleted.num_rows


def key_columns(name: str) -> list[str]:
    """What identifies a row of a node table (its key) or a relationship table (its ends and identity)."""
    if name in NODES:
        return [NODES[name].key]
    return ["from", "to", *RELS[name].identity]


def diff_table(name: str, old: pa.Table, new: pa.Table) -> TableDelta:
    """Rows of `new` not in `old` by key, rows in both with any property different, keys of `old` not in `new`.

    Keys are compared as integer codes (each key column dictionary-encoded over both tables), found by
    sorting and binary search, and lists element by element: on the 300k refresh's tables 3.5 -> 2.6 CPU s
    for the same deltas (docs/performance.md "Delta load (issue #9)").
    """
    keys = key_columns(name)
    if _keys_aligned(old, new, keys):
        return _diff_aligned(old, new, keys)
    old_key, new_key = _row_codes(old, new, keys)
    order = np.argsort(old_key, kind="stable")  # a repeated key matches its first row, as index_in did
    ordered = old_key[order]
    at = np.minimum(np.searchsorted(ordered, new_key), max(len(ordered) - 1, 0))
    present = ordered[at] == new_key if len(ordered) else np.zeros(len(new_key), bool)
    position = order[at[present]]
    inserted = new.filter(pa.array(~present))
    matched, previous = new.filter(pa.array(present)), old.take(pa.array(position, pa.int64()))
    same = np.ones(matched.num_rows, bool)
    for column in (c for c in new.column_names if c not in keys):
        same &= _equal(matched[column], previous[column])
    deleted = old.select(keys).filter(pa.array(~_found_in(old_key, new_key)))
    return TableDelta(inserted, matched.filter(pa.array(~same)), deleted)


def _keys_aligned(old: pa.Table, new: pa.Table, keys: list[str]) -> bool:
    """Whether `new` starts with `old`'s keys in `old`'s order (the tables a refresh appends to: patents,
    filings, citations, applicants), so row i of `old` is row i of `new` and no key needs a lookup.
    The transform keeps one row per key, so the rows after the common start are keys `old` does not have."""
    if old.num_rows > new.num_rows or old.schema != new.schema:
        return False
    start = new.slice(0, old.num_rows)
    return all(_equal(start[name], old[name]).all() for name in keys)


def _diff_aligned(old: pa.Table, new: pa.Table, keys: list[str]) -> TableDelta:
    """diff_table when `_keys_aligned`: the same three tables, found by comparing row i with row i
    (300k refresh: FILED 0.28 -> 0.01 s, Patent 0.27 -> 0.06 s, an unchanged CITES 0.26 -> 0.01 s)."""
    start = new.slice(0, old.num_rows)
    same = np.ones(old.num_rows, bool)
    for column in (c for c in new.column_names if c not in keys):
        same &= _equal(start[column], old[column])
    return TableDelta(new.slice(old.num_rows), start.filter(pa.array(~same)), old.select(keys).slice(0, 0))


def _found_in(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Whether each of `values` is one of `among` (sort and binary search; np.isin's hashing was slower here)."""
    if not len(among):
        return np.zeros(len(values), bool)
    ordered = np.sort(among)
    return ordered[np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)] == values


def _row_codes(old: pa.Table, new: pa.Table, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per row of `old` and of `new`, equal iff the rows' key columns are equal (two nulls equal)."""
    code = np.zeros(old.num_rows + new.num_rows, np.int64)
    for name in keys:
        both = pa.chunked_array(old[name].chunks + new[name].chunks, old.schema.field(name).type).combine_chunks()
        part = pc.fill_null(pc.dictionary_encode(both).indices, -1).to_numpy().astype(np.int64) + 1
        width = int(part.max(initial=0)) + 1
        if int(code.max(initial=0)) >= (1 << 62) // width:  # renumber densely before the product could overflow
            code = np.unique(code, return_inverse=True)[1].astype(np.int64)
        code = code * width + part
    return code[:old.num_rows], code[old.num_rows:]


def _equal(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Element-wise equality where two nulls (or two NaNs) are equal; lists equal when every element is
    (a list holding a null element equals nothing but a null list on the other side)."""
    if pa.types.is_list(a.type):
        return _lists_equal(a.combine_chunks(), b.combine_chunks())
    same = pc.or_kleene(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))
    if pa.types.is_floating(a.type):
        same = pc.or_kleene(same, pc.and_(pc.is_nan(a), pc.is_nan(b)))
    return pc.fill_null(same, False).to_numpy(zero_copy_only=False)


def _lists_equal(a: pa.ListArray, b: pa.ListArray) -> np.ndarray:
    a_null, b_null = (pc.is_null(x).to_numpy(zero_copy_only=False) for x in (a, b))
    a_len, b_len = (pc.fill_null(pc.list_value_length(x), -1).to_numpy().astype(np.int64) for x in (a, b))
    candidates = np.flatnonzero((a_len == b_len) & ~a_null & ~b_null)
    equal = a_null & b_null
    if len(candidates):
        rows = pa.array(candidates)
        items_a, items_b = pc.list_flatten(a.take(rows)), pc.list_flatten(b.take(rows))
        item_same = pc.fill_null(pc.equal(items_a, items_b), False).to_numpy(zero_copy_only=False)
        misses = np.concatenate([[0], np.cumsum(~item_same)])
        ends = np.cumsum(a_len[candidates])
        equal[candidates] = misses[ends] == misses[ends - a_len[candidates]]
    return equal
