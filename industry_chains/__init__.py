"""Industry chains: chain YAML files, the patent search-expression language, classification."""

from industry_chains.chains import Chain, ChainNode, load_chains
from industry_chains.classify import ClassifyReport, NodeCount, run_classify
from industry_chains.errors import ChainError, ExpressionError
from industry_chains.expression import Expression, parse_expression

__all__ = [
    "Chain",
    "ChainError",
    "ChainNode",
    "ClassifyReport",
    "Expression",
    "ExpressionError",
    "NodeCount",
    "load_chains",
    "parse_expression",
    "run_classify",
]
