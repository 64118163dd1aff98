"""What each explorer page shows, computed from the workspace tables.

Pure functions of (workspace, arguments): the Dash callbacks only turn their results into
components, so everything a user sees can be tested here without a browser. Tables are read
once and kept while their Parquet file is unchanged (same mtime and size); a stage that
rewrites a table is picked up on the next request.
"""

from __future__ import annotations

import csv
import json
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dash_app.tilemap import TILES, province_short
from graph.contracts import APPLICANT_TYPES, SEGMENTS
from graph.workspace import ContractError, Workspace

SEGMENT_LABELS = {"upstream": "上游 Upstream", "midstream": "中游 Midstream", "downstream": "下游 Downstream"}
# Grey for nodes without target firms, then light → dark blue as the count grows.
NO_TARGETS_COLOUR = "#cbd5e1"
TARGET_COLOURS = ("#bfdbfe", "#60a5fa", "#2563eb", "#1e3a8a")
ROLLED_UP_COLOUR = "#e0e7ff"  # a node ranked only through its sub-nodes
ACCEPTED_DECISIONS = ("auto", "manual")
RANKED_COLUMNS = (
    "rank", "firm_id", "name", "score", "tier", "province", "city", "size_band", "status",
    "patents_in_node", "inventions_in_node", "granted_in_node", "recent_filings", "forward_citations",
    "node_share", "match_confidence", "explanation",
)  # fmt: skip
MAX_GRAPH_ELEMENTS = 300
FIRM_PATENT_LIMIT = 500
MAX_NEIGHBOURS = 40  # the firm page's graph: a neighbourhood, never the whole graph
NEIGHBOUR_SPACING = 60  # px of ring per neighbour (before widening), so labels do not overlap
WIDE = 2.2  # rings are drawn as ellipses this many times wider than high: the graph sits in a wide, low frame

_cache: dict[tuple, pd.DataFrame] = {}
_cache_lock = threading.Lock()


def _table(workspace: Workspace, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Table `name` (optionally only `columns`), reread only when its file changed. Do not mutate."""
    path = workspace.table_path(name)
    try:
        stat = path.stat()
    except FileNotFoundError:
        workspace.read(name)  # raises the workspace's own "run the stage that writes it" error
        raise
    key = (str(path), columns)
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.attrs.get("stamp") == stamp:
            return hit
    frame = workspace.read_df(name, list(columns) if columns else None)
    frame.attrs["stamp"] = stamp
    with _cache_lock:
        _cache[key] = frame
    return frame


# What a first visit to the chains and node pages reads, as `_table` keys: read ahead of the visitor.
_FIRST_VISIT_TABLES = (
    ("tech_nodes", None), ("supply_links", None), ("firm_scores", None),
    ("firm_scores", ("chain_id", "node_id", "firm_id")),
    ("firms", ("firm_id", "name", "province", "city", "size_band", "status")),
    ("firms", ("firm_id", "province", "size_band")),
    ("node_patents", ("chain_id", "node_id", "publication_number")),
    ("patents", ("publication_number", "application_date", "publication_date")),
    ("filings", ("publication_number", "applicant_id")),
    ("applicants", ("applicant_id", "applicant_type")),
)


def warm(workspace: Workspace) -> int:
    """Read the first-visit tables that changed since they were last read (a stat per table when none did),
    then, if any did, build every ranked node's page data (its summary and its firms in rank order).

    Returns how many tables were read. A missing or half-built workspace is skipped: the pages say what to run.
    """
    read = 0
    for name, columns in _FIRST_VISIT_TABLES:
        path = workspace.table_path(name)
        try:
            stamp = path.stat()
            with _cache_lock:
                hit = _cache.get((str(path), columns))
            if hit is None or hit.attrs.get("stamp") != (stamp.st_mtime_ns, stamp.st_size):
                _table(workspace, name, columns)
                read += 1
        except (OSError, ValueError, ContractError):
            continue
    if read:
        try:
            ranked = _table(workspace, "firm_scores", ("chain_id", "node_id", "firm_id"))
            for chain_id, node_id in ranked[["chain_id", "node_id"]].drop_duplicates().itertuples(index=False):
                node_summary(workspace, chain_id, node_id)
                _node_rows(workspace, chain_id, node_id)
        except (OSError, ValueError, KeyError, ContractError):
            pass  # a table changed under us: the next round starts again
    return read


def keep_warm(workspace: Workspace, every_s: float = 15.0) -> threading.Thread:
    """A daemon thread that runs `warm` now and every `every_s` seconds, so the first visitor after a
    start or a refresh does not wait for Parquet reads (the 1.3 s cold first paint of docs/ui.md)."""
    def loop() -> None:
        while True:
            warm(workspace)
            time.sleep(every_s)

    thread = threading.Thread(target=loop, name="patentgraph-warm-tables", daemon=True)
    thread.start()
    return thread


def _isin(column: pd.Series, values) -> pd.Series:
    """`column.isin(values)` in Arrow: pandas' isin on Arrow strings converts every value in Python (seconds at 100k)."""
    array = pa.array(column)
    value_set = pa.array(values if not isinstance(values, pd.Series) else values.array, from_pandas=True)
    if value_set.type != array.type:
        value_set = value_set.cast(array.type)
    mask = pc.fill_null(pc.is_in(array, value_set=value_set), False)
    return pd.Series(mask.to_numpy(zero_copy_only=False), index=column.index)


def node_href(chain_id: str, node_id: str) -> str:
    return f"/node/{quote(chain_id, safe='')}/{quote(node_id, safe='')}"


def firm_href(firm_id: str) -> str:
    return f"/firm/{quote(firm_id, safe='')}"


def _clean(value: object) -> object:
    """A JSON-safe cell: NaN/NaT become None, numpy scalars become Python, dates become ISO text."""
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
        if isinstance(value, list):
            return [_clean(item) for item in value]
    if value is None or (isinstance(value, float) and value != value):
        return None
    if value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{key: _clean(value) for key, value in row.items()} for row in frame.to_dict("records")]


