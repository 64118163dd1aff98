"""Every component id the explorer uses, in one place, so layouts and callbacks cannot drift apart."""

# Shell
NAV_LOCATION = "nav-location"

# Chains page (home)
CHAIN_PICKER = "chain-picker"
CHAIN_GRAPH = "chain-graph"
CHAIN_SHOWN = "chain-shown"
CHAIN_HEADER = "chain-header"
CHAIN_NODE_TABLE = "chain-node-table"

# Node page
NODE_KEY = "node-key"
NODE_YEARS_CHART = "node-years-chart"
NODE_FILTER_REGION = "node-filter-region"
NODE_FILTER_TIER = "node-filter-tier"
NODE_FILTER_SIZE = "node-filter-size"
NODE_FILTER_SCORE = "node-filter-score"
NODE_FILTER_CONFIDENCE = "node-filter-confidence"
NODE_FILTER_NAME = "node-filter-name"
NODE_FIRMS_GRID = "node-firms-grid"
NODE_FIRMS_COUNT = "node-firms-count"
NODE_GRID_REFRESHED = "node-grid-refreshed"
NODE_EXPORT_BUTTON = "node-export-button"
NODE_EXPORT_XLSX_BUTTON = "node-export-xlsx-button"
NODE_EXPORT_DOWNLOAD = "node-export-download"  # a store: the URL of the file just written
NODE_EXPORT_STARTED = "node-export-started"
NODE_EXPORT_STATUS = "node-export-status"

# Firm page
FIRM_NAME = "firm-name"
FIRM_SCORECARD = "firm-scorecard"
FIRM_PATENTS_GRID = "firm-patents-grid"
FIRM_EVIDENCE_TABLE = "firm-evidence-table"
FIRM_GROUP = "firm-group"
FIRM_GRAPH = "firm-graph"

# Shell: who is logged in
NAV_USER = "nav-user"

# Map page
MAP_CHAIN = "map-chain"
MAP_TILES = "map-tiles"
MAP_FIRMS = "map-firms"


def map_tile(english_name: str) -> str:
    """The id of one province tile, e.g. "tile-guangdong" or "tile-inner-mongolia"."""
    return "tile-" + english_name.lower().replace(" ", "-")


# Review page
REVIEW_QUEUE = "review-queue"
REVIEW_DETAIL = "review-detail"
REVIEW_KEY = "review-key"
REVIEW_ACCEPT = "review-accept"
REVIEW_REJECT = "review-reject"
REVIEW_CHOOSE = "review-choose"
REVIEW_FIRM_SEARCH = "review-firm-search"
REVIEW_NOTE = "review-note"
REVIEW_STATUS = "review-status"
REVIEW_COUNT = "review-count"

# Cypher page
CYPHER_QUERY_PICKER = "cypher-query-picker"
CYPHER_DESCRIPTION = "cypher-description"
CYPHER_EDITOR = "cypher-editor"
CYPHER_PARAMS = "cypher-params"
CYPHER_PARAM = "cypher-param"  # pattern-matching type: {"type": CYPHER_PARAM, "name": <parameter>}
CYPHER_RUN = "cypher-run"
CYPHER_STATUS = "cypher-status"
CYPHER_GRID = "cypher-grid"
CYPHER_GRAPH = "cypher-graph"

# Runs page
RUNS_TABLE = "runs-table"
