"""`patentgraph`: one command per stage, plus `demo` (everything, then the UI).

Each command prints a short summary: counts in / out / quarantined and the time taken.
Bad input exits with code 2 and a one-line reason; other failures exit with code 1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from graph import pipeline
from graph.config import Settings, load_settings
from graph.workspace import ContractError, Workspace, return_freed_memory

app = typer.Typer(
    name="patentgraph",
    help="Tech-enterprise patent graph: ingest → match → classify → rank → load → explore.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # one line per message, whatever the terminal width
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 3


class _State:
    settings: Settings
    workspace: Workspace


state = _State()


@app.callback()
def _main(
    workspace: Annotated[Path | None, typer.Option(help="Workspace directory (default ./workspace)")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file (default ./patentgraph.toml)")] = None,
) -> None:
    return_freed_memory()
    try:
        state.settings = load_settings(config, workspace)
    except (OSError, ValueError) as exc:
        _fail_bad_input(str(exc))
    state.workspace = Workspace(state.settings.workspace)


def _fail_bad_input(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(EXIT_BAD_INPUT)


def _show(result: pipeline.StageResult) -> None:
    counts = pipeline.report_counts(result.report)
    numbers = {k: v for k, v in counts.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    shown = ", ".join(f"{key}={value}" for key, value in numbers.items() if key != "seconds")
    console.print(f"[bold green]✓ {result.stage}[/bold green] {shown} [dim]({result.seconds:.1f}s, run {result.run_id})[/dim]")
    per_file = getattr(result.report, "per_file", None)
    if per_file:
        table = Table("file", "format", "encoding", "read", "written", "quarantined", box=None, pad_edge=False)
        for item in per_file:
            table.add_row(
                Path(str(item.path)).name, str(item.format), str(getattr(item, "encoding", None) or "-"),
                str(item.read), str(item.written), str(item.quarantined),
            )
        console.print(table)
    quarantine = getattr(result.report, "quarantine_path", None)
    if quarantine:
        console.print(f"  quarantined records: {quarantine}")


def _guard(work):
    """Run `work()`: bad input becomes one clear line and exit code 2, an I/O failure one line and code 1."""
    try:
        return work()
    except (ContractError, FileNotFoundError, ValueError) as exc:
        _fail_bad_input(str(exc))
    except OSError as exc:  # disk full, read-only workspace: one line naming the path, not a traceback
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_FAILURE) from None


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder for the generated input files")] = Path("demo-data"),
    patents: Annotated[int, typer.Option(min=10, help="Number of patents")] = 3000,
    firms: Annotated[int, typer.Option(min=10, help="Number of registered firms")] = 800,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 7,
) -> None:
    """Write a synthetic demo dataset in the vendor formats `ingest` reads (plus labels)."""
    from ingest import generate as generate_dataset

    start = time.perf_counter()
    dataset = generate_dataset(out, n_patents=patents, n_firms=firms, seed=seed)
    console.print(f"[bold green]✓ generate[/bold green] {patents} patents, {firms} firms → {out} "
                  f"[dim]({time.perf_counter() - start:.1f}s)[/dim]")
    for path in [*dataset.patent_files, *dataset.firm_files, dataset.labels]:
        console.print(f"  {path}")


@app.command()
def ingest(
    patents: Annotated[list[Path] | None, typer.Option(help="Patent export files or folders")] = None,
    firms: Annotated[list[Path] | None, typer.Option(help="Firm registry files or folders")] = None,
    format: Annotated[str | None, typer.Option(
        help="Force a format instead of detecting it: csv, tsv, xlsx, uspto-xml, google-patents, lens,"
             " patentsview, ppubs")] = None,
) -> None:
    """Parse patent exports and firm registries into the workspace (bad records → quarantine)."""
    if not patents and not firms:
        _fail_bad_input("give --patents and/or --firms")
    for result in _guard(lambda: pipeline.ingest(state.workspace, patents or [], firms or [], format)):
        _show(result)


@app.command()
def match() -> None:
    """Resolve every applicant to an operating firm (review decisions are applied first)."""
    _show(_guard(lambda: pipeline.match(state.workspace)))


@app.command("evaluate-matching")
def evaluate_matching(
    labels: Annotated[Path, typer.Option(help="CSV: applicant_name,address,expected_firm_id")],
    all_errors: Annotated[bool, typer.Option("--all-errors", help="List every error, not the first 30")] = False,
) -> None:
    """Precision, recall and F1 of the current matches against a labelled file, with the errors."""
    from matching import evaluate_matching as evaluate

    result = _guard(lambda: evaluate(state.workspace, labels))
    typer.echo(result.summary(max_errors=None) if all_errors else result.summary())


@app.command()
def review(
    applicant: Annotated[str | None, typer.Option(help="Applicant id to decide on")] = None,
    accept: Annotated[str | None, typer.Option(help="Confirm the link to this firm id")] = None,
    choose: Annotated[str | None, typer.Option(help="Link to this firm id instead")] = None,
    reject: Annotated[str | None, typer.Option(help="Never link to this firm id ('all' = to no firm)")] = None,
    reviewer: Annotated[str | None, typer.Option(help="Who decides (recorded with the decision)")] = None,
    note: Annotated[str, typer.Option(help="Why")] = "",
    limit: Annotated[int, typer.Option(help="Rows of the queue to show")] = 30,
) -> None:
    """Show the review queue, or record a decision that every later run applies first."""
    from matching import record_decision, review_queue

    actions = {"accept": accept, "choose": choose, "reject": reject}
    given = {name: value for name, value in actions.items() if value}
    if not applicant:
        queue = _guard(lambda: review_queue(state.workspace))
        shown = queue.head(limit)
        # the ids are what a reviewer types back: never cut them, let the names wrap instead
        folded = [Column(title, overflow="fold") for title in ("applicant", "type", "candidate firm", "status")]
        table = Table(_uncut_column("applicant_id", shown["applicant_id"]), folded[0], folded[1],
                      _uncut_column("firm_id", shown["firm_id"]), folded[2], folded[3], "score",
                      Column("link", overflow="fold"), box=None)
        for row in shown.itertuples():
            table.add_row(row.applicant_id, row.applicant, row.applicant_type, row.firm_id, row.firm,
                          row.status, f"{row.score:.2f}", row.link_type)
        Console().print(table)
        console.print(f"{len(queue)} links wait for review; decide with --applicant ID --accept/--choose/--reject")
        return
    if len(given) != 1 or not reviewer:
        _fail_bad_input("give exactly one of --accept / --choose / --reject, and --reviewer")
    (action, firm_id), = given.items()
    firm_id = None if (action == "reject" and firm_id == "all") else firm_id
    _guard(lambda: record_decision(state.workspace, applicant, action, firm_id, reviewer, note))
    console.print(f"[bold green]✓ review[/bold green] {action} {applicant} → {firm_id or 'no firm'}"
                  f" recorded in {state.workspace.decisions_path}; run `patentgraph match` to apply it")


@app.command()
def classify(chains: Annotated[Path | None, typer.Option(help="Folder of chain YAML files")] = None) -> None:
    """Assign patents to chain nodes by each node's search expression; print and save the per-node report."""
    result = _guard(lambda: pipeline.classify(state.workspace, chains))
    _show(result)
    nodes = result.report.node_table()
    path = state.workspace.reports_dir / f"{result.run_id}-nodes.csv"
    _guard(lambda: _write_report_csv(nodes, path))
    console.print(_node_report(nodes))
    console.print(f"  per-node report: {path}")