# ---------------------------------------------------------------- chains


def list_chains(workspace: Workspace) -> list[dict]:
    """Chains in the workspace: chain_id, Chinese and English name, node count."""
    nodes = _table(workspace, "tech_nodes")
    chains = (
        nodes.groupby(["chain_id", "chain_name_zh", "chain_name_en"], sort=True)
        .size()
        .reset_index(name="nodes")
    )
    return _records(chains)


def target_counts(workspace: Workspace, chain_id: str) -> dict[str, int]:
    """Number of ranked (target) firms per node of a chain."""
    scores = _table(workspace, "firm_scores", ("chain_id", "node_id", "firm_id"))
    in_chain = scores[scores["chain_id"] == chain_id]
    return {str(k): int(v) for k, v in in_chain.groupby("node_id")["firm_id"].nunique().items()}


def firms_below(workspace: Workspace, chain_id: str) -> dict[str, int]:
    """Distinct target firms ranked in any descendant of each node (a field node without its own search
    expression has no ranking, but the analyst wants to see what lies under it)."""
    chain = _chain_nodes(workspace, chain_id)
    parent_of = dict(zip(chain["node_id"], chain["parent_id"], strict=True))
    scores = _table(workspace, "firm_scores", ("chain_id", "node_id", "firm_id"))
    pairs = scores.loc[scores["chain_id"] == chain_id, ["node_id", "firm_id"]].drop_duplicates()
    below: dict[str, set[str]] = {}
    for node_id, firm_ids in pairs.groupby("node_id")["firm_id"]:
        ancestor = parent_of.get(node_id)
        while ancestor in parent_of:
            below.setdefault(ancestor, set()).update(firm_ids)
            ancestor = parent_of[ancestor]
    return {node_id: len(firm_ids) for node_id, firm_ids in below.items()}


def colour_for(count: int, max_count: int) -> str:
    """Fill colour of a node with `count` target firms, on a scale up to the chain's busiest node."""
    if count <= 0 or max_count <= 0:
        return NO_TARGETS_COLOUR
    # equal shares of the range: (0, 1/4] of the maximum → lightest ... (3/4, 1] → darkest
    step = math.ceil(len(TARGET_COLOURS) * min(count, max_count) / max_count) - 1
    return TARGET_COLOURS[step]


def colour_legend(max_count: int) -> list[tuple[str, str]]:
    """(colour, label) pairs explaining `colour_for` for a chain whose busiest node has max_count firms."""
    legend = [(NO_TARGETS_COLOUR, "0")]
    if max_count <= 0:
        return legend
    seen: dict[str, list[int]] = {}
    for count in range(1, max_count + 1):
        seen.setdefault(colour_for(count, max_count), []).append(count)
    for colour in TARGET_COLOURS:
        if colour in seen:
            low, high = seen[colour][0], seen[colour][-1]
            legend.append((colour, str(low) if low == high else f"{low}–{high}"))
    return legend


@dataclass(frozen=True)
class ChainGraph:
    """Cytoscape elements of one chain, and what was left out to stay readable."""

    elements: list[dict]
    nodes_shown: int
    nodes_total: int
    deepest_level_shown: int
    legend: list[tuple[str, str]]


def _chain_nodes(workspace: Workspace, chain_id: str) -> pd.DataFrame:
    nodes = _table(workspace, "tech_nodes")
    chain = nodes[nodes["chain_id"] == chain_id]
    if chain.empty:
        raise KeyError(f"no chain {chain_id!r} in {workspace.table_path('tech_nodes')}")
    return chain


def _tree_order(chain: pd.DataFrame) -> list[dict]:
    """Nodes depth-first, segments upstream → downstream, siblings by node_id."""
    rows = {row["node_id"]: row for row in chain.to_dict("records")}
    children: dict[str | None, list[str]] = {}
    for node_id, row in rows.items():
        parent = row["parent_id"] if row["parent_id"] in rows else None
        children.setdefault(parent, []).append(node_id)
    segment_rank = {segment: index for index, segment in enumerate(SEGMENTS)}
    roots = sorted(children.get(None, []), key=lambda n: (segment_rank.get(rows[n]["segment"], 9), n))
    ordered: list[dict] = []
    stack = list(reversed(roots))
    while stack:
        node_id = stack.pop()
        ordered.append(rows[node_id])
        stack.extend(reversed(sorted(children.get(node_id, []))))
    return ordered


