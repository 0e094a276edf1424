"""Snapshots on the QEMU driver (placeholder until snapshots land)."""

from __future__ import annotations


class Snapshots:
    def snapshot_count(self) -> int:
        return 0

    def drop_snapshot_metadata(self) -> None:
        pass

    def list_all_snapshots(self, flags: int = 0):
        return []
