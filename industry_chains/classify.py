"""Classify patents into chain nodes: every node whose expression a patent satisfies.

Work is done per clause, not per patent: code clauses are two binary searches into the sorted
distinct codes plus a slice of the (code-sorted) exploded code list; keyword clauses are one
vectorised Arrow scan of a normalised text column. Clause results are boolean arrays over all
patents, cached and combined along each expression tree with array algebra.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.contracts import APPLICANT_TYPES, NODE_PATENTS
from graph.progress import track
from graph.workspace import Quarantine, Workspace
from industry_chains.chains import SHIPPED_CHAINS, Chain, ChainNode, load_chains
from industry_chains.expression import And, CodeClause, Expression, KeywordClause, Node, Not, Or, code_key
from industry_chains.keywords import Keyword, find_keywords

STAGE = "classify"
_ACCEPTED_DECISIONS = ("auto", "manual")


@dataclass
class NodeCount:
    chain_id: str
    node_id: str
    name_en: str
    level: int
    patent_count: int | None  # patents matching the node's own expression (None: it has none)
    subtree_count: int  # distinct patents in the node or any node below it
    applicant_type_share: dict[str, float] | None  # by first applicant; None without applicants/filings
    operating_firm_share: float | None  # share resolved to an operating firm; None without matches/firms


@dataclass
class ClassifyReport:
    run_id: str
    patents_read: int
    node_patent_rows: int
    classified_by_chain: dict[str, int]  # patents in at least one node of the chain
    nodes: list[NodeCount]
    quarantined: int  # unreadable classification codes, one quarantine row each
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """What the run ledger records (graph.pipeline calls this)."""
        return {"patents_read": self.patents_read, "node_patents": self.node_patent_rows,
                "quarantined": self.quarantined,
                **{f"classified_{chain}": count for chain, count in self.classified_by_chain.items()}}

    def coverage(self, chain_id: str) -> float:
        return self.classified_by_chain[chain_id] / self.patents_read if self.patents_read else 0.0

    def node_table(self) -> pd.DataFrame:
        """The per-node report as a table: counts, first-applicant type shares, operating-firm share."""
        types = [t for t in APPLICANT_TYPES if any((n.applicant_type_share or {}).get(t) for n in self.nodes)]

        def shares(n: NodeCount) -> dict:  # over the node's own patents: none when it has none
            known = bool(n.patent_count) and n.applicant_type_share is not None
            return {**{f"share_{t}": n.applicant_type_share.get(t, 0.0) if known else None for t in types},
                    "share_operating_firm": n.operating_firm_share if known else None}

        return pd.DataFrame([
            {"chain_id": n.chain_id, "node_id": n.node_id, "name_en": n.name_en, "level": n.level,
             "patents": n.patent_count, "patents_with_sub_nodes": n.subtree_count, **shares(n)}
            for n in self.nodes
        ])


class _CodeIndex:
    """One classification scheme's codes, sorted by key, with the patents holding each."""

    def __init__(self, lists: pa.ChunkedArray | pa.Array):
        lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
        flat = pc.list_flatten(lists)
        parents = pc.list_parent_indices(lists).to_numpy()
        encoded = pc.dictionary_encode(flat)
        distinct = encoded.dictionary.to_pylist()
        keys = [code_key(code) for code in distinct]
        self.unreadable = {code for code, key in zip(distinct, keys, strict=True) if key is None}
        readable = np.array([key for key in keys if key is not None], dtype=str)
        order = np.argsort(readable, kind="stable")
        self.sorted_keys = readable[order]
        # rank of each distinct code in key order; unreadable codes and nulls rank after all
        rank = np.full(len(distinct) + 1, len(readable), dtype=np.int64)
        readable_at = np.flatnonzero([key is not None for key in keys])
        rank[readable_at[order]] = np.arange(len(readable))
        indices = encoded.indices.fill_null(len(distinct)).to_numpy()
        code_rank = rank[indices]
        by_rank = np.argsort(code_rank, kind="stable")
        self.sorted_rank = code_rank[by_rank]
        self.sorted_parent = parents[by_rank]
        self._flat_codes = flat
        self._parents = parents

    def patents(self, low: str, high: str) -> np.ndarray:
        """Row numbers (with repeats) of patents holding a code with key in [low, high]."""
        first = np.searchsorted(self.sorted_keys, low, side="left")
        last = np.searchsorted(self.sorted_keys, high, side="right")
        start = np.searchsorted(self.sorted_rank, first, side="left")
        stop = np.searchsorted(self.sorted_rank, last, side="left")
        return self.sorted_parent[start:stop]

    def unreadable_rows(self) -> dict[int, list[str]]:
        """Unreadable codes by patent row (one quarantine record per patent and scheme)."""
        if not self.unreadable:
            return {}
        bad = pc.is_in(self._flat_codes, value_set=pa.array(sorted(self.unreadable))).to_numpy(zero_copy_only=False)
        by_row: dict[int, list[str]] = {}
        for row, code in zip(self._parents[bad].tolist(), self._flat_codes.filter(pa.array(bad)).to_pylist(),
                             strict=True):
            by_row.setdefault(row, []).append(code)
        return by_row