_SHARE_TITLES = {"company": "co.", "university": "univ.", "research_institute": "inst.", "hospital": "hosp.",
                 "individual": "person", "government": "gov.", "unknown": "unkn.", "operating_firm": "operating"}


def _node_report(nodes) -> Table:
    """Counts and shares per node, indented by level; shares as percentages (blank: no matching ran yet)."""
    import pandas as pd

    shares = [c for c in nodes.columns if c.startswith("share_")]
    titles = [_SHARE_TITLES.get(c.removeprefix("share_"), c.removeprefix("share_")) + " %" for c in shares]
    table = Table("node", "patents", "+ sub-nodes", *titles, box=None, pad_edge=False,
                  title="patents per node; % of the node's own patents by first applicant, and held by an operating firm")
    table.columns[0].no_wrap = True
    for row in nodes.to_dict("records"):
        table.add_row(f"{'  ' * (row['level'] - 1)}{row['node_id']}",
                      "-" if pd.isna(row["patents"]) else f"{int(row['patents']):,}",
                      f"{row['patents_with_sub_nodes']:,}",
                      *("" if pd.isna(row[c]) else f"{100 * row[c]:.0f}" for c in shares))
    return table


def _write_report_csv(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8-sig")  # the BOM: Excel then reads the node names right


@app.command()
def rank(
    scorecard: Annotated[Path | None, typer.Option(help="Scorecard YAML merged onto the shipped one")] = None,
) -> None:
    """Score and rank the eligible operating firms of every chain node (exclusions → firm_exclusions)."""
    from graph.ranking import load_scorecard, rank_firms

    card = _guard(lambda: load_scorecard(scorecard))
    result = _guard(lambda: pipeline.run_stage(state.workspace, "rank", lambda rid: rank_firms(state.workspace, rid, card),
                                               scorecard=card.source))
    _show(result)


@app.command("rank-sensitivity")
def rank_sensitivity(
    chain: Annotated[str, typer.Option(help="Chain id")],
    node: Annotated[str, typer.Option(help="Node id")],
    weight: Annotated[list[str], typer.Option(help="dimension=value or dimension.feature=value (repeatable)")],
    scorecard: Annotated[Path | None, typer.Option(help="Scorecard YAML to start from")] = None,
    top: Annotated[int, typer.Option(min=1, help="How many of the top firms to compare")] = 20,
) -> None:
    """Show how a node's top firms move when scorecard weights change (nothing is written)."""
    from graph.ranking import load_scorecard
    from graph.ranking import rank_sensitivity as sensitivity

    changes = {}
    for item in weight:
        key, sep, raw = item.partition("=")
        try:
            changes[key.strip()] = float(raw)
        except ValueError:
            _fail_bad_input(f"--weight {item!r}: expected name=number, e.g. growth=0.4")
        if not sep:
            _fail_bad_input(f"--weight {item!r}: expected name=number, e.g. growth=0.4")
    card = _guard(lambda: load_scorecard(scorecard))
    table = _guard(lambda: sensitivity(state.workspace, chain, node, changes, card, top))
    names = state.workspace.read_df("firms", ["firm_id", "name"]).set_index("firm_id")["name"]
    shown = Table(Column("firm", overflow="fold"), _uncut_column("credit code", table["firm_id"]), "rank before",
                  "rank after", "score before", "score after", "move", box=None)
    for row in table.itertuples():
        shown.add_row(str(names.get(row.firm_id, "")), row.firm_id, _rank_text(row.rank_before),
                      _rank_text(row.rank_after), _score_text(row.score_before), _score_text(row.score_after), row.move)
    Console().print(shown)
    moved_in, moved_out = (table["move"] == "in").sum(), (table["move"] == "out").sum()
    console.print(f"{', '.join(f'{k}={v}' for k, v in changes.items())}: {moved_in} firms move into the top {top},"
                  f" {moved_out} move out, {table['move'].str.startswith(('up', 'down')).sum()} change place")


def _uncut_column(title: str, values) -> Column:
    """A column as wide as its longest value: ids a user types back are never cut; other columns fold instead."""
    return Column(title, no_wrap=True, min_width=max([len(title), *(len(str(v)) for v in values)]))


def _rank_text(value: float) -> str:
    return "-" if value != value else str(int(value))


def _score_text(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


@app.command()
def load(
    backend: Annotated[str | None, typer.Option(help="ladybug (embedded, default) or neo4j")] = None,
    delta: Annotated[bool | None, typer.Option(
        "--delta/--full", help="Embedded: apply only the changed rows to a copy of the current version, or"
        " rebuild it whole (default: a delta when one is possible and small)")] = None,
) -> None:
    """Build the graph from the workspace tables (embedded: a new version, switched in atomically)."""
    if backend:
        state.settings.backend = backend
    mode = "auto" if delta is None else "delta" if delta else "full"
    _show(_guard(lambda: pipeline.load(state.workspace, state.settings, mode)))


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="Output file (.csv or .xlsx)")],
    chain: Annotated[str | None, typer.Option(help="Chain id")] = None,
    node: Annotated[str | None, typer.Option(help="Node id")] = None,
    province: Annotated[str | None, typer.Option(help="Only firms registered in this province (广东 or 广东省)")] = None,
    city: Annotated[str | None, typer.Option(help="Only firms registered in this city")] = None,
    branches: Annotated[Path | None, typer.Option(help="Branch territory file (YAML: branch → regions)")] = None,
    branch: Annotated[str | None, typer.Option(help="Only this branch's territory (needs --branches)")] = None,
    sheet_per_node: Annotated[bool, typer.Option("--sheet-per-node", help="XLSX: one sheet per node")] = False,
) -> None:
    """Write a target list of ranked operating firms for marketers (CSV or XLSX)."""
    from graph.export import write_targets

    path, rows = _guard(lambda: write_targets(
        state.workspace, out, chain, node, province=province, city=city, branches_file=branches, branch=branch,
        sheet_per_node=sheet_per_node,
    ))
    console.print(f"[bold green]✓ export[/bold green] {rows} firms → {path}")


