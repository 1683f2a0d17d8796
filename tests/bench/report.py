"""The result table: one row per figure, printed, and written as JSON and markdown."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.bench.stats import Timing

HIGHER_IS_BETTER = {"req/s", "rows/s"}


@dataclass(frozen=True)
class Measure:
    """A median (or single) value; `p95` and `samples` when it summarizes repeated runs."""

    value: float
    unit: str
    p95: float | None = None
    samples: int | None = None

    @classmethod
    def of(cls, timing: Timing) -> Measure:
        return cls(timing.median_ms, "ms", timing.p95_ms, timing.samples)

    def text(self) -> str:
        if self.p95 is None:
            return f"{self.value:,.2f} {self.unit}".replace(".00 ", " ")
        return f"{self.value:,.1f} {self.unit} (p95 {self.p95:,.1f}, n={self.samples})"

    @property
    def checked(self) -> float:
        """The number a target is about: the p95 where there is one."""
        return self.p95 if self.p95 is not None else self.value


@dataclass(frozen=True)
class Target:
    """The issue's target (stated for the 10m scale on 2 cores)."""

    at_most: float | None = None
    at_least: float | None = None
    min_speedup: float | None = None
    unit: str = ""

    def text(self) -> str:
        parts = []
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:g} {self.unit}".strip())
        if self.at_least is not None:
            parts.append(f"≥ {self.at_least:g} {self.unit}".strip())
        if self.min_speedup is not None:
            parts.append(f"≥ {self.min_speedup:g}× baseline")
        return "; ".join(parts)

    def met(self, ours: Measure, speedup: float | None) -> bool:
        if self.at_most is not None and ours.checked > self.at_most:
            return False
        if self.at_least is not None and ours.checked < self.at_least:
            return False
        return self.min_speedup is None or (speedup is not None and speedup >= self.min_speedup)


@dataclass
class Row:
    section: str
    figure: str
    ours: Measure | None
    baseline: Measure | None = None
    target: Target | None = None
    note: str = ""  # why a figure is missing ("error: answered 503"), or what it was measured on
    called: str = ""  # the verdict of an interleaved comparison (tests/bench/interleave.py)

    @property
    def speedup(self) -> float | None:
        """How many times better than the baseline: >1 is better, whatever the unit."""
        if self.ours is None or self.baseline is None or not self.ours.value or not self.baseline.value:
            return None
        if self.ours.unit in HIGHER_IS_BETTER:
            return round(self.ours.value / self.baseline.value, 2)
        return round(self.baseline.value / self.ours.value, 2)

    @property
    def verdict(self) -> str:
        if self.called:
            return self.called
        if self.target is None or self.ours is None:
            return ""
        return "met" if self.target.met(self.ours, self.speedup) else "missed"

    def cells(self) -> list[str]:
        return [
            self.figure,
            self.ours.text() if self.ours else self.note or "n/a",
            self.baseline.text() if self.baseline else "",
            f"{self.speedup:g}×" if self.speedup is not None else "",
            self.target.text() if self.target else "",
            self.verdict,
            self.note if self.ours else "",
        ]


HEADER = ["figure", "ours", "baseline", "speed-up", "target (10m)", "", "note"]


@dataclass
class Report:
    scale: str
    machine: dict
    dataset: dict
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def markdown(self) -> str:
        lines = [
            self.headline(),
            "",
            "| " + " | ".join(HEADER) + " |",
            "|" + "---|" * len(HEADER),
        ]
        section = None
        for row in self.rows:
            if row.section != section:
                section = row.section
                lines.append(f"| **{section}** |" + " |" * (len(HEADER) - 1))
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |")
        return "\n".join(lines) + "\n"

    def headline(self) -> str:
        d = self.dataset
        return (f"Scale `{self.scale}`: {d['ledger_rows']:,} ledger rows, {d['users']:,} users, {d['days']} days "
                f"(built {d['built_at']:%Y-%m-%d %H:%M} UTC). Machine: {self.machine_text()}.")

    def text_table(self) -> str:
        table = [HEADER] + [row.cells() for row in self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
        out = []
        section = None
        for index, cells in enumerate(table):
            if index and self.rows[index - 1].section != section:
                section = self.rows[index - 1].section
                out.append(f"-- {section}")
            out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        return "\n".join(out)

    def machine_text(self) -> str:
        m = self.machine
        return (f"{m['cores']} cores, {m['memory_gib']} GiB, {m['database']} "
                f"(InnoDB buffer pool {m['innodb_buffer_pool_mib']} MiB), Python {m['python']}")

    def to_json(self) -> dict:
        return {
            "scale": self.scale,
            "machine": self.machine,
            "dataset": self.dataset,
            "rows": [
                {**asdict(row), "speedup": row.speedup, "verdict": row.verdict,
                 "target_text": row.target.text() if row.target else None}
                for row in self.rows
            ],
        }

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / f"{self.scale}.json"
        md_path = directory / f"{self.scale}.md"
        json_path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        md_path.write_text(self.markdown())
        return json_path, md_path