def chain_elements(workspace: Workspace, chain_id: str, max_elements: int = MAX_GRAPH_ELEMENTS) -> ChainGraph:
    """The chain as a graph: segments as compound boxes left → right, nodes coloured by target firms.

    Deeper levels are dropped (their supply links lifted to the nearest shown ancestor) until
    the graph has at most `max_elements` elements.
    """
    chain = _chain_nodes(workspace, chain_id)
    ordered = _tree_order(chain)
    parent_of = {row["node_id"]: row["parent_id"] for row in ordered}
    level_of = {row["node_id"]: int(row["level"]) for row in ordered}
    links = _table(workspace, "supply_links")
    links = links[links["chain_id"] == chain_id]
    counts = target_counts(workspace, chain_id)
    max_count = max(counts.values(), default=0)
    below = firms_below(workspace, chain_id)

    deepest = max(level_of.values())
    while True:
        shown = [row for row in ordered if row["level"] <= deepest]
        edges = _lifted_edges(links, parent_of, level_of, deepest)
        hierarchy = [row for row in shown if row["level"] >= 3 and row["parent_id"] in parent_of]
        if len(shown) + len(edges) + len(hierarchy) <= max_elements or deepest == 1:
            break
        deepest -= 1

    elements = _positioned_nodes(chain_id, shown, counts, below, max_count)
    for row in hierarchy:
        elements.append(
            {"data": {"id": f"has:{row['node_id']}", "source": row["parent_id"], "target": row["node_id"]},
             "classes": "hierarchy"}
        )
    for source, target in edges:
        elements.append(
            {"data": {"id": f"feeds:{source}->{target}", "source": source, "target": target}, "classes": "supply"}
        )
    legend = colour_legend(max_count)
    if any(not counts.get(row["node_id"]) and below.get(row["node_id"]) for row in shown if row["level"] >= 2):
        legend.append((ROLLED_UP_COLOUR, "only in sub-nodes 仅子节点"))
    return ChainGraph(elements, len(shown), len(ordered), deepest, legend)


def _lifted_edges(
    links: pd.DataFrame, parent_of: dict, level_of: dict, deepest: int
) -> list[tuple[str, str]]:
    def shown_ancestor(node_id: str) -> str | None:
        while node_id in level_of and level_of[node_id] > deepest:
            node_id = parent_of[node_id]
        return node_id if node_id in level_of else None

    edges: list[tuple[str, str]] = []
    for source, target in zip(links["from_node"], links["to_node"], strict=True):
        pair = (shown_ancestor(source), shown_ancestor(target))
        if None not in pair and pair[0] != pair[1] and pair not in edges:
            edges.append(pair)
    return edges


def _positioned_nodes(chain_id: str, shown: list[dict], counts: dict[str, int], below: dict[str, int],
                      max_count: int) -> list[dict]:
    """Preset positions: one column per segment; inside it, nodes indented by level, one per row.

    Level-1 nodes are the segment boxes (cytoscape compound parents) around their descendants.
    """
    column_width, indent, row_height = 460, 170, 62
    segment_rank = {segment: index for index, segment in enumerate(SEGMENTS)}
    by_id = {row["node_id"]: row for row in shown}
    rows_used: dict[str, int] = {}
    out = []
    for row in shown:
        node_id, level, segment = row["node_id"], int(row["level"]), row["segment"]
        firms, firms_under = counts.get(node_id, 0), below.get(node_id, 0)
        colour = colour_for(firms, max_count)
        tally = f"{firms} {'firm' if firms == 1 else 'firms'}"
        if not firms and firms_under:  # no ranking of its own: say what its sub-nodes hold
            colour, tally = ROLLED_UP_COLOUR, f"{firms_under} {'firm' if firms_under == 1 else 'firms'} in sub-nodes"
        data = {
            "id": node_id,
            "label": f"{row['name_zh']}\n{row['name_en']}\n{tally}",
            "firms": firms,
            "firms_below": firms_under,
            "level": level,
            "colour": colour,
            "text_colour": "#ffffff" if colour in TARGET_COLOURS[2:] else "#0f172a",
            "href": node_href(chain_id, node_id),
        }
        if level == 1:
            data["label"] = f"{SEGMENT_LABELS.get(segment, segment)} · {row['name_zh']} {row['name_en']}"
            if firms or firms_under:
                data["label"] += f" ({tally})"
            data["colour"] = colour_for(firms, max_count)  # the segment box stays neutral unless ranked itself
            if segment in rows_used:  # a second group in the same segment starts below a gap
                rows_used[segment] += 1
            out.append({"data": data, "classes": f"segment {segment}"})
            continue
        root = _segment_root(row, by_id)
        if root is not None:
            data["parent"] = root
        index = rows_used.get(segment, 0)
        rows_used[segment] = index + 1
        position = {"x": segment_rank.get(segment, 3) * column_width + (level - 2) * indent, "y": index * row_height}
        out.append({"data": data, "position": position, "classes": f"tech level{level}"})
    return out


def _segment_root(row: dict, by_id: dict[str, dict]) -> str | None:
    current = row
    while current["parent_id"] in by_id:
        current = by_id[current["parent_id"]]
    return current["node_id"] if current is not row and current["level"] == 1 else None


def chain_node_rows(workspace: Workspace, chain_id: str) -> list[dict]:
    """The chain's nodes as table rows, depth-first, with patents and target firms per node."""
    ordered = _tree_order(_chain_nodes(workspace, chain_id))
    counts = target_counts(workspace, chain_id)
    below = firms_below(workspace, chain_id)
    node_patents = _table(workspace, "node_patents", ("chain_id", "node_id", "publication_number"))
    patents = node_patents[node_patents["chain_id"] == chain_id].groupby("node_id")["publication_number"].nunique()
    return [
        {
            "node_id": row["node_id"],
            "name_zh": row["name_zh"],
            "name_en": row["name_en"],
            "level": int(row["level"]),
            "segment": row["segment"],
            "patents": int(patents.get(row["node_id"], 0)),
            "firms": counts.get(row["node_id"], 0),
            "firms_below": below.get(row["node_id"], 0),
            "href": node_href(chain_id, row["node_id"]),
        }
        for row in ordered
    ]


