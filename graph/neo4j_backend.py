"""Neo4j backend: idempotent constraints, batched MERGE loads, read-only queries.

The driver is created once at the edge (`neo4j_driver(settings)`) and injected. Query
builders are pure functions of the schema: every value travels in `$rows`, never in the text.
Writes go through `session.execute_write`, which retries transient errors (deadlocks, leader
changes) by itself; reads through READ-mode sessions and `execute_read` with a timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import neo4j
import pyarrow as pa
from neo4j import READ_ACCESS, Driver, GraphDatabase
from neo4j.exceptions import ClientError, DriverError, Neo4jError

from graph.config import Settings
from graph.cypher import CypherError, QueryTimeout, ReadOnlyViolation
from graph.schema import NODE_TYPES, NODES, REL_TYPES, NodeType, RelType


def neo4j_driver(settings: Settings) -> Driver:
    neo = settings.neo4j
    if not neo.uri:
        raise ValueError("no Neo4j server configured: set NEO4J_URI (and NEO4J_PASSWORD) or [neo4j] uri in the config")
    password = neo.password.get_secret_value() if neo.password else None
    return GraphDatabase.driver(neo.uri, auth=(neo.user, password) if password else None,
                                max_transaction_retry_time=neo.retry_seconds)


# Pure query builders -------------------------------------------------------------------------


def constraint_statements() -> list[str]:
    """One uniqueness constraint per label on its key (creating the index MERGE looks up by)."""
    return [
        f"CREATE CONSTRAINT {n.label.lower()}_{n.key}_unique IF NOT EXISTS "
        f"FOR (n:{n.label}) REQUIRE n.{n.key} IS UNIQUE"
        for n in NODE_TYPES
    ]


def merge_nodes_query(node: NodeType) -> str:
    assignments = ", ".join(f"n.{p.name} = row.{p.name}" for p in node.props if p.name != node.key)
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (n:{node.label} {{{node.key}: row.{node.key}}})\n"
        f"SET {assignments}"
    )


def merge_rels_query(rel: RelType) -> str:
    """Rows carry `src` and `dst` (the endpoint keys) and the relationship's properties."""
    start, end = NODES[rel.start], NODES[rel.end]
    identity = ", ".join(f"{name}: row.{name}" for name in rel.identity)
    merge = f"MERGE (a)-[r:{rel.type}{' {' + identity + '}' if identity else ''}]->(b)"
    assignments = ", ".join(f"r.{p.name} = row.{p.name}" for p in rel.props if p.name not in rel.identity)
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{start.label} {{{start.key}: row.src}})\n"
        f"MATCH (b:{end.label} {{{end.key}: row.dst}})\n"
        f"{merge}" + (f"\nSET {assignments}" if assignments else "")
    )


def delete_rels_query(rel: RelType) -> str:
    """Rows carry `src`, `dst` and the identity properties of relationships that no longer hold."""
    start, end = NODES[rel.start], NODES[rel.end]
    where = " AND ".join(f"(r.{name} = row.{name} OR (r.{name} IS NULL AND row.{name} IS NULL))"
                         for name in rel.identity)
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{start.label} {{{start.key}: row.src}})-[r:{rel.type}]->(b:{end.label} {{{end.key}: row.dst}})\n"
        + (f"WHERE {where}\n" if where else "") + "DELETE r"
    )


def delete_nodes_query(node: NodeType) -> str:
    """Rows carry the keys of nodes no longer in the tables; their relationships go with them."""
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (n:{node.label} {{{node.key}: row.{node.key}}})\n"
        "DETACH DELETE n"
    )


def count_query(label: str | None = None, rel_type: str | None = None) -> str:
    if label:
        return f"MATCH (n:{label}) RETURN count(n) AS n"
    return f"MATCH ()-[r:{rel_type}]->() RETURN count(r) AS n"


