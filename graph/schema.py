"""The property graph, as data: node labels, relationship types, their keys and properties.

Both backends (LadybugDB, Neo4j) and the neo4j-admin CSV export are generated from these
definitions, so a label or property exists under the same name and type everywhere.

Direction conventions: the tree is stored child to parent (`CHILD_OF`, from the node row's
`parent_id`); supply runs upstream to downstream (`SUPPLIES`); a firm's ownership runs
subsidiary to parent (`SUBSIDIARY_OF`).

Summaries: `ACTIVE_IN`, `ACTIVE_IN_CHAIN` and the count properties of TechNode and Patent are
derived by the load from the same tables (graph.transform), so that chain- and node-wide
questions read a few pre-aggregated edges instead of walking every Firm <- Applicant -> Patent
-> TechNode path. "Accepted link" means a RESOLVES_TO with decision auto or manual.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# Portable property types: each maps to one LadybugDB type, one arrow type and one
# neo4j-admin import type.
PROPERTY_TYPES: dict[str, tuple[str, pa.DataType, str]] = {
    "string": ("STRING", pa.string(), "string"),
    "int": ("INT64", pa.int64(), "long"),
    "float": ("DOUBLE", pa.float64(), "double"),
    "date": ("DATE", pa.date32(), "date"),
    "string[]": ("STRING[]", pa.list_(pa.string()), "string[]"),
    "bool": ("BOOLEAN", pa.bool_(), "boolean"),
}


@dataclass(frozen=True)
class Prop:
    name: str
    type: str = "string"

    def __post_init__(self) -> None:
        if self.type not in PROPERTY_TYPES:
            raise ValueError(f"property {self.name!r}: unknown type {self.type!r}")

    @property
    def ladybug_type(self) -> str:
        return PROPERTY_TYPES[self.type][0]

    @property
    def arrow_type(self) -> pa.DataType:
        return PROPERTY_TYPES[self.type][1]

    @property
    def admin_import_type(self) -> str:
        return PROPERTY_TYPES[self.type][2]


@dataclass(frozen=True)
class NodeType:
    label: str
    key: str  # unique, string-valued; the first property
    props: tuple[Prop, ...]
    description: str

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(p.name, p.arrow_type) for p in self.props])


@dataclass(frozen=True)
class RelType:
    type: str
    start: str  # node label
    end: str
    props: tuple[Prop, ...]
    description: str
    # Properties that, with the two endpoints, identify one relationship (MERGE on them).
    identity: tuple[str, ...] = ()

    def arrow_schema(self) -> pa.Schema:
        """Staging layout: start key, end key, then the properties (the order COPY expects)."""
        ends = [pa.field("from", pa.string()), pa.field("to", pa.string())]
        return pa.schema(ends + [pa.field(p.name, p.arrow_type) for p in self.props])


def _props(*specs: str) -> tuple[Prop, ...]:
    """`"name"` is a string property; `"name:type"` names its type."""
    out = []
    for spec in specs:
        name, _, typ = spec.partition(":")
        out.append(Prop(name, typ or "string"))
    return tuple(out)


NODE_TYPES: tuple[NodeType, ...] = (
    NodeType(
        "Chain", "chain_id", _props("chain_id", "name_zh", "name_en"),
        "An industry chain (AI, biomedicine, ...).",
    ),
    NodeType(
        "TechNode", "key",
        _props("key", "chain_id", "node_id", "name_zh", "name_en", "level:int", "segment", "weight:float",
               "expression", "patent_count:int", "firm_count:int", "unresolved_count:int"),
        "A technology node of a chain; key = chain_id + '/' + node_id. patent_count: its patents;"
        " firm_count: firms ACTIVE_IN it; unresolved_count: its patents no accepted link attributes to a firm.",
    ),
    NodeType(
        "Patent", "publication_number",
        _props("publication_number", "application_number", "kind", "patent_type", "title",
               "application_date:date", "publication_date:date", "grant_date:date", "year:int", "main_ipc",
               "ipc:string[]", "cpc:string[]", "claims_count:int", "legal_status", "forward_citations:int",
               "resolved:bool"),
        "A patent publication; year = application year (publication year when the filing date is unknown);"
        " forward_citations: CITES received; resolved: an applicant has an accepted link to a firm.",
    ),
    NodeType(
        "Applicant", "applicant_id",
        _props("applicant_id", "name", "normalized_name", "applicant_type", "country", "region", "city",
               "patent_count:int"),
        "A distinct patent applicant (company, university, person, ...).",
    ),
    NodeType(
        "Firm", "firm_id",
        _props("firm_id", "name", "former_names:string[]", "english_name", "status", "established_date:date",
               "deregistered_date:date", "registered_capital:float", "province", "city", "industry_code",
               "size_band", "employees:int", "legal_representative", "successor_firm_id"),
        "A registered entity from the firm register.",
    ),
    NodeType(
        "Region", "key", _props("key", "province", "city"),
        "Where firms are registered; key = province, or province + '/' + city when the city is known.",
    ),
)

REL_TYPES: tuple[RelType, ...] = (
    RelType("HAS_NODE", "Chain", "TechNode", (), "The chain contains the node (every level)."),
    RelType("CHILD_OF", "TechNode", "TechNode", (), "The node sits under its parent node."),
    RelType("SUPPLIES", "TechNode", "TechNode", (), "The node feeds the other (upstream to downstream)."),
    RelType("IN_NODE", "Patent", "TechNode", _props("rule"), "The patent matched the node's expression clause."),
    RelType("CITES", "Patent", "Patent", (), "The patent cites the other (both in the patents table)."),
    RelType("FILED", "Applicant", "Patent", _props("position:int", "raw_name"),
            "The applicant filed the patent; position 1 = first applicant."),
    RelType("RESOLVES_TO", "Applicant", "Firm",
            _props("score:float", "decision", "link_type", "evidence", "method_version"),
            "The applicant is attributed to the firm (rejected candidates are not loaded).",
            identity=("link_type",)),
    RelType("SUBSIDIARY_OF", "Firm", "Firm", (), "The firm is a subsidiary of the other."),
    RelType("LOCATED_IN", "Firm", "Region", (), "The firm is registered in the region."),
    RelType("RANKED_IN", "Firm", "TechNode",
            _props("score:float", "rank:int", "tier", "explanation", "top_patents:string[]",
                   "dim_strength:float", "dim_quality:float", "dim_growth:float", "dim_chain_position:float",
                   "dim_soundness:float", "patents_in_node:int", "inventions_in_node:int", "granted_in_node:int",
                   "recent_filings:int", "recent_grants:int", "forward_citations:int", "pagerank:float",
                   "node_share:float", "nodes_in_chain:int", "match_confidence:float"),
            "The firm's ranking in the node (from firm_scores; `explanation` is its reasons joined, the list"
            " itself stays in the table: it would double the relationship's text)."),
    RelType("ACTIVE_IN", "Firm", "TechNode",
            _props("patents:int", "inventions:int", "granted:int", "first_year:int", "last_year:int"),
            "Summary: the node's patents reaching the firm through accepted links (FILED + RESOLVES_TO);"
            " one per firm and node with at least one."),
    RelType("ACTIVE_IN_CHAIN", "Firm", "Chain", _props("patents:int", "node_count:int", "nodes:string[]"),
            "Summary: the firm's distinct patents in the chain's nodes through accepted links, and the keys of"
            " those nodes (it is ACTIVE_IN each)."),
)

NODES: dict[str, NodeType] = {n.label: n for n in NODE_TYPES}
RELS: dict[str, RelType] = {r.type: r for r in REL_TYPES}
