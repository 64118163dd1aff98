"""What each explorer page shows, computed from the workspace tables.

Pure functions of (workspace, arguments): the Dash callbacks only turn their results into
components, so everything a user sees can be tested here without a browser. Tables are read
once and kept while their Parquet file is unchanged (same mtime and size); a stage that
rewrites a table is picked up on the next request.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from urllib.parse import quote

import pandas as pd

from graph.contracts import APPLICANT_TYPES, SEGMENTS
from graph.workspace import Workspace

SEGMENT_LABELS = {"upstream": "上游 Upstream", "midstream": "中游 Midstream", "downstream": "下游 Downstream"}
# Grey for nodes without target firms, then light → dark blue as the count grows.
NO_TARGETS_COLOUR = "#cbd5e1"
TARGET_COLOURS = ("#bfdbfe", "#60a5fa", "#2563eb", "#1e3a8a")
ACCEPTED_DECISIONS = ("auto", "manual")
RANKED_COLUMNS = (
    "rank", "firm_id", "name", "score", "tier", "province", "city", "size_band", "status",
    "patents_in_node", "inventions_in_node", "granted_in_node", "recent_filings", "forward_citations",
    "node_share", "match_confidence", "explanation",
)  # fmt: skip
MAX_GRAPH_ELEMENTS = 300
FIRM_PATENT_LIMIT = 500

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

    deepest = max(level_of.values())
    while True:
        shown = [row for row in ordered if row["level"] <= deepest]
        edges = _lifted_edges(links, parent_of, level_of, deepest)
        hierarchy = [row for row in shown if row["level"] >= 3 and row["parent_id"] in parent_of]
        if len(shown) + len(edges) + len(hierarchy) <= max_elements or deepest == 1:
            break
        deepest -= 1

    elements = _positioned_nodes(chain_id, shown, counts, max_count)
    for row in hierarchy:
        elements.append(
            {"data": {"id": f"has:{row['node_id']}", "source": row["parent_id"], "target": row["node_id"]},
             "classes": "hierarchy"}
        )
    for source, target in edges:
        elements.append(
            {"data": {"id": f"feeds:{source}->{target}", "source": source, "target": target}, "classes": "supply"}
        )
    return ChainGraph(elements, len(shown), len(ordered), deepest, colour_legend(max_count))


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


def _positioned_nodes(chain_id: str, shown: list[dict], counts: dict[str, int], max_count: int) -> list[dict]:
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
        firms = counts.get(node_id, 0)
        colour = colour_for(firms, max_count)
        data = {
            "id": node_id,
            "label": f"{row['name_zh']}\n{row['name_en']}\n{firms} {'firm' if firms == 1 else 'firms'}",
            "firms": firms,
            "level": level,
            "colour": colour,
            "text_colour": "#ffffff" if colour in TARGET_COLOURS[2:] else "#0f172a",
            "href": node_href(chain_id, node_id),
        }
        if level == 1:
            data["label"] = f"{SEGMENT_LABELS.get(segment, segment)} · {row['name_zh']} {row['name_en']}"
            if firms:
                data["label"] += f" ({firms} firms)"
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
            "href": node_href(chain_id, row["node_id"]),
        }
        for row in ordered
    ]


# ---------------------------------------------------------------- node


def node_summary(workspace: Workspace, chain_id: str, node_id: str) -> dict:
    """Header facts of one node: names, place in the chain, patents by year, applicant mix, firms."""
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

    node_patents = _table(workspace, "node_patents", ("chain_id", "node_id", "publication_number"))
    numbers = node_patents.loc[
        (node_patents["chain_id"] == chain_id) & (node_patents["node_id"] == node_id), "publication_number"
    ].unique()
    scores = _table(workspace, "firm_scores")
    ranked = scores[(scores["chain_id"] == chain_id) & (scores["node_id"] == node_id)]
    firms = _table(workspace, "firms", ("firm_id", "province", "size_band"))
    ranked_firms = firms[firms["firm_id"].isin(ranked["firm_id"])]
    return {
        **node,
        "ancestors": ancestors,
        "children": named(row["node_id"] for row in by_id.values() if row["parent_id"] == node_id),
        "suppliers": named(links.loc[links["to_node"] == node_id, "from_node"]),
        "customers": named(links.loc[links["from_node"] == node_id, "to_node"]),
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
    dated = patents[patents["publication_number"].isin(numbers)]
    when = pd.to_datetime(dated["application_date"]).fillna(pd.to_datetime(dated["publication_date"]))
    years = when.dt.year.dropna().astype(int).value_counts().sort_index()
    return [{"year": int(year), "patents": int(n)} for year, n in years.items()]


def _applicant_mix(workspace: Workspace, numbers) -> list[dict]:
    """Distinct applicants on the node's patents, per applicant type (contract order)."""
    filings = _table(workspace, "filings", ("publication_number", "applicant_id"))
    applicant_ids = filings.loc[filings["publication_number"].isin(numbers), "applicant_id"].unique()
    applicants = _table(workspace, "applicants", ("applicant_id", "applicant_type"))
    types = applicants.loc[applicants["applicant_id"].isin(applicant_ids), "applicant_type"].value_counts()
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
    scores = _table(workspace, "firm_scores")
    ranked = scores[(scores["chain_id"] == chain_id) & (scores["node_id"] == node_id)]
    firms = _table(workspace, "firms", ("firm_id", "name", "province", "city", "size_band", "status"))
    rows = ranked.merge(firms, on="firm_id", how="left")
    rows = rows[_filter_mask(rows, filters)]
    keys, ascending = ["rank"], [True]
    if sort:
        bad = [item.get("colId") for item in sort if item.get("colId") not in RANKED_COLUMNS]
        if bad:
            raise ValueError(f"cannot sort ranked firms by {bad}; sortable: {', '.join(RANKED_COLUMNS)}")
        keys = [item["colId"] for item in sort] + ["rank"]
        ascending = [item.get("sort", "asc") != "desc" for item in sort] + [True]
    rows = rows.sort_values(keys, ascending=ascending, na_position="last", kind="stable")
    page = rows.iloc[max(start, 0) : max(end, start, 0)]
    return RankedPage(_records(page[list(RANKED_COLUMNS)]), int(len(rows)))


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
    """The evidence JSON as readable (key, value) pairs; nested keys joined with dots."""
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
        elif isinstance(value, float):
            items.append((prefix, f"{value:.3g}"))
        elif isinstance(value, list):
            items.append((prefix, ", ".join(str(v) for v in value)))
        else:
            items.append((prefix, str(value)))

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
