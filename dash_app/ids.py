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
NODE_EXPORT_DOWNLOAD = "node-export-download"
NODE_EXPORT_STATUS = "node-export-status"

# Firm page
FIRM_NAME = "firm-name"
FIRM_SCORECARD = "firm-scorecard"
FIRM_PATENTS_GRID = "firm-patents-grid"
FIRM_EVIDENCE_TABLE = "firm-evidence-table"
FIRM_GROUP = "firm-group"
