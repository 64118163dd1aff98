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
KEY = ["chain_id", "node_id", "firm_id"]


@dataclass
class RankInputs:
    """The workspace tables ranking reads, with only the columns it needs."""

    patents: pd.DataFrame  # without the citation lists, kept in arrow as `cited`
    cited: pa.ChunkedArray | pa.ListArray  # patents.cited_publications, row for row
    filings: pd.DataFrame
    matches: pd.DataFrame
    applicants: pd.DataFrame
    firms: pd.DataFrame
    node_patents: pd.DataFrame
    tech_nodes: pd.DataFrame


def read_inputs(workspace: Workspace) -> RankInputs:
    patents = workspace.read("patents", [
        "publication_number", "patent_type", "kind", "application_date", "publication_date", "grant_date",
        "cited_publications", "claims_count", "legal_status",
    ])
    return RankInputs(
        # Millions of citation lists as Python objects would cost more than the whole ranking.
        patents=patents.drop_columns(["cited_publications"]).to_pandas(),
        cited=patents["cited_publications"],
        filings=workspace.read_df("filings", ["publication_number", "applicant_id", "raw_name"]),
        matches=workspace.read_df("matches", ["applicant_id", "firm_id", "score", "decision"]),
        applicants=workspace.read_df("applicants", ["applicant_id", "applicant_type"]),
        firms=workspace.read_df("firms", [
            "firm_id", "status", "established_date", "registered_capital", "size_band", "employees",
        ]),
        node_patents=workspace.read_df("node_patents", ["chain_id", "node_id", "publication_number"]),
        tech_nodes=workspace.read_df("tech_nodes", ["chain_id", "node_id", "segment", "weight"]),
    )


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
    known = pa.array(publication_numbers, pa.string())
    target = pc.fill_null(pc.index_in(pc.list_flatten(lists), value_set=known), -1).to_numpy().astype(np.int64)
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
    facts = patents[["publication_number", "patent_type", "claims_count"]].copy()
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
    """(publication_number, firm_id, score, decision, raw_name) per accepted link, and links ignored by type."""
    matches = inputs.matches
    accepted = matches[matches["decision"].isin(ACCEPTED_DECISIONS) & matches["firm_id"].notna()]
    accepted = accepted.merge(inputs.applicants, on="applicant_id", how="left")
    barred = accepted["applicant_type"].isin(card.eligibility.excluded_applicant_types)
    linked = inputs.filings.merge(accepted[~barred], on="applicant_id")
    # One patent can reach the same firm through two applicant names: keep the strongest link.
    linked = linked.sort_values(["score", "raw_name"], ascending=[False, True], kind="stable")
    linked = linked.drop_duplicates(["publication_number", "firm_id"])
    return linked[["publication_number", "firm_id", "score", "decision", "raw_name"]], int(barred.sum())