class PatentMatcher:
    """Evaluates expressions against a patents table; clause results are cached across nodes."""

    def __init__(self, patents: pa.Table, expressions: list[Expression]):
        self.size = patents.num_rows
        self.codes = {scheme: _CodeIndex(patents.column(scheme)) for scheme in ("ipc", "cpc")}
        self._text_source = {name: patents.column(name) for name in ("title", "abstract", "claims")
                             if name in patents.column_names}
        self._keywords: dict[str, set[Keyword]] = {}
        for expression in expressions:
            for clause in expression.clauses():
                if isinstance(clause, KeywordClause):
                    for name in clause.fields:
                        self._keywords.setdefault(name, set()).add(_keyword(clause))
        self._found: dict[str, dict[Keyword, np.ndarray]] = {}
        self._cache: dict[tuple, np.ndarray] = {}
        self.missing_fields: set[str] = set()

    def evaluate(self, node: Node) -> np.ndarray:
        if isinstance(node, CodeClause | KeywordClause):
            return self._clause(node)
        if isinstance(node, Not):
            return ~self.evaluate(node.child)
        parts = [self.evaluate(child) for child in node.children]
        combine = np.logical_and if isinstance(node, And) else np.logical_or
        return combine.reduce(parts)

    def _clause(self, clause: CodeClause | KeywordClause) -> np.ndarray:
        key = _clause_key(clause)
        if key not in self._cache:
            mask = np.zeros(self.size, dtype=bool)
            if isinstance(clause, CodeClause):
                for scheme in ("ipc", "cpc") if clause.scheme == "cls" else (clause.scheme,):
                    mask[self.codes[scheme].patents(clause.low, clause.high)] = True
            else:
                for name in clause.fields:
                    mask[self._rows_with(name, _keyword(clause))] = True
            self._cache[key] = mask
        return self._cache[key]

    def _rows_with(self, name: str, keyword: Keyword) -> np.ndarray:
        source = self._text_source.get(name)
        if source is None or source.null_count == len(source):
            self.missing_fields.add(name)
            return np.empty(0, np.int64)
        if name not in self._found:
            texts = pc.utf8_lower(pc.utf8_normalize(self._text_source[name], "NFKC"))
            self._found[name] = find_keywords(texts, sorted(self._keywords[name], key=lambda k: k.pattern))
        return self._found[name][keyword]

    def matched_rules(self, expression: Expression, rows: np.ndarray) -> pa.DictionaryArray:
        """For each row, the positive clauses that made the expression true ("; "-joined)."""
        leaves = expression.clauses()
        column_of = {id(clause): index for index, clause in enumerate(leaves)}
        witness = self._witness(expression.root, rows, column_of, len(leaves))
        packed = np.packbits(witness, axis=1)
        if packed.shape[1] <= 8:  # one integer per row: a fast 1-D unique
            padded = np.zeros((len(rows), 8), dtype=np.uint8)
            padded[:, : packed.shape[1]] = packed
            distinct_codes, inverse = np.unique(padded.view(np.uint64).ravel(), return_inverse=True)
            distinct = distinct_codes.view(np.uint8).reshape(-1, 8)[:, : packed.shape[1]]
        else:
            distinct, inverse = np.unique(packed, axis=0, return_inverse=True)
        labels = []
        for bits in np.unpackbits(distinct, axis=1, count=len(leaves)).astype(bool):
            names = list(dict.fromkeys(leaves[i].text for i in np.flatnonzero(bits)))
            labels.append("; ".join(names) if names else " ".join(expression.text.split()))
        return pa.DictionaryArray.from_arrays(pa.array(inverse.reshape(-1), pa.int32()), pa.array(labels, pa.string()))

    def _witness(self, node: Node, rows: np.ndarray, column_of: dict[int, int], width: int) -> np.ndarray:
        """Boolean (rows × clauses): clauses that contribute to `node` being true at each row."""
        if isinstance(node, CodeClause | KeywordClause):
            out = np.zeros((len(rows), width), dtype=bool)
            out[:, column_of[id(node)]] = self._clause(node)[rows]
            return out
        if isinstance(node, Not):
            return np.zeros((len(rows), width), dtype=bool)
        out = np.zeros((len(rows), width), dtype=bool)
        for child in node.children:
            part = self._witness(child, rows, column_of, width)
            if isinstance(node, Or):
                part &= self.evaluate(child)[rows][:, None]
            out |= part
        return out


