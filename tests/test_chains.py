"""Chain YAML files: the four shipped chains, and each validation error on a small real file."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from graph.workspace import Workspace
from industry_chains import ChainError, ExpressionError, load_chains, run_classify
from industry_chains.chains import SHIPPED_CHAINS

VALID = """\
id: demo
name_zh: 演示链
name_en: Demo chain
nodes:
  - id: demo.up
    segment: upstream
    name_zh: 上游
    name_en: Upstream
    children:
      - id: demo.up.parts
        name_zh: 零部件
        name_en: Parts
        children:
          - id: demo.up.parts.gears
            name_zh: 齿轮
            name_en: Gears
            weight: 1.5
            expression: cls:F16H OR tiab:"齿轮"
  - id: demo.down
    segment: downstream
    name_zh: 下游
    name_en: Downstream
    children:
      - id: demo.down.robots
        name_zh: 机器人
        name_en: Robots
        expression: ipc:B25J
supply_links:
  - {from: demo.up.parts, to: demo.down.robots}
"""


def write_chain(directory: Path, text: str, name: str = "demo.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ChainError:
    write_chain(tmp_path, text)
    with pytest.raises(ChainError) as caught:
        load_chains(tmp_path)
    return caught.value


def test_the_four_shipped_chains_load_with_15_to_40_nodes_and_three_levels():
    chains = {chain.id: chain for chain in load_chains()}
    assert set(chains) == {"ai", "bio", "5g", "sm"}
    assert {chain.source_file.name for chain in chains.values()} == {
        "ai.yaml", "biomedicine.yaml", "5g.yaml", "smart_manufacturing.yaml"}
    for chain in chains.values():
        assert 15 <= len(chain.nodes) <= 40, chain.id
        assert chain.depth >= 3, chain.id
        assert {node.segment for node in chain.nodes} == {"upstream", "midstream", "downstream"}
        leaves = [n for n in chain.nodes if not any(c.parent_id == n.id for c in chain.nodes)]
        assert all(leaf.expression is not None for leaf in leaves), chain.id
        assert chain.supply_links, chain.id


def test_shipped_chains_cite_their_sources_next_to_the_nodes():
    for path in SHIPPED_CHAINS.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "[scheme]" in text and "[CNIPA-SEI]" in text, path.name
        assert text.count("expression:") <= text.count("\n            # ") + 2, path.name


def test_a_valid_file_is_read_into_a_flat_tree(tmp_path):
    write_chain(tmp_path, VALID)
    (chain,) = load_chains(tmp_path)
    by_id = {node.id: node for node in chain.nodes}
    gears = by_id["demo.up.parts.gears"]
    assert (gears.parent_id, gears.level, gears.segment, gears.weight) == ("demo.up.parts", 3, "upstream", 1.5)
    assert by_id["demo.down.robots"].weight == 1.0 and by_id["demo.down.robots"].segment == "downstream"
    assert chain.supply_links == (("demo.up.parts", "demo.down.robots"),)
    assert [node.id for node in chain.nodes][:3] == ["demo.up", "demo.up.parts", "demo.up.parts.gears"]


def test_a_fifth_chain_file_in_a_directory_is_picked_up(tmp_path):
    for path in SHIPPED_CHAINS.glob("*.yaml"):
        write_chain(tmp_path, path.read_text(encoding="utf-8"), path.name)
    write_chain(tmp_path, VALID, "demo.yaml")
    assert sorted(chain.id for chain in load_chains(tmp_path)) == ["5g", "ai", "bio", "demo", "sm"]


def test_the_fifth_chain_example_in_the_docs_loads_and_classifies(tmp_path):
    from test_classify import patent  # here, not at the top: test_classify imports this module

    docs = (Path(__file__).resolve().parents[1] / "docs" / "chains.md").read_text(encoding="utf-8")
    (example,) = [block for block in re.findall(r"```yaml\n(.*?)```", docs, re.S) if "\nid: nev\n" in block]
    chains_dir = tmp_path / "chains"
    for path in SHIPPED_CHAINS.glob("*.yaml"):
        write_chain(chains_dir, path.read_text(encoding="utf-8"), path.name)
    write_chain(chains_dir, example, "new_energy_vehicles.yaml")
    assert sorted(chain.id for chain in load_chains(chains_dir)) == ["5g", "ai", "bio", "nev", "sm"]

    workspace = Workspace(tmp_path / "ws")
    workspace.write("patents", pd.DataFrame([patent("CN1A", 1, "一种锂离子电池", None, ipc=["H01M10/0525"])]), "i-1")
    report = run_classify(workspace, "c-1", chains_dir)
    rows = workspace.read_df("node_patents")
    assert rows.loc[rows["chain_id"] == "nev", ["node_id", "matched_rule"]].values.tolist() == [
        ["nev.up.battery.cells", 'cls:H01M10/052; tiab:"锂离子电池"']]
    assert report.classified_by_chain["nev"] == 1


def test_unknown_field_names_file_line_node_and_field(tmp_path):
    error = load_error(tmp_path, VALID.replace("            weight: 1.5", "            wieght: 1.5"))
    message = str(error)
    assert message.startswith("demo.yaml:17 demo.up.parts.gears (nodes[0].children[0].children[0]): field 'wieght':")
    assert "unknown field" in message


def test_duplicate_node_ids(tmp_path):
    error = load_error(tmp_path, VALID.replace("id: demo.down.robots", "id: demo.up.parts.gears"))
    assert error.node.startswith("demo.up.parts.gears (nodes[1].children[0])")
    assert "duplicate node id" in error.problem and "nodes[0].children[0].children[0]" in error.problem


def test_malformed_ipc_code_in_an_expression_names_node_and_column(tmp_path):
    error = load_error(tmp_path, VALID.replace('cls:F16H OR tiab:"齿轮"', 'cls:F16H OR ipc:F16H1/'))
    assert isinstance(error, ExpressionError)
    assert (error.file, error.node, error.column) == ("demo.yaml:18", "demo.up.parts.gears", 23)
    assert str(error).startswith("demo.yaml:18 demo.up.parts.gears: column 23: unexpected end of expression")


def test_empty_expression(tmp_path):
    error = load_error(tmp_path, VALID.replace("expression: ipc:B25J", 'expression: "  "'))
    assert isinstance(error, ExpressionError) and error.node == "demo.down.robots"
    assert "empty expression" in str(error)


def test_leaf_without_expression(tmp_path):
    error = load_error(tmp_path, VALID.replace("        expression: ipc:B25J\n", ""))
    assert "demo.down.robots" in error.node and "needs an expression" in error.problem


def test_unknown_node_in_supply_links(tmp_path):
    error = load_error(tmp_path, VALID.replace("to: demo.down.robots}", "to: demo.down.robot}"))
    assert error.node == "supply_links[0] (demo.up.parts -> demo.down.robot)"
    assert "unknown node id 'demo.down.robot'" in error.problem and error.file == "demo.yaml:29"


def test_cycle_in_supply_links(tmp_path):
    cyclic = VALID + "  - {from: demo.down.robots, to: demo.up}\n  - {from: demo.up, to: demo.up.parts}\n"
    error = load_error(tmp_path, cyclic)
    assert "cycle" in error.problem
    assert "demo.up.parts -> demo.down.robots -> demo.up -> demo.up.parts" in error.problem


def test_segment_missing_on_top_level_node_and_wrong_values(tmp_path):
    error = load_error(tmp_path, VALID.replace("    segment: downstream\n", ""))
    assert "needs segment" in error.problem and "demo.down" in error.node
    error = load_error(tmp_path, VALID.replace("segment: downstream", "segment: sideways"))
    assert str(error).startswith("demo.yaml:20 demo.down (nodes[1]): field 'segment': Input should be")


def test_node_ids_must_be_ascii_and_carry_the_chain_prefix(tmp_path):
    error = load_error(tmp_path, VALID.replace("id: demo.down.robots", "id: demo.down.机器人"))
    assert str(error).startswith("demo.yaml:24 demo.down.机器人 (nodes[1].children[0]): field 'id'")
    error = load_error(tmp_path, VALID.replace("id: demo.down.robots", "id: other.robots"))
    assert "must start with the chain id 'demo.'" in error.problem


def test_bad_weight_and_invalid_yaml(tmp_path):
    error = load_error(tmp_path, VALID.replace("weight: 1.5", "weight: -2"))
    assert "weight" in str(error) and "greater than 0" in str(error)
    error = load_error(tmp_path, VALID.replace("name_en: Parts", "name_en: [Parts"))
    assert error.file.startswith("demo.yaml:") and "not valid YAML" in error.problem


def test_two_files_with_the_same_chain_id(tmp_path):
    write_chain(tmp_path, VALID, "a.yaml")
    write_chain(tmp_path, VALID, "b.yaml")
    with pytest.raises(ChainError, match="b.yaml: chain id 'demo' is also used by a.yaml"):
        load_chains(tmp_path)


def test_an_empty_directory_is_an_error(tmp_path):
    with pytest.raises(ChainError, match="no chain files"):
        load_chains(tmp_path)