def held_patents(inputs: RankInputs, links: pd.DataFrame, facts: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """One row per (node, patent, firm) held through an accepted link, with `confident` per the scorecard."""
    held = inputs.node_patents.merge(links, on="publication_number").merge(facts, on="publication_number")
    threshold = card.eligibility.min_match_confidence
    held["confident"] = (held["decision"] == "manual") | (held["score"] >= threshold)
    return held


def pair_features(held: pd.DataFrame, inputs: RankInputs) -> pd.DataFrame:
    """Every feature of every (chain, node, firm) pair, counted over its confident links."""
    counted = held[held["confident"]]
    node_totals = inputs.node_patents.groupby(["chain_id", "node_id"]).size().rename("node_total")
    per = counted.groupby(KEY, sort=False).agg(
        patents_in_node=("publication_number", "size"),
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
    per = per.join(node_totals, on=["chain_id", "node_id"])
    per["node_share"] = per["patents_in_node"] / per["node_total"]
    # Growth against the earlier window of the same length; +1 keeps a first filing finite.
    per["filing_growth"] = (per["recent_filings"] + 1) / (per["earlier_filings"] + 1)
    recent_node = counted.groupby(["chain_id", "node_id"])[["is_recent", "is_earlier"]].sum()
    recent_node = recent_node.rename(columns={"is_recent": "node_recent", "is_earlier": "node_earlier"})
    per = per.join(recent_node, on=["chain_id", "node_id"])
    # Momentum: the firm's share of the node's recent filings minus its share of the earlier ones.
    per["share_momentum"] = (
        per["recent_filings"] / per["node_recent"].where(per["node_recent"] > 0)
    ).fillna(0) - (per["earlier_filings"] / per["node_earlier"].where(per["node_earlier"] > 0)).fillna(0)
    per = per.merge(_chain_position(counted, inputs.tech_nodes), on=["chain_id", "firm_id"], how="left")
    return per.drop(columns=["node_recent", "node_earlier"])


def _chain_position(counted: pd.DataFrame, tech_nodes: pd.DataFrame) -> pd.DataFrame:
    covered = counted[["chain_id", "node_id", "firm_id"]].drop_duplicates()
    covered = covered.merge(tech_nodes, on=["chain_id", "node_id"], how="left")
    covered["upstream"] = (covered["segment"] == "upstream").astype("int64")
    return covered.groupby(["chain_id", "firm_id"], sort=False).agg(
        nodes_in_chain=("node_id", "size"),
        weighted_presence=("weight", "sum"),
        upstream_nodes=("upstream", "sum"),
    ).reset_index()


def firm_features(firms: pd.DataFrame, card: Scorecard, newest_year: int | None) -> pd.DataFrame:
    """Soundness features per firm; age is measured at the end of the newest filing year."""
    out = firms[["firm_id", "status", "size_band", "registered_capital", "employees"]].copy()
    established = pd.to_datetime(firms["established_date"])
    reference = pd.Timestamp(year=newest_year or 2000, month=12, day=31)
    out["firm_age"] = (reference - established).dt.days / 365.25
    out["firm_type"] = firm_types(firms["firm_id"])
    out["status_score"] = firms["status"].map(card.status_scores)
    out["size_score"] = firms["size_band"].map(card.size_band_scores)
    return out


def eligibility(held: pd.DataFrame, pairs: pd.DataFrame, firms: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """One row per failed rule per (chain, node, firm): rule and a detail a reviewer can read."""
    rules = card.eligibility
    all_pairs = held.groupby(KEY, sort=False)["score"].max().rename("best_score").reset_index()
    all_pairs = all_pairs.merge(pairs[[*KEY, "patents_in_node"]], on=KEY, how="left")
    all_pairs = all_pairs.merge(firms, on="firm_id", how="left")
    out = []

    def fail(mask: pd.Series, rule: str, detail: pd.Series | str) -> None:
        hit = all_pairs.loc[mask, KEY].copy()
        hit["rule"] = rule
        hit["detail"] = detail[mask] if isinstance(detail, pd.Series) else detail
        out.append(hit)

    registered = all_pairs["status"].notna()
    fail(~registered, "status", "firm not in the register")
    allowed = ", ".join(rules.statuses)
    fail(registered & ~all_pairs["status"].isin(rules.statuses), "status",
         "status is " + all_pairs["status"].fillna("") + f"; targets must be {allowed}")
    fail(registered & all_pairs["firm_type"].isin(rules.excluded_firm_types), "firm_type",
         all_pairs["firm_type"].fillna("").str.replace("_", " ") + " by its credit code, not a company")
    size = all_pairs["size_band"]
    bad_size = size.notna() & ~size.isin(rules.size_bands)
    if not rules.allow_unknown_size_band:
        bad_size |= size.isna()
    fail(registered & bad_size, "size_band",
         "size band " + size.fillna("unknown") + f" is outside {', '.join(rules.size_bands)}")
    no_confident = all_pairs["patents_in_node"].isna()
    fail(no_confident, "min_confidence",
         "best link confidence " + all_pairs["best_score"].map("{:.2f}".format)
         + f" is below {rules.min_match_confidence:.2f}")
    too_few = all_pairs["patents_in_node"].fillna(0) < rules.min_patents_in_node
    held_count = all_pairs["patents_in_node"].fillna(0).astype("int64")
    fail(~no_confident & too_few, "min_patents",
         held_count.astype(str) + np.where(held_count == 1, " patent", " patents")
         + f" in the node, fewer than {rules.min_patents_in_node}")
    columns = [*KEY, "rule", "detail"]
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)