# ---------------------------------------------------------------- node


_SUMMARY_TABLES = ("tech_nodes", "supply_links", "node_patents", "patents", "filings", "applicants", "firm_scores",
                   "firms")
_summary_cache: dict[tuple, tuple[tuple, dict]] = {}


def node_summary(workspace: Workspace, chain_id: str, node_id: str) -> dict:
    """Header facts of one node: names, place in the chain, patents by year, applicant mix, firms.

    Kept until one of the tables it reads changes (a node page's first paint at 100k firms).
    """
    stamps = tuple(_stamp(workspace, name) for name in _SUMMARY_TABLES)
    key = (str(workspace.root), chain_id, node_id)
    with _cache_lock:
        hit = _summary_cache.get(key)
    if hit is not None and hit[0] == stamps and None not in stamps:
        return hit[1]
    summary = _node_summary(workspace, chain_id, node_id)
    with _cache_lock:
        _summary_cache[key] = (stamps, summary)
    return summary


def _stamp(workspace: Workspace, name: str) -> tuple[int, int] | None:
    try:
        stat = workspace.table_path(name).stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _node_summary(workspace: Workspace, chain_id: str, node_id: str) -> dict:
    chain = _chain_nodes(workspace, chain_id)
    match = chain[chain["node_id"] == node_id]
    if match.empty:
        raise KeyError(f"no node {node_id!r} in chain {chain_id!r}")
    node = _records(match)[0]
    by_id = {row["node_id"]: row for row in chain.to_dict("records")}
    ancestors = []
    parent = node["parent_id"]
    while parent in by_id:
        ancestors.insert(0, {"node_id": parent, "name_zh": by_id[parent]["name_zh"], "href": node_href(chain_id, parent)})
        parent = by_id[parent]["parent_id"]

    links = _table(workspace, "supply_links")
    links = links[links["chain_id"] == chain_id]

    def named(ids) -> list[dict]:
        return [
            {"node_id": n, "name_zh": by_id[n]["name_zh"], "name_en": by_id[n]["name_en"], "href": node_href(chain_id, n)}
            for n in sorted(set(ids)) if n in by_id
        ]

    def nearest(side: str, other: str) -> tuple[list[dict], str | None]:
        """Supply links of the node, else of its nearest ancestor that has some (links are often drawn between
        fields, not leaves), with that ancestor's name."""
        for owner in [node_id, *(a["node_id"] for a in reversed(ancestors))]:
            found = links.loc[links[side] == owner, other]
            if len(found):
                return named(found), None if owner == node_id else by_id[owner]["name_zh"]
        return [], None

    suppliers, suppliers_via = nearest("to_node", "from_node")
    customers, customers_via = nearest("from_node", "to_node")
    node_patents = _table(workspace, "node_patents", ("chain_id", "node_id", "publication_number"))
    numbers = node_patents.loc[
        (node_patents["chain_id"] == chain_id) & (node_patents["node_id"] == node_id), "publication_number"
    ].unique()
    scores = _table(workspace, "firm_scores")
    ranked = scores[(scores["chain_id"] == chain_id) & (scores["node_id"] == node_id)]
    firms = _table(workspace, "firms", ("firm_id", "province", "size_band"))
    ranked_firms = firms[_isin(firms["firm_id"], ranked["firm_id"])]
    return {
        **node,
        "ancestors": ancestors,
        "children": named(row["node_id"] for row in by_id.values() if row["parent_id"] == node_id),
        "suppliers": suppliers, "suppliers_via": suppliers_via,
        "customers": customers, "customers_via": customers_via,
        "patent_count": int(len(numbers)),
        "patents_by_year": _patents_by_year(workspace, numbers),
        "applicant_types": _applicant_mix(workspace, numbers),
        "firm_count": int(ranked["firm_id"].nunique()),
        "tier_counts": {tier: int(n) for tier, n in ranked["tier"].value_counts().sort_index().items()},
        "regions": sorted(ranked_firms["province"].dropna().unique().tolist()),
        "size_bands": sorted(ranked_firms["size_band"].dropna().unique().tolist()),
    }


def _patents_by_year(workspace: Workspace, numbers) -> list[dict]:
    patents = _table(workspace, "patents", ("publication_number", "application_date", "publication_date"))
    dated = patents[_isin(patents["publication_number"], numbers)]
    when = pd.to_datetime(dated["application_date"]).fillna(pd.to_datetime(dated["publication_date"]))
    years = when.dt.year.dropna().astype(int).value_counts().sort_index()
    return [{"year": int(year), "patents": int(n)} for year, n in years.items()]


def _applicant_mix(workspace: Workspace, numbers) -> list[dict]:
    """Distinct applicants on the node's patents, per applicant type (contract order)."""
    filings = _table(workspace, "filings", ("publication_number", "applicant_id"))
    applicant_ids = filings.loc[_isin(filings["publication_number"], numbers), "applicant_id"].unique()
    applicants = _table(workspace, "applicants", ("applicant_id", "applicant_type"))
    types = applicants.loc[_isin(applicants["applicant_id"], applicant_ids), "applicant_type"].value_counts()
    return [{"applicant_type": t, "applicants": int(types[t])} for t in APPLICANT_TYPES if t in types]


