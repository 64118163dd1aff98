"""The command line as an operator uses it: users, bad input, settings."""

from typer.testing import CliRunner

from dash_app.auth import authenticate, users_path
from graph.cli import app


def test_user_add_stores_a_hash_and_the_role(tmp_path):
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path), "user", "add", "li.na", "--role", "marketer"],
                                input="s3cret-Pass\ns3cret-Pass\n")
    assert result.exit_code == 0, result.output
    path = users_path(tmp_path)
    assert "s3cret-Pass" not in path.read_text() and "s3cret-Pass" not in result.output
    user = authenticate(path, "li.na", "s3cret-Pass")
    assert user is not None and user.role == "marketer"
    assert authenticate(path, "li.na", "wrong") is None


def test_user_add_refuses_an_unknown_role(tmp_path):
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path), "user", "add", "x", "--role", "root"],
                                input="pw-123456\npw-123456\n")
    assert result.exit_code == 2 and "root" in result.output


def test_a_password_in_the_settings_file_is_refused(tmp_path):
    config = tmp_path / "patentgraph.toml"
    config.write_text('[neo4j]\nuri = "neo4j://db:7687"\npassword = "hunter2"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "rank"])
    assert result.exit_code == 2
    assert "NEO4J_PASSWORD" in result.output and "hunter2" not in result.output


def test_stage_without_its_input_tables_says_which_to_build(tmp_path):
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path), "match"])
    assert result.exit_code == 2
    assert "patents" in result.output and "not in the workspace yet" in result.output
