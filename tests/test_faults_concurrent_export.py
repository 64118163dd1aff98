"""Two marketers exporting the same node at the same moment (the UI serves requests on threads)."""

from __future__ import annotations

import threading

from graph_fixtures import write_fixture_workspace

from graph.export import write_targets


def test_concurrent_exports_of_one_node_all_succeed(tmp_path):
    workspace = write_fixture_workspace(tmp_path / "ws")
    failures: list[BaseException] = []

    def export_repeatedly() -> None:
        for _ in range(30):
            try:
                write_targets(workspace, workspace.exports_dir / "same.csv")
            except Exception as exc:  # noqa: BLE001 - every failure counts
                failures.append(exc)

    threads = [threading.Thread(target=export_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