def _keyword(clause: KeywordClause) -> Keyword:
    pattern, is_regex = clause.pattern()
    return Keyword(pattern, is_regex, clause.phrase)


def _clause_key(clause: CodeClause | KeywordClause) -> tuple:
    if isinstance(clause, CodeClause):
        return ("code", clause.scheme, clause.low, clause.high)
    return ("text", clause.fields, *clause.pattern())


def classify_table(
    patents: pa.Table, chains: list[Chain]
) -> tuple[pa.Table, dict[tuple[str, str], np.ndarray], PatentMatcher]:
    """node_patents rows for `patents` (publication_number, title, abstract, claims if any, ipc, cpc), plus node masks."""
    matcher = PatentMatcher(patents, [n.expression for c in chains for n in c.nodes if n.expression])
    publication = patents.column("publication_number")
    pieces: list[pa.Table] = []
    masks: dict[tuple[str, str], np.ndarray] = {}
    work = [(chain, node) for chain in chains for node in chain.nodes if node.expression is not None]
    for chain, node in track(work, "classifying", total=len(work)):
        mask = matcher.evaluate(node.expression.root)
        masks[(chain.id, node.id)] = mask
        rows = np.flatnonzero(mask)
        if not len(rows):
            continue
        zeros = pa.array(np.zeros(len(rows), dtype=np.int32))
        pieces.append(pa.table({
            "chain_id": pa.DictionaryArray.from_arrays(zeros, pa.array([chain.id])),
            "node_id": pa.DictionaryArray.from_arrays(zeros, pa.array([node.id])),
            "publication_number": publication.take(pa.array(rows)),
            "matched_rule": matcher.matched_rules(node.expression, rows),
        }))
    if pieces:
        table = pa.concat_tables([piece.cast(NODE_PATENTS.schema.remove_metadata()) for piece in pieces])
    else:
        table = NODE_PATENTS.schema.empty_table()
    return table, masks, matcher


