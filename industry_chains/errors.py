"""Errors for chain files and search expressions; each names the file, the node and the problem."""

from __future__ import annotations


class ChainError(ValueError):
    """A chain YAML file is invalid: `file`, `node` (path or id) and `problem` say where and why."""

    def __init__(self, problem: str, *, file: str | None = None, node: str | None = None):
        self.problem = problem
        self.file = file
        self.node = node
        super().__init__(self._render())

    def _render(self) -> str:
        where = " ".join(part for part in (self.file, self.node) if part)
        return f"{where}: {self.problem}" if where else self.problem


class ExpressionError(ChainError):
    """A search expression does not parse; `column` (1-based) points at the problem."""

    def __init__(self, problem: str, *, column: int, file: str | None = None, node: str | None = None):
        self.column = column
        super().__init__(f"column {column}: {problem}", file=file, node=node)
        self.problem = problem

    def located(self, file: str, node: str) -> ExpressionError:
        """The same error, told where the expression came from."""
        return ExpressionError(self.problem, column=self.column, file=file, node=node)
