"""Settings: `patentgraph.toml` (in the working directory or given with --config), then the environment.

Secrets (the Neo4j password) come only from the environment and are never printed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Neo4jSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uri: str | None = None
    user: str = "neo4j"
    password: SecretStr | None = Field(default=None, exclude=True)
    database: str = "neo4j"
    batch_size: int = Field(default=10_000, gt=0)
    # how long the driver keeps retrying a transaction on transient errors, an unreachable server included
    retry_seconds: float = Field(default=30.0, ge=0)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workspace: Path = Path("workspace")
    backend: str = Field(default="ladybug", pattern="^(ladybug|neo4j)$")
    query_timeout_s: float = Field(default=10.0, gt=0)
    row_cap: int = Field(default=10_000, gt=0)
    neo4j: Neo4jSettings = Neo4jSettings()


def load_settings(config: Path | None = None, workspace: Path | None = None) -> Settings:
    """Read settings from `config` (or ./patentgraph.toml if present); overlay env and CLI flags."""
    path = config or Path("patentgraph.toml")
    data: dict = {}
    if path.exists():
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    elif config is not None:
        raise FileNotFoundError(f"{config}: config file not found")
    neo = dict(data.get("neo4j", {}))
    if "password" in neo:
        raise ValueError(f"{path}: [neo4j] password must not be stored in a file; set NEO4J_PASSWORD")
    for key, env in (("uri", "NEO4J_URI"), ("user", "NEO4J_USER"), ("database", "NEO4J_DATABASE"),
                     ("retry_seconds", "NEO4J_RETRY_SECONDS")):
        if os.environ.get(env):
            neo[key] = os.environ[env]
    if os.environ.get("NEO4J_PASSWORD"):
        neo["password"] = os.environ["NEO4J_PASSWORD"]
    data["neo4j"] = neo
    settings = Settings.model_validate(data)
    if workspace is not None:
        settings.workspace = workspace
    elif not settings.workspace.is_absolute() and path.exists():
        settings.workspace = path.parent / settings.workspace
    return settings