def run_classify(workspace: Workspace, run_id: str, chains_dir: Path | None = None) -> ClassifyReport:
    """Read `patents`; write `tech_nodes`, `supply_links` and `node_patents`; return what was found."""
    started = time.perf_counter()
    chains = load_chains(chains_dir)
    patents = workspace.read("patents", columns=_patent_columns(chains))
    _require_unique(patents)
    workspace.write("tech_nodes", _tech_nodes(chains), run_id)
    workspace.write("supply_links", _supply_links(chains), run_id)

    node_patents, masks, matcher = classify_table(patents, chains)
    written = workspace.write("node_patents", node_patents, run_id)

    quarantine = _unreadable_codes(matcher, patents)
    quarantine.save(workspace, run_id)

    warnings = []
    # a keyword clause can match nothing when none of its fields has text (tiab: still has titles without abstracts)
    dead = [(f"{chain.id}:{node.id}", fields) for chain in chains for node in chain.nodes if node.expression
            for clause in node.expression.clauses()
            if (fields := set(getattr(clause, "fields", ()))) and fields <= matcher.missing_fields]
    if dead:
        empty = sorted(set().union(*(fields for _, fields in dead)))
        warnings.append(f"the patents table has no {', '.join(empty)} text, so those keyword clauses matched nothing"
                        f" (in {', '.join(sorted({node for node, _ in dead}))})")
    nodes = _node_counts(workspace, chains, masks, patents, written)
    classified = {}
    for chain in chains:
        chain_masks = [mask for (chain_id, _), mask in masks.items() if chain_id == chain.id]
        classified[chain.id] = int(np.logical_or.reduce(chain_masks).sum()) if chain_masks else 0
    report = ClassifyReport(
        run_id=run_id,
        patents_read=patents.num_rows,
        node_patent_rows=written.num_rows,
        classified_by_chain=classified,
        nodes=nodes,
        quarantined=len(quarantine),
        seconds=time.perf_counter() - started,
        warnings=warnings,
    )
    return report


def _patent_columns(chains: list[Chain]) -> list[str]:
    """The `patents` columns classification reads; the long claims text only when a `cl:` clause needs it."""
    columns = ["publication_number", "title", "abstract", "ipc", "cpc", "source_file", "source_position"]
    uses_claims = any("claims" in getattr(clause, "fields", ()) for chain in chains for node in chain.nodes
                      if node.expression for clause in node.expression.clauses())
    return [*columns, "claims"] if uses_claims else columns


def _unreadable_codes(matcher: PatentMatcher, patents: pa.Table) -> Quarantine:
    """One quarantine row per patent with classification codes no code clause can match."""
    quarantine = Quarantine(STAGE)
    for scheme, index in matcher.codes.items():
        for row, codes in index.unreadable_rows().items():
            listed = ", ".join(repr(code) for code in codes)
            quarantine.add(patents.column("source_file")[row].as_py(), patents.column("source_position")[row].as_py(),
                           scheme, f"unreadable {scheme.upper()} code {listed}: it cannot match any code clause",
                           f"{patents.column('publication_number')[row].as_py()}: {'; '.join(codes)}")
    return quarantine


def _quarantined_patent(row: dict) -> str:
    """The publication number of a row `_unreadable_codes` wrote (its record starts with it)."""
    return str(row["raw"]).split(": ", 1)[0]


def _require_unique(patents: pa.Table) -> None:
    numbers = patents.column("publication_number")
    if pc.count_distinct(numbers).as_py() != len(numbers):
        counts = pc.value_counts(numbers)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        row = pc.index(numbers, repeated).as_py()
        raise ValueError(f"table 'patents': publication_number {repeated!r} appears more than once (first at row"
                         f" {row}); ingest must merge duplicates before classification")


def _tech_nodes(chains: list[Chain]) -> pd.DataFrame:
    rows = [
        {"chain_id": chain.id, "chain_name_zh": chain.name_zh, "chain_name_en": chain.name_en, "node_id": node.id,
         "parent_id": node.parent_id, "name_zh": node.name_zh, "name_en": node.name_en, "level": node.level,
         "segment": node.segment, "expression": " ".join(node.expression.text.split()) if node.expression else None,
         "weight": node.weight}
        for chain in chains for node in chain.nodes
    ]
    return pd.DataFrame(rows)


def _supply_links(chains: list[Chain]) -> pd.DataFrame:
    rows = [{"chain_id": chain.id, "from_node": a, "to_node": b} for chain in chains for a, b in chain.supply_links]
    return pd.DataFrame(rows, columns=["chain_id", "from_node", "to_node"])


