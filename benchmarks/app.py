"""Item 3 of issue 5: app latency (key press → frame) and "continue" throughput, via Textual's Pilot.

Measured only when `tui/app.py` provides `make_app`; otherwise the rows say
it was not measured.
"""

from __future__ import annotations

import importlib.util

from .common import Row, Section


def run(quick: bool = False) -> Section:
    """App latency rows (or a note that the app does not exist yet)."""
    section = Section("App latency (item 3)")
    if importlib.util.find_spec("nnstep.tui.app") is None:
        section.detail.append("Not measured: `tui/app.py` (make_app) did not exist when this ran.")
        for what, goal in (
            ("next op, key → frame, tutorial (p95)", "≤ 50 ms"),
            ("next op, key → frame, 784→128→10 (p95)", "≤ 150 ms"),
            ("continue: iterations/s vs headless fast path", "≥ 50 %"),
        ):
            section.rows.append(Row("3", what, "not measured (no app yet)", goal))
        return section
    from .app_pilot import measure

    return measure(section, quick)
