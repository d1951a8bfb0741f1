"""The operator's bounds on what intake and the format pre-scans accept (docs/spec/quality.md).

They live with the formats because every pre-scan takes them; refdata builds them from the
``[limits]`` table of the config file.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Starting limits from docs/spec/quality.md; each can be overridden by the operator."""

    max_file_bytes: int = 50 * 2**20
    max_depth: int = 3  # e-mail -> forwarded e-mail -> zip -> workbook
    max_entries: int = 1000
    max_part_bytes: int = 128 * 2**20
    max_package_bytes: int = 256 * 2**20
    max_ratio: float = 100.0
    ratio_min_part: int = 2**20
    max_name_len: int = 255
    max_sheets: int = 50
    max_cells: int = 5_000_000
    max_passwords: int = 5
    max_mime_parts: int = 100
    max_mime_depth: int = 10


DEFAULT_LIMITS = Limits()
