"""What the scorecard measures: per-patent facts, citation PageRank, per firm-node features, eligibility.

A firm's patents in a node are the node's patents filed by applicants that resolve to it through
an accepted link (decision auto or manual). "Recent" is relative to the newest application year
in the data, not today's date, so reruns over the same inputs agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from graph.ranking.scorecard import Scorecard
from graph.workspace import Workspace

ACCEPTED_DECISIONS = ("auto", "manual")
GRANTED_KINDS = ("B", "B1", "B2", "C", "U", "S", "Y")  # CN B/C grants, U/Y utility, S design; US B1/B2
# Legal statuses (CN and English exports) meaning the right no longer stands or never will.
LAPSED_STATUSES = ("失效", "权利终止", "驳回", "撤回", "视为撤回", "放弃", "lapsed", "expired", "withdrawn", "rejected")
KEY = ["node", "firm"]  # a (chain, node, firm) pair: the node code implies the chain


@dataclass
class RankInputs:
    """The workspace tables ranking reads, with only the columns it needs and every id as an integer code.

    Merging and grouping on integer codes instead of id strings is what keeps ranking cheap at
    millions of rows. Each code points into a sorted array of the distinct ids, so ordering by a
    code is ordering by the id itself.
    """

    patents: pd.DataFrame  # row i is patent i; without the publication numbers and citation lists
    publication_numbers: pa.Array  # of patent i
    patent_types: pa.Array  # of patent i
    cited: pa.ChunkedArray | pa.ListArray  # patents.cited_publications, row for row
    filings: pd.DataFrame  # patent (row in `patents`), applicant, raw_name (code into raw_names)
    raw_names: pa.Array
    matches: pd.DataFrame  # applicant, firm (code into firm_ids, -1 when none), score, decision
    applicants: pd.DataFrame  # applicant, applicant_type
    firms: pd.DataFrame  # firm, firm_id, status, established_date, registered_capital, size_band, employees
    firm_ids: pa.Array
    node_patents: pd.DataFrame  # node (code into nodes), patent (-1 when not in `patents`)
    nodes: pd.DataFrame  # one row per node code: chain_id, node_id, chain (code), segment, weight


def read_inputs(workspace: Workspace) -> RankInputs:
    patents = workspace.read("patents", [
        "publication_number", "patent_type", "kind", "application_date", "publication_date", "grant_date",
        "cited_publications", "claims_count", "legal_status",
    ])
    filings = workspace.read("filings", ["publication_number", "applicant_id", "raw_name"])
    matches = workspace.read("matches", ["applicant_id", "firm_id", "score", "decision"])
    applicants = workspace.read("applicants", ["applicant_id", "applicant_type"])
    firms = workspace.read("firms", [
        "firm_id", "status", "established_date", "registered_capital", "size_band", "employees",
    ])
    node_patents = workspace.read("node_patents", ["chain_id", "node_id", "publication_number"])
    tech_nodes = workspace.read("tech_nodes", ["chain_id", "node_id", "segment", "weight"])
    return coded_inputs(patents, filings, matches, applicants, firms, node_patents, tech_nodes)


def coded_inputs(patents: pa.Table, filings: pa.Table, matches: pa.Table, applicants: pa.Table, firms: pa.Table,
                 node_patents: pa.Table, tech_nodes: pa.Table) -> RankInputs:
    """RankInputs from the tables as read (arrow), ids replaced by their codes."""
    numbers = patents["publication_number"].combine_chunks()
    filing_patent, node_patent = _positions(numbers, filings["publication_number"], node_patents["publication_number"])
    _, (filing_applicant, match_applicant, applicant) = _sorted_codes(
        filings["applicant_id"], matches["applicant_id"], applicants["applicant_id"])
    raw_names, (raw_name,) = _sorted_codes(filings["raw_name"])
    firm_ids, (match_firm, firm) = _sorted_codes(matches["firm_id"], firms["firm_id"])
    node_ids, (node_of_patent, node_of_tech) = _node_codes(node_patents, tech_nodes)
    known = filing_patent >= 0  # a filing of a patent missing from `patents` can hold nothing
    nodes = node_ids.assign(chain=pd.factorize(node_ids["chain_id"], sort=True)[0])
    tech = tech_nodes.select(["segment", "weight"]).to_pandas().set_axis(node_of_tech)
    nodes = nodes.join(tech[~tech.index.duplicated()])
    return RankInputs(
        # Millions of citation lists as Python objects would cost more than the whole ranking.
        patents=patents.drop_columns(["publication_number", "cited_publications"]).to_pandas(),
        publication_numbers=numbers,
        patent_types=patents["patent_type"].combine_chunks(),
        cited=patents["cited_publications"],
        filings=pd.DataFrame({"patent": filing_patent[known], "applicant": filing_applicant[known],
                              "raw_name": raw_name[known]}),
        raw_names=raw_names,
        matches=pd.DataFrame({"applicant": match_applicant, "firm": match_firm,
                              "score": matches["score"].to_numpy(), "decision": matches["decision"].to_pandas()}),
        applicants=pd.DataFrame({"applicant": applicant, "applicant_type": applicants["applicant_type"].to_pandas()}),
        firms=firms.drop_columns(["firm_id"]).to_pandas().assign(firm=firm, firm_id=firms["firm_id"].to_pandas()),
        firm_ids=firm_ids,
        node_patents=pd.DataFrame({"node": node_of_patent, "patent": node_patent}),
        nodes=nodes,
    )


def _positions(distinct: pa.Array, *columns: pa.ChunkedArray | pa.Array) -> list[np.ndarray]:
    """Row in `distinct` of each value of each column (the first such row), -1 when absent or null.

    One dictionary encoding of everything, instead of a hash table of `distinct` probed once per column.
    """
    chunks = [chunk for column in (distinct, *columns)
              for chunk in (column.chunks if isinstance(column, pa.ChunkedArray) else [column])]
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, distinct.type).combine_chunks())
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    row_of = np.full(len(encoded.dictionary) + 1, -1, dtype=np.int64)  # the last entry stays -1, for nulls
    rows = np.arange(len(distinct))
    row_of[codes[: len(distinct)][::-1]] = rows[::-1]  # reversed: the first row of a repeated value wins
    bounds = np.cumsum([len(distinct), *(len(column) for column in columns)])
    return [row_of[part] for part in np.split(codes, bounds[:-1])[1:]]


def _sorted_codes(*columns: pa.ChunkedArray) -> tuple[pa.Array, list[np.ndarray]]:
    """The sorted distinct values of all the columns, and each column as positions in them (-1 for null)."""
    chunks = [chunk for column in columns for chunk in column.cast(pa.string()).chunks]
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()).combine_chunks())
    by_value = pc.sort_indices(encoded.dictionary).to_numpy()
    code_of = np.empty(len(by_value) + 1, dtype=np.int64)  # dictionary entry -> its place in sorted order
    code_of[by_value] = np.arange(len(by_value))
    code_of[-1] = -1  # nulls
    codes = code_of[pc.fill_null(encoded.indices, -1).to_numpy()]
    bounds = np.cumsum([len(column) for column in columns])
    return encoded.dictionary.take(pa.array(by_value)), np.split(codes, bounds[:-1])


def _node_codes(node_patents: pa.Table, tech_nodes: pa.Table) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Distinct (chain_id, node_id) of both tables in (chain, node) order, and each table's rows as codes."""
    chains, chain_codes = _sorted_codes(node_patents["chain_id"], tech_nodes["chain_id"])
    names, name_codes = _sorted_codes(node_patents["node_id"], tech_nodes["node_id"])
    keys = [c * len(names) + n for c, n in zip(chain_codes, name_codes, strict=True)]
    distinct, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    nodes = pd.DataFrame({"chain_id": chains.take(pa.array(distinct // len(names))).to_pandas(),
                          "node_id": names.take(pa.array(distinct % len(names))).to_pandas()})
    return nodes, np.split(inverse.astype(np.int64), [len(keys[0])])


def citation_edges(publication_numbers, cited) -> tuple[np.ndarray, np.ndarray]:
    """(citing, cited) row positions of each citation between two different patents of the table.

    `cited` holds each patent's cited publication numbers (an arrow list array or a sequence of lists);
    citations of patents outside `publication_numbers` and self-citations are left out.
    """
    lists = cited.combine_chunks() if isinstance(cited, pa.ChunkedArray) else cited
    if not isinstance(lists, pa.ListArray):
        lists = pa.array([list(c) for c in lists], pa.list_(pa.string()))
    if len(lists) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    source = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    known = publication_numbers if isinstance(publication_numbers, pa.Array) else pa.array(publication_numbers,
                                                                                             pa.string())
    (target,) = _positions(known.cast(pa.string()), pc.list_flatten(lists).cast(pa.string()))
    keep = (target >= 0) & (target != source)
    return source[keep], target[keep]


def pagerank(n: int, source: np.ndarray, target: np.ndarray, alpha: float = 0.85) -> np.ndarray:
    """PageRank of n patents over the citation edges source → target, scaled so the mean is 1.

    The same power iteration as networkx.pagerank (dangling patents spread their rank evenly),
    run on a scipy sparse matrix: building a networkx graph of millions of citations takes minutes.
    """
    if n == 0:
        return np.zeros(0)
    edges = sp.coo_array((np.ones(len(source)), (source, target)), shape=(n, n)).tocsr()
    edges.data[:] = 1.0  # a patent citing another twice is one edge, as in a DiGraph
    out_degree = np.asarray(edges.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out_degree, out=np.zeros(n), where=out_degree > 0)
    transition = sp.diags_array(inverse) @ edges
    dangling = out_degree == 0
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        previous = rank
        rank = alpha * (previous @ transition + previous[dangling].sum() / n) + (1 - alpha) / n
        if np.abs(rank - previous).sum() < n * 1e-6:
            break
    return rank * n


def patent_facts(
    patents: pd.DataFrame, card: Scorecard, forward_citations: np.ndarray, ranks: np.ndarray
) -> tuple[pd.DataFrame, int | None]:
    """One row per patent (type/grant/lapse flags, windows, citations, PageRank, strength weight); newest year."""
    facts = patents[["patent_type", "claims_count"]].copy()
    facts.insert(0, "patent", np.arange(len(patents)))
    facts["is_invention"] = (patents["patent_type"] == "invention").astype("int64")
    granted = patents["kind"].isin(GRANTED_KINDS) | patents["grant_date"].notna()
    facts["is_granted"] = granted.astype("int64")
    lapsed = patents["legal_status"].fillna("").str.strip().str.lower().isin(LAPSED_STATUSES)
    years = pd.to_datetime(patents["application_date"]).dt.year
    years = years.fillna(pd.to_datetime(patents["publication_date"]).dt.year)
    newest = years.max()
    recent_from = newest - card.recent_years + 1
    facts["is_recent"] = (years >= recent_from).fillna(False).astype("int64")
    facts["is_earlier"] = ((years >= recent_from - card.recent_years) & (years < recent_from)).fillna(False)
    facts["is_earlier"] = facts["is_earlier"].astype("int64")
    # A grant is recent when its grant date (or, lacking one, the granted publication) falls in the window.
    grant_year = pd.to_datetime(patents["grant_date"]).dt.year
    grant_year = grant_year.fillna(pd.to_datetime(patents["publication_date"]).dt.year.where(granted))
    facts["is_recent_grant"] = (grant_year >= recent_from).fillna(False).astype("int64")
    facts["forward_citations"] = forward_citations
    facts["pagerank"] = ranks
    weights = card.patent_weights
    base = patents["patent_type"].map(
        {"invention": weights.invention, "utility_model": weights.utility_model, "design": weights.design}
    ).fillna(weights.unknown)
    facts["patent_weight"] = base * np.where(granted, weights.granted, 1.0) * np.where(lapsed, weights.lapsed, 1.0)
    facts["granted_invention"] = facts["is_invention"] * facts["is_granted"]
    return facts, int(newest) if pd.notna(newest) else None


_FIRM_TYPE_BY_PREFIX = {
    "11": "government", "12": "public_institution", "13": "other_institution", "19": "other_institution",
    "91": "enterprise", "92": "individual_business", "93": "cooperative",
}


def firm_type(firm_id: str) -> str:
    """Kind of entity, from the unified social credit code's registration authority and category digits."""
    return firm_types(pd.Series([firm_id])).iat[0]


def firm_types(firm_ids: pd.Series) -> pd.Series:
    """`firm_type` of each id: an 18-character credit code encodes it; an LEI or other id gives unknown."""
    ids = firm_ids.astype("string")
    prefix = ids.str.slice(0, 2)
    kinds = prefix.map(_FIRM_TYPE_BY_PREFIX).astype(object)
    kinds = kinds.where(kinds.notna(), np.where(prefix.str.startswith("5").fillna(False), "social_organization",
                                                "other_institution"))
    return kinds.where((ids.str.len() == 18).fillna(False), "unknown").astype(object)


def accepted_links(inputs: RankInputs, card: Scorecard) -> tuple[pd.DataFrame, int]:
    """(patent, firm, score, decision, raw_name) per accepted link, and links ignored by type."""
    matches = inputs.matches
    accepted = matches[matches["decision"].isin(ACCEPTED_DECISIONS) & (matches["firm"] >= 0)]
    accepted = accepted.merge(inputs.applicants, on="applicant", how="left")
    barred = accepted["applicant_type"].isin(card.eligibility.excluded_applicant_types)
    linked = inputs.filings.merge(accepted[~barred], on="applicant")
    # One patent can reach the same firm through two applicant names: keep the strongest link.
    linked = linked.sort_values(["score", "raw_name"], ascending=[False, True], kind="stable")
    linked = linked.drop_duplicates(["patent", "firm"])
    return linked[["patent", "firm", "score", "decision", "raw_name"]], int(barred.sum())


def held_patents(inputs: RankInputs, links: pd.DataFrame, facts: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """One row per (node, patent, firm) held through an accepted link, with `confident` per the scorecard."""
    node_patents = inputs.node_patents[inputs.node_patents["patent"] >= 0]
    held = node_patents.merge(links, on="patent")
    patent = held["patent"].to_numpy()  # facts has one row per patent, in patent order
    held = pd.concat([held.reset_index(drop=True),
                      facts.drop(columns=["patent"]).take(patent).reset_index(drop=True)], axis=1)
    threshold = card.eligibility.min_match_confidence
    held["confident"] = (held["decision"] == "manual") | (held["score"] >= threshold)
    return held


def pair_features(held: pd.DataFrame, inputs: RankInputs) -> pd.DataFrame:
    """Every feature of every (node, firm) pair, counted over its confident links."""
    counted = held[held["confident"]]
    node_totals = inputs.node_patents.groupby("node").size().rename("node_total")
    per = counted.groupby(KEY, sort=False).agg(
        patents_in_node=("patent", "size"),
        inventions_in_node=("is_invention", "sum"),
        granted_in_node=("is_granted", "sum"),
        granted_inventions=("granted_invention", "sum"),
        weighted_patents=("patent_weight", "sum"),
        recent_filings=("is_recent", "sum"),
        earlier_filings=("is_earlier", "sum"),
        recent_grants=("is_recent_grant", "sum"),
        forward_citations=("forward_citations", "sum"),
        pagerank=("pagerank", "sum"),
        pagerank_max=("pagerank", "max"),
        claims_mean=("claims_count", "mean"),
        match_confidence=("score", "min"),
    ).reset_index()
    per = per.join(node_totals, on="node")
    per["node_share"] = per["patents_in_node"] / per["node_total"]
    # Growth against the earlier window of the same length; +1 keeps a first filing finite.
    per["filing_growth"] = (per["recent_filings"] + 1) / (per["earlier_filings"] + 1)
    recent_node = counted.groupby("node")[["is_recent", "is_earlier"]].sum()
    recent_node = recent_node.rename(columns={"is_recent": "node_recent", "is_earlier": "node_earlier"})
    per = per.join(recent_node, on="node")
    # Momentum: the firm's share of the node's recent filings minus its share of the earlier ones.
    per["share_momentum"] = (
        per["recent_filings"] / per["node_recent"].where(per["node_recent"] > 0)
    ).fillna(0) - (per["earlier_filings"] / per["node_earlier"].where(per["node_earlier"] > 0)).fillna(0)
    per["chain"] = inputs.nodes["chain"].to_numpy()[per["node"].to_numpy()]
    per = per.merge(_chain_position(counted, inputs.nodes), on=["chain", "firm"], how="left")
    return per.drop(columns=["node_recent", "node_earlier"])


def _chain_position(counted: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    covered = counted[KEY].drop_duplicates()
    covered = covered.join(nodes[["chain", "segment", "weight"]], on="node")
    covered["upstream"] = (covered["segment"] == "upstream").astype("int64")
    return covered.groupby(["chain", "firm"], sort=False).agg(
        nodes_in_chain=("node", "size"),
        weighted_presence=("weight", "sum"),
        upstream_nodes=("upstream", "sum"),
    ).reset_index()


def firm_features(firms: pd.DataFrame, card: Scorecard, newest_year: int | None) -> pd.DataFrame:
    """Soundness features per firm (by code); age is measured at the end of the newest filing year."""
    out = firms[["firm", "status", "size_band", "registered_capital", "employees"]].copy()
    established = pd.to_datetime(firms["established_date"])
    reference = pd.Timestamp(year=newest_year or 2000, month=12, day=31)
    out["firm_age"] = (reference - established).dt.days / 365.25
    out["firm_type"] = firm_types(firms["firm_id"])
    out["status_score"] = firms["status"].map(card.status_scores)
    out["size_score"] = firms["size_band"].map(card.size_band_scores)
    return out


def eligibility(held: pd.DataFrame, pairs: pd.DataFrame, firms: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """One row per failed rule per (node, firm): rule and a detail a reviewer can read."""
    rules = card.eligibility
    all_pairs = held.groupby(KEY, sort=False)["score"].max().rename("best_score").reset_index()
    all_pairs = all_pairs.merge(pairs[[*KEY, "patents_in_node"]], on=KEY, how="left")
    all_pairs = all_pairs.merge(firms, on="firm", how="left")
    out = []

    def fail(mask: pd.Series, rule: str, detail) -> None:
        """`detail`: a text, or the texts of the failing pairs (a function of them, so only they are formatted)."""
        hit = all_pairs.loc[mask]
        out.append(pd.DataFrame({"node": hit["node"], "firm": hit["firm"], "rule": rule,
                                 "detail": detail if isinstance(detail, str) else detail(hit)}))

    registered = all_pairs["status"].notna()
    fail(~registered, "status", "firm not in the register")
    allowed = ", ".join(rules.statuses)
    fail(registered & ~all_pairs["status"].isin(rules.statuses), "status",
         lambda hit: "status is " + hit["status"].fillna("") + f"; targets must be {allowed}")
    fail(registered & all_pairs["firm_type"].isin(rules.excluded_firm_types), "firm_type",
         lambda hit: hit["firm_type"].fillna("").str.replace("_", " ") + " by its credit code, not a company")
    size = all_pairs["size_band"]
    bad_size = size.notna() & ~size.isin(rules.size_bands)
    if not rules.allow_unknown_size_band:
        bad_size |= size.isna()
    fail(registered & bad_size, "size_band",
         lambda hit: "size band " + hit["size_band"].fillna("unknown") + f" is outside {', '.join(rules.size_bands)}")
    no_confident = all_pairs["patents_in_node"].isna()
    fail(no_confident, "min_confidence", lambda hit: [
        f"best link confidence {best:.2f} is below {rules.min_match_confidence:.2f}"
        for best in hit["best_score"].tolist()])
    too_few = all_pairs["patents_in_node"].fillna(0) < rules.min_patents_in_node
    fail(~no_confident & too_few, "min_patents", lambda hit: [
        f"{held} patent{'' if held == 1 else 's'} in the node, fewer than {rules.min_patents_in_node}"
        for held in hit["patents_in_node"].fillna(0).astype("int64").tolist()])
    return pd.concat(out, ignore_index=True)