@app.command()
def cypher(
    query: Annotated[str | None, typer.Argument(help="A read-only Cypher query")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Query parameter name=value (JSON values allowed)")] = None,
    saved: Annotated[str | None, typer.Option(help="Run a saved catalog query by name")] = None,
    output: Annotated[str, typer.Option(help="table, csv or json")] = "table",
    list_saved: Annotated[bool, typer.Option("--list", help="List the saved catalog queries")] = False,
) -> None:
    """Run read-only Cypher against the graph (timeout and row cap from the settings)."""
    from graph.catalog import get_query, list_queries
    from graph.cypher import CypherError, run_cypher, to_csv, to_json, to_rich_table
    from graph.load import open_reader

    if list_saved:
        for item in list_queries():
            names = ", ".join(f"{p.name}: {p.type}" for p in item.params)
            typer.echo(f"{item.name}({names}) — {item.description}")
        return
    if output not in ("table", "csv", "json"):
        _fail_bad_input(f"--output must be table, csv or json, not {output!r}")
    params = dict(_parse_param(item) for item in param or [])
    if saved:
        entry = _guard(lambda: get_query(saved))
        query, params = entry.cypher, _guard(lambda: entry.bind(params))
    if not query:
        _fail_bad_input("give a query or --saved NAME")
    settings = state.settings
    try:
        with _guard(lambda: open_reader(settings if settings.backend == "neo4j" else state.workspace)) as reader:
            result = run_cypher(query, params, backend=reader, timeout_s=settings.query_timeout_s,
                                row_cap=settings.row_cap)
    except CypherError as exc:
        _fail_bad_input(str(exc))
    if output == "table":
        Console().print(to_rich_table(result))
    else:
        typer.echo(to_csv(result) if output == "csv" else to_json(result))
    if result.truncated:
        console.print(f"[yellow]result truncated at the row cap ({settings.row_cap} rows)[/yellow]")


def _parse_param(item: str) -> tuple[str, object]:
    if "=" not in item:
        _fail_bad_input(f"--param {item!r}: expected name=value")
    key, raw = item.split("=", 1)
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps the UI on this machine")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8050,
) -> None:
    """Serve the Dash explorer over the workspace."""
    from dash_app import serve as serve_app

    serve_app(state.workspace.root, host=host, port=port, settings=state.settings)