def _node_counts(workspace: Workspace, chains: list[Chain], masks: dict, patents: pa.Table,
                 node_patents: pa.Table, shares: bool = True) -> list[NodeCount]:
    """Per node: patent counts, and (`shares`) applicant-type and operating-firm shares."""
    type_share, operating_share = _applicant_shares(workspace, patents, node_patents) if shares else (None, None)
    counts: list[NodeCount] = []
    for chain in chains:
        subtree: dict[str, np.ndarray] = {}
        children: dict[str, list[ChainNode]] = {}
        for node in chain.nodes:
            children.setdefault(node.parent_id, []).append(node)
        for node in reversed(chain.nodes):  # children before parents
            own = masks.get((chain.id, node.id))
            parts = [subtree.pop(child.id) for child in children.get(node.id, [])]
            if own is not None:
                parts.append(own)
            subtree[node.id] = np.logical_or.reduce(parts) if parts else np.zeros(patents.num_rows, dtype=bool)
            key = (chain.id, node.id)
            counts.append(NodeCount(
                chain_id=chain.id, node_id=node.id, name_en=node.name_en, level=node.level,
                patent_count=int(own.sum()) if own is not None else None,
                subtree_count=int(subtree[node.id].sum()),
                applicant_type_share=type_share.get(key, {}) if type_share is not None else None,
                operating_firm_share=operating_share.get(key, 0.0) if operating_share is not None else None,
            ))
    order = {(chain.id, node.id): i for chain in chains for i, node in enumerate(chain.nodes)}
    return sorted(counts, key=lambda count: (count.chain_id, order[(count.chain_id, count.node_id)]))


def _applicant_shares(workspace: Workspace, patents: pa.Table, node_patents: pa.Table):
    """Per (chain, node): first-applicant type shares, and the share of patents held by an operating firm."""
    if not (workspace.has("filings") and workspace.has("applicants")):
        return None, None
    members = node_patents.select(["chain_id", "node_id", "publication_number"]).to_pandas()
    filings = workspace.read_df("filings", columns=["publication_number", "position", "applicant_id"])
    applicants = workspace.read_df("applicants", columns=["applicant_id", "applicant_type"])
    first = filings[filings["position"] == 1].merge(applicants, on="applicant_id", how="left")
    typed = members.merge(first[["publication_number", "applicant_type"]], on="publication_number", how="left")
    typed["applicant_type"] = typed["applicant_type"].fillna("unknown")
    shares = typed.groupby(["chain_id", "node_id"])["applicant_type"].value_counts(normalize=True)
    type_share: dict[tuple[str, str], dict[str, float]] = {}
    for (chain_id, node_id, kind), share in shares.items():
        type_share.setdefault((chain_id, node_id), {})[kind] = float(share)

    if not (workspace.has("matches") and workspace.has("firms")):
        return type_share, None
    matches = workspace.read_df("matches", columns=["applicant_id", "firm_id", "decision"])
    firms = workspace.read_df("firms", columns=["firm_id", "status"])
    accepted = matches[matches["decision"].isin(_ACCEPTED_DECISIONS) & matches["firm_id"].notna()]
    operating = accepted.merge(firms[firms["status"] == "operating"], on="firm_id")["applicant_id"]
    held = set(filings.loc[filings["applicant_id"].isin(set(operating)), "publication_number"])
    members["operating"] = members["publication_number"].isin(held)
    operating_share = members.groupby(["chain_id", "node_id"])["operating"].mean()
    return type_share, {key: float(value) for key, value in operating_share.items()}


