"""The tables stages exchange through the workspace: each schema is defined here, once.

Every table is a Parquet file whose metadata records its name and schema version. Writers
conform their data to the schema (and fail naming the column and row when they cannot);
readers refuse a table written under another major version instead of misreading it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

APPLICANT_TYPES = (
    "company",
    "university",
    "research_institute",
    "hospital",
    "individual",
    "government",
    "unknown",
)
FIRM_STATUSES = ("operating", "deregistered", "revoked", "moved_out", "liquidating", "unknown")
MATCH_DECISIONS = ("auto", "review", "manual", "rejected")
# direct: the applicant is the firm; former_name: filed under a name the firm used then;
# subsidiary: attributed to the operating subsidiary of a group / IP-holding applicant;
# legal_representative: an individual applicant tied to the firm they run.
LINK_TYPES = ("direct", "former_name", "subsidiary", "legal_representative")
PATENT_TYPES = ("invention", "utility_model", "design", "unknown")
SEGMENTS = ("upstream", "midstream", "downstream")
TIERS = ("A", "B", "C", "D")

_str = pa.string()
_strs = pa.list_(pa.string())


@dataclass(frozen=True)
class Contract:
    """One workspace table: its schema, version, key and the allowed values of enum columns."""

    name: str
    version: int
    schema: pa.Schema
    key: tuple[str, ...]
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    order: tuple[str, ...] = ()  # rows are stored sorted by these columns (readers may stream in this order)
    # Columns written without Parquet dictionary encoding: values (nearly) all distinct, so the
    # dictionary costs time and size for nothing.
    no_dictionary: frozenset[str] = frozenset()

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.schema if not f.nullable]


def _schema(*fields: tuple) -> pa.Schema:
    out = []
    for spec in fields:
        name, typ = spec[0], spec[1]
        nullable = spec[2] if len(spec) > 2 else True
        out.append(pa.field(name, typ, nullable=nullable))
    return pa.schema(out)


PATENTS = Contract(
    name="patents",
    version=1,
    key=("publication_number",),
    enums={"patent_type": PATENT_TYPES},
    description="One row per patent publication, merged across sources.",
    schema=_schema(
        ("publication_number", _str, False),  # country + number + kind, e.g. CN114123456A
        ("application_number", _str),
        ("kind", _str),  # A, B, U, S, B1, B2, A1 ...
        ("patent_type", _str, False),
        ("title", _str),
        ("abstract", _str),
        ("claims", _str),  # claims text, or the first claim (主权项) when that is all the source has
        ("application_date", pa.date32()),
        ("publication_date", pa.date32()),
        ("grant_date", pa.date32()),  # 授权公告日, when the source gives it
        ("ipc", _strs, False),  # normalised, e.g. "G06N3/08"; first is the main class
        ("cpc", _strs, False),
        ("applicants", _strs, False),  # raw names, in filing order
        ("applicant_addresses", _strs, False),
        ("inventors", _strs, False),
        ("cited_publications", _strs, False),  # normalised publication numbers
        ("claims_count", pa.int32()),
        ("legal_status", _str),
        ("source_file", _str, False),
        ("source_position", pa.int64(), False),  # 1-based data row / XML document number
    ),
    no_dictionary=frozenset({"publication_number", "application_number", "inventors", "source_position"}),
)

FIRMS = Contract(
    name="firms",
    version=1,
    key=("firm_id",),
    enums={"status": FIRM_STATUSES},
    description="The firm register: one row per registered entity.",
    schema=_schema(
        ("firm_id", _str, False),  # unified social credit code (18 chars) or LEI
        ("name", _str, False),
        ("former_names", _strs, False),
        ("english_name", _str),
        ("status", _str, False),
        ("established_date", pa.date32()),
        ("deregistered_date", pa.date32()),
        ("registered_capital", pa.float64()),  # in 10k CNY, as registries print it
        ("country", _str),  # ISO 3166-1 alpha-2; CN for Chinese registries
        ("province", _str),
        ("city", _str),
        ("address", _str),
        ("industry_code", _str),
        ("size_band", _str),  # micro / small / medium / large
        ("employees", pa.int64()),
        ("parent_firm_id", _str),
        ("legal_representative", _str),
        ("successor_firm_id", _str),
        ("source_file", _str, False),
        ("source_position", pa.int64(), False),
    ),
)

APPLICANTS = Contract(
    name="applicants",
    version=1,
    key=("applicant_id",),
    enums={"applicant_type": APPLICANT_TYPES},
    description="Distinct applicants (by normalised name), with the raw spellings seen.",
    schema=_schema(
        ("applicant_id", _str, False),
        ("name", _str, False),  # the most frequent raw spelling
        ("raw_variants", _strs, False),
        ("normalized_name", _str, False),
        ("applicant_type", _str, False),
        ("country", _str),
        ("region", _str),  # province, when an address gives it
        ("city", _str),
        ("patent_count", pa.int64(), False),
    ),
)

FILINGS = Contract(
    name="filings",
    version=1,
    key=("publication_number", "position"),
    description="Applicant filed patent, with the applicant's order on the patent.",
    schema=_schema(
        ("publication_number", _str, False),
        ("position", pa.int32(), False),  # 1 = first applicant
        ("applicant_id", _str, False),
        ("raw_name", _str, False),
        ("address", _str),
    ),
)

MATCHES = Contract(
    name="matches",
    version=1,
    key=("applicant_id", "firm_id", "link_type"),
    enums={"decision": MATCH_DECISIONS, "link_type": LINK_TYPES},
    description="Applicant resolves to firm: one row per candidate link kept, with evidence.",
    schema=_schema(
        ("applicant_id", _str, False),
        ("firm_id", _str),  # null when the applicant resolves to no firm
        ("score", pa.float64(), False),  # calibrated match probability, 0..1
        ("decision", _str, False),
        ("link_type", _str, False),
        ("evidence", _str, False),  # JSON: name variant used, per-feature scores, location, dates
        ("method_version", _str, False),
    ),
)

NAME_PARSES = Contract(
    name="name_parses",
    version=1,
    key=("raw",),
    description="Each firm register entry's and applicant's name parsed (matching.normalize.parse_name), and each "
                "applicant spelling's type, so a refresh parses and classifies only names it has not seen; rows "
                "from other parsing or classifying code are ignored.",
    schema=_schema(
        ("raw", _str, False),
        ("key", _str, False),
        ("core", _str, False),
        ("brand", _str, False),
        ("legal_form", _str, False),
        ("province", _str),
        ("city", _str),
        ("script", _str, False),
        ("branch_of", _str),
        ("parser", _str, False),  # digest of the parsing code the row was made with
        ("applicant_type", _str),  # an applicant spelling's classify_applicant type; none for register entries
        ("classifier", _str),  # digest of the classifying code the type was made with
    ),
    no_dictionary=frozenset({"raw", "key", "core", "brand"}),
)

TECH_NODES = Contract(
    name="tech_nodes",
    version=1,
    key=("chain_id", "node_id"),
    enums={"segment": SEGMENTS},
    description="Chain nodes from the chain YAML files (the tree, flattened).",
    schema=_schema(
        ("chain_id", _str, False),
        ("chain_name_zh", _str, False),
        ("chain_name_en", _str, False),
        ("node_id", _str, False),  # unique within its chain
        ("parent_id", _str),
        ("name_zh", _str, False),
        ("name_en", _str, False),
        ("level", pa.int32(), False),  # 1 = segment
        ("segment", _str, False),
        ("expression", _str),
        ("weight", pa.float64(), False),  # chain-position weight (bottleneck nodes > 1)
    ),
)

SUPPLY_LINKS = Contract(
    name="supply_links",
    version=1,
    key=("chain_id", "from_node", "to_node"),
    description="Node feeds node (upstream to downstream) within a chain.",
    schema=_schema(
        ("chain_id", _str, False),
        ("from_node", _str, False),
        ("to_node", _str, False),
    ),
)

NODE_PATENTS = Contract(
    name="node_patents",
    version=1,
    key=("chain_id", "node_id", "publication_number"),
    description="Patent in node, with the clause of the node's expression that matched.",
    schema=_schema(
        ("chain_id", _str, False),
        ("node_id", _str, False),
        ("publication_number", _str, False),
        ("matched_rule", _str, False),
    ),
)

FIRM_SCORES = Contract(
    name="firm_scores",
    version=2,
    key=("chain_id", "node_id", "firm_id"),
    enums={"tier": TIERS},
    description="Firm ranked in node: score, rank, the dimensions and features behind it and spoken reasons.",
    order=("chain_id", "node_id", "rank"),  # node by node, best first: exports stream it
    schema=_schema(
        ("chain_id", _str, False),
        ("node_id", _str, False),
        ("firm_id", _str, False),
        ("score", pa.float64(), False),  # 0..100, the weighted dimension percentiles
        ("rank", pa.int32(), False),  # 1 = best in the node
        ("tier", _str, False),
        ("dim_strength", pa.float64()),  # dimension percentiles within the node, 0..100
        ("dim_quality", pa.float64()),
        ("dim_growth", pa.float64()),
        ("dim_chain_position", pa.float64()),
        ("dim_soundness", pa.float64()),
        ("patents_in_node", pa.int64(), False),
        ("inventions_in_node", pa.int64(), False),
        ("granted_in_node", pa.int64(), False),
        ("recent_filings", pa.int64(), False),
        ("recent_grants", pa.int64()),
        ("forward_citations", pa.int64(), False),
        ("pagerank", pa.float64()),  # citation PageRank of the firm's node patents, summed (1 = average patent)
        ("node_share", pa.float64(), False),
        ("nodes_in_chain", pa.int64()),  # nodes of the chain the firm holds patents in
        ("match_confidence", pa.float64(), False),  # weakest accepted link behind these patents
        ("top_patents", _strs),  # publication numbers, strongest first
        ("reasons", _strs),  # short sentences: top dimensions, strongest patents, the match evidence
        ("explanation", _str, False),  # the reasons as one text
    ),
)

EXCLUSION_RULES = ("status", "firm_type", "size_band", "min_confidence", "min_patents")

FIRM_EXCLUSIONS = Contract(
    name="firm_exclusions",
    version=1,
    key=("chain_id", "node_id", "firm_id", "rule"),
    enums={"rule": EXCLUSION_RULES},
    description="Firm holding patents in a node but not ranked there: one row per eligibility rule it fails.",
    schema=_schema(
        ("chain_id", _str, False),
        ("node_id", _str, False),
        ("firm_id", _str, False),
        ("rule", _str, False),
        ("detail", _str, False),  # e.g. "status is deregistered; targets must be operating"
    ),
)

QUARANTINE = Contract(
    name="quarantine",
    version=1,
    key=("stage", "source_file", "position", "field"),
    description="Records a stage could not accept, and why. Nothing is dropped silently.",
    schema=_schema(
        ("stage", _str, False),
        ("source_file", _str, False),
        ("position", pa.int64(), False),
        ("field", _str, False),
        ("reason", _str, False),
        ("raw", _str),  # the offending record, as text, truncated
    ),
)

CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (
        PATENTS,
        FIRMS,
        APPLICANTS,
        FILINGS,
        MATCHES,
        NAME_PARSES,
        TECH_NODES,
        SUPPLY_LINKS,
        NODE_PATENTS,
        FIRM_SCORES,
        FIRM_EXCLUSIONS,
        QUARANTINE,
    )
}