user_app = typer.Typer(help="Explorer users and their roles (analyst, marketer, risk, admin)")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="analyst, marketer, risk or admin")] = "analyst",
) -> None:
    """Add a user (or change their role and password); the password is asked for, never an argument."""
    from dash_app.auth import add_user, users_path

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    path = users_path(state.workspace.root)
    _guard(lambda: add_user(path, name, role, password))
    console.print(f"user {name} ({role}) saved in {path}")


@app.command()
def refresh(
    patents: Annotated[list[Path] | None, typer.Option(help="New patent files or folders")] = None,
    firms: Annotated[list[Path] | None, typer.Option(help="Registry update files or folders")] = None,
    rank_move: Annotated[int, typer.Option(
        help="Report rank moves of at least this many places that are also at least 20 % of the earlier rank")] = 5,
    top: Annotated[int, typer.Option(help="Also report every move into or out of a node's top N (and tier changes)")
                   ] = 20,
) -> None:
    """Take in new inputs, bring matches, nodes, rankings and the graph up to date, report what changed.

    One job at a time (a lock in the workspace); an interrupted refresh is finished by the next one.
    Exit codes: 0 done or up to date, 2 bad input, 3 another refresh is running, 1 failure.
    A JSON summary and a change report (CSV) are written under <workspace>/refresh/<run id>/.
    """
    from graph.refresh import RefreshBusy
    from graph.refresh import refresh as run_refresh

    try:
        summaries = _guard(lambda: run_refresh(state.workspace, state.settings, patents or [], firms or [],
                                               rank_move=rank_move, on_stage=_show, top=top))
    except RefreshBusy as exc:
        console.print(f"[yellow]busy:[/yellow] {exc}")
        raise typer.Exit(EXIT_BUSY) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a scheduler needs one line and a distinct code; the traceback follows
        console.print_exception()
        console.print(f"[red]refresh failed:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_FAILURE) from None
    for summary in summaries:
        typer.echo(summary.one_line())


@app.command()
def demo(
    patents: Annotated[int, typer.Option(min=10, help="Demo patents to generate")] = 3000,
    firms: Annotated[int, typer.Option(min=10, help="Demo firms to generate")] = 800,
    seed: Annotated[int, typer.Option()] = 7,
    serve_ui: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the UI after the build")] = True,
    port: Annotated[int, typer.Option()] = 8050,
) -> None:
    """Generate demo data, run every stage into the embedded graph, then serve the UI."""
    from ingest import generate as generate_dataset

    workspace = state.workspace
    data_dir = workspace.root / "demo-input"
    start = time.perf_counter()
    dataset = generate_dataset(data_dir, n_patents=patents, n_firms=firms, seed=seed)
    console.print(f"[bold green]✓ generate[/bold green] {patents} patents, {firms} firms (synthetic) → {data_dir}")
    state.settings.backend = "ladybug"
    _guard(lambda: pipeline.build_all(workspace, state.settings, dataset.patent_files, dataset.firm_files, _show))
    from matching import evaluate_matching as evaluate

    evaluation = evaluate(workspace, dataset.labels)
    console.print(evaluation.summary(max_errors=5), markup=False)
    if len(evaluation.errors) > 5:  # the rest would scroll the build's summary away
        console.print(f"  every error: patentgraph --workspace {workspace.root} evaluate-matching "
                      f"--labels {dataset.labels} --all-errors", markup=False, soft_wrap=True)
    from graph.export import write_targets

    path, rows = write_targets(workspace, workspace.exports_dir / "demo-targets.csv")
    console.print(f"[bold green]✓ export[/bold green] {rows} ranked firms → {path}")
    console.print(f"[bold]demo built in {time.perf_counter() - start:.1f}s[/bold] (workspace {workspace.root})")
    if serve_ui:
        serve(host="127.0.0.1", port=port)