@dataclass(frozen=True)
class FirmFilter:
    """What the analyst narrowed the ranked list to; empty fields do not filter."""

    regions: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    size_bands: tuple[str, ...] = ()
    score_min: float | None = None
    score_max: float | None = None
    min_confidence: float | None = None
    name_contains: str = ""


@dataclass(frozen=True)
class RankedPage:
    rows: list[dict]
    total: int  # rows matching the filter, across all pages


def ranked_firms(
    workspace: Workspace,
    chain_id: str,
    node_id: str,
    start: int = 0,
    end: int = 100,
    sort: list[dict] | None = None,
    filters: FirmFilter = FirmFilter(),
) -> RankedPage:
    """Rows start..end of the node's ranked firms after `filters`, ordered by `sort`.

    `sort` is AG Grid's sortModel: [{"colId": column, "sort": "asc" | "desc"}, ...]; by default,
    rank ascending. Unknown columns are refused rather than ignored.
    """
    rows, orders = _node_rows(workspace, chain_id, node_id)
    if sort:
        bad = [item.get("colId") for item in sort if item.get("colId") not in RANKED_COLUMNS]
        if bad:
            raise ValueError(f"cannot sort ranked firms by {bad}; sortable: {', '.join(RANKED_COLUMNS)}")
    order = _sort_order(rows, orders, tuple((item["colId"], item.get("sort", "asc") != "desc") for item in sort or ()))
    if filters != FirmFilter():
        order = order[_filter_mask(rows, filters).to_numpy()[order]]
    page = rows.iloc[order[max(start, 0) : max(end, start, 0)]]
    return RankedPage(_records(page), int(len(order)))


_node_rows_cache: dict[tuple, tuple[tuple, pd.DataFrame, dict]] = {}
_SORT_ORDERS_KEPT = 16


def _node_rows(workspace: Workspace, chain_id: str, node_id: str) -> tuple[pd.DataFrame, dict]:
    """The node's ranked firms joined to the register in rank order, and its sort orders; kept until a table changes.

    Not in `attrs`: pandas deep-copies attrs into every derived frame.
    """
    scores = _table(workspace, "firm_scores")
    firms = _table(workspace, "firms", ("firm_id", "name", "province", "city", "size_band", "status"))
    key = (str(workspace.root), chain_id, node_id)
    stamp = (scores.attrs["stamp"], firms.attrs["stamp"])
    with _cache_lock:
        hit = _node_rows_cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1], hit[2]
    ranked = scores.loc[(scores["chain_id"] == chain_id) & (scores["node_id"] == node_id),
                        [c for c in RANKED_COLUMNS if c in scores.columns]]
    rows = ranked.merge(firms, on="firm_id", how="left").sort_values("rank", kind="stable")
    rows = rows[list(RANKED_COLUMNS)].reset_index(drop=True)
    rows.attrs = {}
    orders: dict = {}
    with _cache_lock:
        _node_rows_cache[key] = (stamp, rows, orders)
    return rows, orders


def _sort_order(rows: pd.DataFrame, orders: dict, sort: tuple[tuple[str, bool], ...]) -> np.ndarray:
    """Row positions in `sort` order (rank breaks ties); the last few orders are kept in `orders`."""
    if sort not in orders:
        if not sort:
            order = np.arange(len(rows))
        else:
            keys = [column for column, _ in sort] + ["rank"]
            ascending = [up for _, up in sort] + [True]
            order = rows.sort_values(keys, ascending=ascending, na_position="last", kind="stable").index.to_numpy()
        with _cache_lock:
            if len(orders) >= _SORT_ORDERS_KEPT:
                orders.pop(next(iter(orders)))
            orders[sort] = order
    return orders[sort]


def _filter_mask(rows: pd.DataFrame, filters: FirmFilter) -> pd.Series:
    mask = pd.Series(True, index=rows.index)
    if filters.regions:
        mask &= rows["province"].isin(filters.regions)
    if filters.tiers:
        mask &= rows["tier"].isin(filters.tiers)
    if filters.size_bands:
        mask &= rows["size_band"].isin(filters.size_bands)
    if filters.score_min is not None:
        mask &= rows["score"] >= filters.score_min
    if filters.score_max is not None:
        mask &= rows["score"] <= filters.score_max
    if filters.min_confidence is not None:
        mask &= rows["match_confidence"] >= filters.min_confidence
    if filters.name_contains.strip():
        needle = filters.name_contains.strip().casefold()
        by_name = rows["name"].fillna("").str.casefold().str.contains(needle, regex=False)
        mask &= by_name | (rows["firm_id"].str.casefold() == needle)
    return mask


# ---------------------------------------------------------------- firm


