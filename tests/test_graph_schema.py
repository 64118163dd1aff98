"""The schema definitions, the LadybugDB DDL generated from them, and the committed schema picture."""

from __future__ import annotations

from pathlib import Path

from graph.embedded import ddl
from graph.schema import NODE_TYPES, NODES, REL_TYPES
from graph.schema_diagram import render_svg

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_label_has_its_key_first_and_every_relationship_known_ends():
    for node in NODE_TYPES:
        assert node.props[0].name == node.key and node.props[0].type == "string"
        assert len({p.name for p in node.props}) == len(node.props)
    for rel in REL_TYPES:
        assert rel.start in NODES and rel.end in NODES
        assert set(rel.identity) <= {p.name for p in rel.props}


def test_ddl_creates_one_table_per_label_and_type():
    statements = ddl()
    assert len(statements) == len(NODE_TYPES) + len(REL_TYPES)
    assert "CREATE NODE TABLE TechNode(key STRING, chain_id STRING" in statements[1]
    assert statements[1].endswith("PRIMARY KEY(key))")
    assert "CREATE REL TABLE RANKED_IN(FROM Firm TO TechNode, score DOUBLE, rank INT64" in "\n".join(statements)


def test_committed_schema_picture_is_up_to_date():
    svg = render_svg()
    for name in [*NODES, *(r.type for r in REL_TYPES)]:
        assert f">{name}<" in svg
    committed = DOCS / "graph_schema.svg"
    assert committed.read_text(encoding="utf-8") == svg, "regenerate: python -m graph.schema_diagram docs/graph_schema.svg"