def chains_digest(chains_dir: Path | None = None) -> str:
    """SHA-256 over the chain YAML files a classification reads: a changed file means reclassify all."""
    directory = Path(chains_dir) if chains_dir is not None else SHIPPED_CHAINS
    digest = hashlib.sha256()
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def classify_changed(workspace: Workspace, run_id: str, changed: set[str], chains_dir: Path | None = None
                     ) -> ClassifyReport:
    """Reclassify only the patents in `changed` (new or edited) and splice them into `node_patents`.

    The chain files must be the ones the existing `node_patents` was made with (the caller checks
    `chains_digest`). Rows come out in the order a full `run_classify` writes them (chain and node
    order, then patents-table order), so the table equals a full run's.
    """
    started = time.perf_counter()
    chains = load_chains(chains_dir)
    wanted = pa.array(sorted(changed), type=pa.string())
    numbers, patents = _read_changed(workspace, wanted, _patent_columns(chains))
    _require_unique(patents)
    fresh, _, matcher = classify_table(patents, chains)

    schema = NODE_PATENTS.schema.remove_metadata()
    kept = workspace.read("node_patents")
    kept = kept.filter(pc.invert(pc.is_in(kept.column("publication_number"), value_set=wanted)))
    combined = pa.concat_tables([kept.select(schema.names).cast(schema), fresh.cast(schema)]).combine_chunks()
    # the full run's order: node by node in chain order, then the patents table's row order
    node_order = {(chain.id, node.id): i for i, (chain, node) in
                  enumerate((c, n) for c in chains for n in c.nodes if n.expression is not None)}
    node_rank = _node_rank(combined, list(node_order))
    patent_rank = pc.index_in(combined.column("publication_number"), value_set=numbers).to_numpy(zero_copy_only=False)
    order = np.lexsort((patent_rank, node_rank))
    written = workspace.write("node_patents", combined.take(pa.array(order)), run_id)

    quarantine = _unreadable_codes(matcher, patents)
    quarantined = len(quarantine)
    quarantine.carry_over(workspace, lambda row: _quarantined_patent(row) not in changed)
    quarantine.save(workspace, run_id)

    node_rank, patent_rank = node_rank[order], patent_rank[order]
    bounds = np.searchsorted(node_rank, np.arange(len(node_order) + 1))
    masks = {}
    for key, i in node_order.items():
        masks[key] = np.zeros(len(numbers), dtype=bool)
        masks[key][patent_rank[bounds[i]:bounds[i + 1]]] = True
    everything = pa.table({"publication_number": numbers})
    classified = {chain.id: int(np.logical_or.reduce([m for (c, _), m in masks.items() if c == chain.id]).sum())
                  if any(c == chain.id for c, _ in masks) else 0 for chain in chains}
    return ClassifyReport(
        run_id=run_id,
        patents_read=patents.num_rows,
        node_patent_rows=written.num_rows,
        classified_by_chain=classified,
        # the shares need every filing and match: left to the full run (they are None here)
        nodes=_node_counts(workspace, chains, masks, everything, written, shares=False),
        quarantined=quarantined,
        seconds=time.perf_counter() - started,
    )


def _read_changed(workspace: Workspace, wanted: pa.Array, columns: list[str]) -> tuple[pa.Array, pa.Table]:
    """Every publication number in table order, and `columns` of the patents in `wanted`.

    Only the row groups holding a wanted patent are read (new and merged patents sit at the end of
    the table): at 1M patents a refresh's 1 % is one or two of about 80 row groups.
    """
    with open(workspace.table_path("patents"), "rb") as handle:  # one open file: numbers and rows agree
        parquet = workspace._checked("patents", handle)
        numbers = parquet.read(columns=["publication_number"]).column("publication_number").combine_chunks()
        rows = np.flatnonzero(pc.is_in(numbers, value_set=wanted).to_numpy(zero_copy_only=False))
        starts = np.cumsum([0] + [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)])
        groups = np.unique(np.searchsorted(starts, rows, side="right") - 1).tolist()
        read = parquet.read_row_groups(groups, columns=columns)
    return numbers, read.filter(pc.is_in(read.column("publication_number"), value_set=wanted))


def _node_rank(node_patents: pa.Table, node_keys: list[tuple[str, str]]) -> np.ndarray:
    """Each row's position of its (chain_id, node_id) in `node_keys`."""
    def joined(chain_ids, node_ids):
        return pc.binary_join_element_wise(chain_ids, node_ids, "\x1f")

    rank = pc.index_in(joined(node_patents.column("chain_id"), node_patents.column("node_id")),
                       value_set=joined(pa.array([c for c, _ in node_keys]), pa.array([n for _, n in node_keys])))
    if rank.null_count:
        row = pc.index(pc.is_null(rank), True).as_py()
        raise ValueError(f"table 'node_patents': row {row} is in node {node_patents.column('chain_id')[row]}:"
                         f"{node_patents.column('node_id')[row]}, which the chain files do not define;"
                         " run the full classify")
    return rank.to_numpy(zero_copy_only=False).astype(np.int64)