def batches(table: pa.Table, size: int, *, rel: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Rows of `table` as parameter maps, `size` at a time (relationship ends renamed to src / dst)."""
    if rel:
        table = table.rename_columns(["src", "dst", *table.column_names[2:]])
    for batch in table.to_batches(max_chunksize=size):
        yield batch.to_pylist()


# Loading and reading -------------------------------------------------------------------------


class Neo4jGraph:
    """Writes the graph into one Neo4j database through an injected driver."""

    def __init__(self, driver: Driver, database: str, batch_size: int = 10_000):
        self.driver = driver
        self.database = database
        self.batch_size = batch_size

    def ensure_constraints(self) -> None:
        # execute_query runs each in a managed transaction, retried on transient errors like the batches
        for statement in constraint_statements():
            self.driver.execute_query(statement, database_=self.database)

    def write(self, query: str, rows: Iterator[list[dict[str, Any]]]) -> int:
        written = 0
        with self.driver.session(database=self.database) as session:
            for batch in rows:
                session.execute_write(_run_batch, query, batch)
                written += len(batch)
        return written

    def write_nodes(self, label: str, table: pa.Table) -> int:
        return self.write(merge_nodes_query(NODES[label]), batches(table, self.batch_size))

    def write_rels(self, rel: RelType, table: pa.Table) -> int:
        return self.write(merge_rels_query(rel), batches(table, self.batch_size, rel=True))

    def delete_nodes(self, label: str, keys: pa.Table) -> int:
        return self.write(delete_nodes_query(NODES[label]), batches(keys, self.batch_size))

    def delete_rels(self, rel: RelType, keys: pa.Table) -> int:
        return self.write(delete_rels_query(rel), batches(keys, self.batch_size, rel=True))

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        records = {}
        for name, query in [*((n.label, count_query(label=n.label)) for n in NODE_TYPES),
                            *((r.type, count_query(rel_type=r.type)) for r in REL_TYPES)]:
            records[name] = self.driver.execute_query(query, database_=self.database,
                                                      routing_=neo4j.RoutingControl.READ).records[0]["n"]
        return ({n.label: records[n.label] for n in NODE_TYPES}, {r.type: records[r.type] for r in REL_TYPES})


def _run_batch(tx: neo4j.ManagedTransaction, query: str, rows: list[dict[str, Any]]) -> None:
    tx.run(query, rows=rows).consume()


class Neo4jReader:
    """Read-only queries: READ access mode sessions, read transactions with a server-side timeout."""

    backend = "neo4j"

    def __init__(self, driver: Driver, database: str, *, owns_driver: bool = False):
        self.driver = driver
        self.database = database
        self._owns_driver = owns_driver

    def fetch(self, query: str, params: dict[str, Any], *, timeout_s: float,
              row_cap: int) -> tuple[list[str], list[list[Any]], bool]:
        @neo4j.unit_of_work(timeout=timeout_s)
        def read(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[list[Any]], bool]:
            result = tx.run(query, params)
            rows = []
            for record in result:
                if len(rows) == row_cap:
                    return list(result.keys()), rows, True
                rows.append([_plain(value) for value in record.values()])
            return list(result.keys()), rows, False

        try:
            with self.driver.session(database=self.database, default_access_mode=READ_ACCESS) as session:
                return session.execute_read(read)
        except ClientError as exc:
            code = exc.code or ""
            if "TransactionTimedOut" in code:
                raise QueryTimeout(f"query stopped after the {timeout_s:g} s time limit; narrow it or add LIMIT") from None
            if "AccessMode" in code or "Forbidden" in code:
                raise ReadOnlyViolation(f"refused by the database: {exc.message}") from None
            raise CypherError(exc.message or str(exc)) from None
        except Neo4jError as exc:
            raise CypherError(exc.message or str(exc)) from None
        except DriverError as exc:  # unreachable, restarted, refused: say where, not a traceback
            addresses = ", ".join(str(a) for a in self.driver.initial_addresses)
            raise CypherError(f"Neo4j at {addresses} cannot be reached: {exc}") from None

    def close(self) -> None:
        if self._owns_driver:
            self.driver.close()

    def __enter__(self) -> Neo4jReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """Neo4j values as plain Python: nodes and relationships as maps, temporal values native."""
    if isinstance(value, neo4j.graph.Node):
        return {"_label": next(iter(value.labels), None), **{k: _plain(v) for k, v in value.items()}}
    if isinstance(value, neo4j.graph.Relationship):
        return {"_type": value.type, **{k: _plain(v) for k, v in value.items()}}
    if isinstance(value, neo4j.graph.Path):
        return {"nodes": [_plain(n) for n in value.nodes], "relationships": [_plain(r) for r in value.relationships]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "to_native"):
        return value.to_native()
    return value