def firm_profile(workspace: Workspace, firm_id: str) -> dict | None:
    """Everything the firm page shows, or None when the register has no such firm."""
    firms = _table(workspace, "firms")
    match = firms[firms["firm_id"] == firm_id]
    if match.empty:
        return None
    firm = _records(match.drop(columns=["source_file", "source_position"]))[0]

    def brief(frame: pd.DataFrame) -> list[dict]:
        return [
            {"firm_id": r["firm_id"], "name": r["name"], "status": r["status"], "href": firm_href(r["firm_id"])}
            for r in frame[["firm_id", "name", "status"]].to_dict("records")
        ]

    parent = brief(firms[firms["firm_id"] == firm["parent_firm_id"]]) if firm["parent_firm_id"] else []
    successor = brief(firms[firms["firm_id"] == firm["successor_firm_id"]]) if firm["successor_firm_id"] else []
    evidence = _match_evidence(workspace, firm_id)
    patents, patent_total = _firm_patents(workspace, evidence)
    return {
        "firm": firm,
        "parent": parent[0] if parent else None,
        "subsidiaries": brief(firms[firms["parent_firm_id"] == firm_id].sort_values("name")),
        "successor": successor[0] if successor else None,
        "predecessors": brief(firms[firms["successor_firm_id"] == firm_id].sort_values("name")),
        "scores": _firm_scores(workspace, firm_id),
        "evidence": evidence,
        "patents": patents,
        "patent_total": patent_total,
    }


def _firm_scores(workspace: Workspace, firm_id: str) -> list[dict]:
    scores = _table(workspace, "firm_scores")
    mine = scores[scores["firm_id"] == firm_id]
    if mine.empty:
        return []
    field = scores[scores["node_id"].isin(mine["node_id"])].groupby(["chain_id", "node_id"]).size()
    nodes = _table(workspace, "tech_nodes", ("chain_id", "node_id", "name_zh", "name_en", "chain_name_zh"))
    rows = mine.merge(nodes, on=["chain_id", "node_id"], how="left").sort_values("score", ascending=False)
    out = []
    for row in _records(rows):
        row["firms_in_node"] = int(field.get((row["chain_id"], row["node_id"]), 0))
        row["href"] = node_href(row["chain_id"], row["node_id"])
        out.append(row)
    return out


def _match_evidence(workspace: Workspace, firm_id: str) -> list[dict]:
    """Every applicant linked to the firm (any decision), with its evidence spelled out."""
    matches = _table(workspace, "matches")
    mine = matches[matches["firm_id"] == firm_id]
    applicants = _table(workspace, "applicants", ("applicant_id", "name", "applicant_type", "region", "patent_count"))
    rows = mine.merge(applicants, on="applicant_id", how="left").sort_values(
        ["decision", "score"], ascending=[True, False], key=lambda s: s.map(_decision_order) if s.name == "decision" else s
    )
    out = []
    for row in _records(rows):
        row["evidence_items"] = evidence_items(row["evidence"])
        out.append(row)
    return out


def _decision_order(decision: str) -> int:
    return {"manual": 0, "auto": 1, "review": 2, "rejected": 3}.get(decision, 4)


def evidence_items(evidence: str) -> list[tuple[str, str]]:
    """The evidence JSON as readable (key, value) pairs; nested keys joined with dots.

    A list of objects (the matcher's candidates, excluded firms) gives one row per object,
    `candidates[1]: firm_id: …, name: …, score: 0.81`, never a Python repr.
    """
    try:
        parsed = json.loads(evidence)
    except (TypeError, ValueError):
        return [("raw", str(evidence))]
    if not isinstance(parsed, dict):
        return [("value", json.dumps(parsed, ensure_ascii=False))]
    items: list[tuple[str, str]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            for index, inner in enumerate(value, start=1):
                items.append((f"{prefix}[{index}]", text(inner)))
        else:
            items.append((prefix, text(value)))

    def text(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        if isinstance(value, dict):
            return ", ".join(f"{key}: {text(inner)}" for key, inner in value.items())
        if isinstance(value, list):
            return ", ".join(text(v) for v in value)
        return str(value)

    walk("", parsed)
    return items


def _firm_patents(workspace: Workspace, evidence: list[dict]) -> tuple[list[dict], int]:
    """Patents of applicants whose link to the firm was accepted, newest first (first FIRM_PATENT_LIMIT)."""
    accepted = {row["applicant_id"]: row["link_type"] for row in evidence if row["decision"] in ACCEPTED_DECISIONS}
    filings = _table(workspace, "filings", ("publication_number", "applicant_id", "raw_name"))
    mine = filings[filings["applicant_id"].isin(list(accepted))].drop_duplicates("publication_number")
    patents = _table(
        workspace, "patents",
        ("publication_number", "title", "patent_type", "application_date", "publication_date", "ipc", "legal_status"),
    )
    rows = mine.merge(patents, on="publication_number", how="inner")
    rows = rows.sort_values(["application_date", "publication_number"], ascending=[False, True], na_position="last")
    rows["link_type"] = rows["applicant_id"].map(accepted)
    rows["main_ipc"] = rows["ipc"].map(lambda codes: codes[0] if codes is not None and len(codes) else None)
    columns = ["publication_number", "title", "patent_type", "application_date", "main_ipc", "legal_status",
               "raw_name", "link_type"]  # fmt: skip
    return _records(rows.head(FIRM_PATENT_LIMIT)[columns]), int(len(rows))


GROUP_EDGE_LABELS = {"parent": "母公司 parent", "subsidiary": "子公司 subsidiary", "successor": "承继 successor",
                     "predecessor": "前身 predecessor"}  # fmt: skip


@dataclass(frozen=True)
class Neighbourhood:
    """Cytoscape elements around one firm, and how many neighbours were left out to stay small."""

    elements: list[dict]
    neighbours_shown: int
    neighbours_total: int


def firm_neighbourhood(profile: dict, max_neighbours: int = MAX_NEIGHBOURS) -> Neighbourhood:
    """The firm in the middle; its group and the nodes it ranks in on an inner ring, its applicants outside.

    Built from `firm_profile`'s result. Neighbours are taken group first, then nodes (best score
    first), then applicants linked by an accepted or pending decision, up to `max_neighbours`.
    Every element with a page carries its `href`.
    """
    firm = profile["firm"]
    group = [("parent", profile["parent"])] if profile["parent"] else []
    group += [("subsidiary", f) for f in profile["subsidiaries"]]
    group += [("successor", profile["successor"])] if profile["successor"] else []
    group += [("predecessor", f) for f in profile["predecessors"]]
    linked = [e for e in profile["evidence"] if e["decision"] in (*ACCEPTED_DECISIONS, "review")]
    total = len(group) + len(profile["scores"]) + len(linked)
    room = max_neighbours
    group, room = group[:room], room - min(room, len(group))
    scores, room = profile["scores"][:room], room - min(room, len(profile["scores"]))
    linked = linked[:room]

    elements = [{"data": {"id": "firm", "label": firm["name"], "href": firm_href(firm["firm_id"])},
                 "position": {"x": 0, "y": 0}, "classes": f"firm centre {firm['status']}"}]  # fmt: skip
    inner = [
        ({"id": f"group{i}", "label": f["name"], "href": f["href"]}, f"firm {f['status'] or ''}",
         ("firm", f"group{i}") if relation in ("subsidiary", "successor") else (f"group{i}", "firm"),
         GROUP_EDGE_LABELS[relation], "group")
        for i, (relation, f) in enumerate(group)
    ]  # fmt: skip
    inner += [
        ({"id": f"node{i}", "label": f"{s.get('chain_name_zh') or s['chain_id']} · {s['name_zh'] or s['node_id']}\n"
                                     f"#{s['rank']} {s['tier']} · {s['score']:.1f}", "href": s["href"]},
         f"technode tier-{s['tier']}", ("firm", f"node{i}"), "", "ranked")
        for i, s in enumerate(scores)
    ]  # fmt: skip
    outer = [
        ({"id": f"applicant{i}", "label": e["name"] or e["applicant_id"]}, "applicant",
         (f"applicant{i}", "firm"), (e["link_type"] or "").replace("_", " "), f"filed {e['decision']}")
        for i, e in enumerate(linked)
    ]  # fmt: skip
    inner_radius = max(120, len(inner) * NEIGHBOUR_SPACING / (2 * math.pi))
    outer_radius = max(inner_radius + 120 if inner else 120, len(outer) * NEIGHBOUR_SPACING / (2 * math.pi))
    for ring, radius in ((inner, inner_radius), (outer, outer_radius)):
        for index, (node, classes, (source, target), label, edge_class) in enumerate(ring):
            # the outer ring is turned half a step: its first neighbour does not sit behind the inner ring's first
            angle = 2 * math.pi * (index + (0.5 if ring is outer and inner else 0)) / len(ring) - math.pi / 2
            elements.append({"data": node, "classes": classes,
                             "position": {"x": round(WIDE * radius * math.cos(angle)),
                                          "y": round(radius * math.sin(angle))}})
            elements.append({"data": {"id": f"{source}->{target}", "source": source, "target": target, "label": label},
                             "classes": edge_class})
    return Neighbourhood(elements, len(inner) + len(outer), total)


# ---------------------------------------------------------------- map


def _target_firms(workspace: Workspace, chain_id: str | None) -> pd.DataFrame:
    """One row per (ranked firm, node) with the firm's tile province; `chain_id` None means every chain."""
    scores = _table(workspace, "firm_scores", ("chain_id", "node_id", "firm_id", "score", "tier"))
    if chain_id:
        scores = scores[scores["chain_id"] == chain_id]
    firms = _table(workspace, "firms", ("firm_id", "name", "province", "city"))
    rows = scores.merge(firms, on="firm_id", how="left")
    rows["tile"] = rows["province"].map(province_short)
    return rows


def map_tiles(workspace: Workspace, chain_id: str | None = None) -> dict:
    """Every province tile with its number of distinct target firms and fill colour; firms with no known province."""
    rows = _target_firms(workspace, chain_id)
    per_tile = rows.dropna(subset=["tile"]).groupby("tile")["firm_id"].nunique()
    max_count = int(per_tile.max()) if len(per_tile) else 0
    tiles = []
    for short, (row, column, english) in TILES.items():
        firms = int(per_tile.get(short, 0))
        colour = colour_for(firms, max_count)
        tiles.append({"province": short, "english": english, "row": row, "column": column, "firms": firms,
                      "colour": colour, "text_colour": "#ffffff" if colour in TARGET_COLOURS[2:] else "#0f172a"})
    unplaced = int(rows.loc[rows["tile"].isna(), "firm_id"].nunique())
    return {"tiles": tiles, "unplaced": unplaced, "legend": colour_legend(max_count),
            "total": int(rows["firm_id"].nunique())}


def province_firms(workspace: Workspace, province: str, chain_id: str | None = None) -> list[dict]:
    """Target firms of one province tile: best score and tier, nodes ranked in, city; best first."""
    rows = _target_firms(workspace, chain_id)
    rows = rows[rows["tile"] == province]
    if rows.empty:
        return []
    nodes = _table(workspace, "tech_nodes", ("chain_id", "node_id", "name_zh"))
    rows = rows.merge(nodes, on=["chain_id", "node_id"], how="left")
    best = rows.sort_values(["score", "node_id"], ascending=[False, True]).drop_duplicates("firm_id")
    node_counts = rows.groupby("firm_id")["node_id"].size()
    out = []
    for row in _records(best):
        out.append({"firm_id": row["firm_id"], "name": row["name"] or row["firm_id"], "city": row["city"],
                    "best_score": row["score"], "best_tier": row["tier"], "best_node": row["name_zh"] or row["node_id"],
                    "best_node_href": node_href(row["chain_id"], row["node_id"]),
                    "nodes": int(node_counts[row["firm_id"]]), "href": firm_href(row["firm_id"])})
    return out


# ---------------------------------------------------------------- runs


def run_history(workspace: Workspace) -> list[dict]:
    """The run ledger newest first: when, stage, inputs, counts and what changed since that stage's previous run."""
    previous: dict[str, dict] = {}
    out = []
    for entry in workspace.runs():
        counts = {k: v for k, v in (entry.get("counts") or {}).items()
                  if isinstance(v, int | float | str) and not isinstance(v, bool) and k not in ("run_id", "seconds")}
        numbers = {k: v for k, v in counts.items() if isinstance(v, int | float)}
        before = previous.get(entry.get("stage", ""))
        changes = []
        if before is not None:
            changes = [f"{k} {before[k]:,} → {v:,}" for k, v in numbers.items() if k in before and before[k] != v]
        previous[entry.get("stage", "")] = numbers
        out.append({
            "run_id": entry.get("run_id", ""),
            "stage": entry.get("stage", ""),
            "finished_at": entry.get("finished_at", ""),
            "seconds": entry.get("seconds"),
            "inputs": [Path(p).name for p in entry.get("inputs") or []],
            "counts": counts,
            "changes": changes if before is not None else None,
        })
    return out[::-1]


# ---------------------------------------------------------------- review


def latest_decisions(workspace: Workspace) -> tuple[dict[str, dict], int]:
    """The last decision per applicant in the decisions file, and how many rows it has."""
    path = workspace.decisions_path
    if not path.exists():
        return {}, 0
    latest: dict[str, dict] = {}
    count = 0
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            count += 1
            if row.get("applicant_id"):
                latest[row["applicant_id"]] = row
    return latest, count


def review_items(workspace: Workspace) -> list[dict]:
    """The links waiting for a reviewer (weakest first), each with the decision already taken, if any."""
    from matching import review_queue

    queue = review_queue(workspace)
    decided, _ = latest_decisions(workspace)
    out = []
    for row in _records(queue):
        row["decided"] = decided.get(row["applicant_id"])
        row["href"] = review_href(row["applicant_id"], row["firm_id"])
        out.append(row)
    return out


def review_href(applicant_id: str, firm_id: str | None) -> str:
    return f"/review?applicant={quote(applicant_id, safe='')}&firm={quote(firm_id or '', safe='')}"


def review_detail(workspace: Workspace, applicant_id: str, firm_id: str) -> dict | None:
    """One queued link side by side: the applicant, the proposed firm, the evidence and the other candidates."""
    matches = _table(workspace, "matches")
    link = matches[(matches["applicant_id"] == applicant_id) & (matches["firm_id"] == firm_id)]
    if link.empty:
        return None
    match = _records(link)[0]
    applicants = _table(workspace, "applicants")
    applicant = _records(applicants[applicants["applicant_id"] == applicant_id])
    firms = _table(workspace, "firms")
    firm = _records(firms[firms["firm_id"] == firm_id].drop(columns=["source_file", "source_position"]))
    try:
        evidence = json.loads(match["evidence"])
    except (TypeError, ValueError):
        evidence = {}
    candidates = evidence.get("candidates") if isinstance(evidence, dict) else None
    shown = {k: v for k, v in evidence.items() if k not in ("candidates", "applicant", "firm")} \
        if isinstance(evidence, dict) else {}
    decided, _ = latest_decisions(workspace)
    return {
        "match": match,
        "applicant": applicant[0] if applicant else {"applicant_id": applicant_id, "name": applicant_id},
        "firm": firm[0] if firm else None,
        "evidence_items": evidence_items(json.dumps(shown, ensure_ascii=False)) if shown else [],
        "candidates": [
            {"firm_id": c.get("firm_id"), "name": c.get("name"), "score": c.get("score"),
             "via": c.get("via"), "href": firm_href(c["firm_id"])}
            for c in candidates or [] if isinstance(c, dict) and c.get("firm_id")
        ],
        "decided": decided.get(applicant_id),
    }


def search_firms(workspace: Workspace, text: str, limit: int = 20) -> list[dict]:
    """Firms whose name contains `text` or whose credit code starts with it; operating firms first."""
    needle = (text or "").strip().casefold()
    if not needle:
        return []
    firms = _table(workspace, "firms", ("firm_id", "name", "status", "city"))
    hits = firms[firms["name"].str.casefold().str.contains(needle, regex=False)
                 | firms["firm_id"].str.casefold().str.startswith(needle)]
    hits = hits.assign(_closed=hits["status"] != "operating").sort_values(["_closed", "name"]).head(limit)
    return [{"label": f"{r['name']} · {r['city'] or ''} · {r['status']} · {r['firm_id']}", "value": r["firm_id"]}
            for r in hits.to_dict("records")]
