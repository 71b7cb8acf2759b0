"""The pieces a Markdown report is joined from, so that it can be cut to fit GitHub's comment limit:
tables that lose rows, blocks kept whole or dropped, and plain text. Shared by every Markdown reporter."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    """A Markdown table that may be cut to fit; ``where`` names what was left out."""

    header: list[str]
    rows: list[str]
    what: str
    before: str = ""
    after: str = ""
    keep: int | None = None  # rows kept after a cut; None = all
    notes: list[str] = field(default_factory=list)

    def text(self, json_hint: str) -> str:
        rows = self.rows if self.keep is None else self.rows[: self.keep]
        out = [self.before] if self.before else []
        out += self.header + rows
        left = len(self.rows) - len(rows)
        if left:
            out.append("")
            out.append(f"*{left:,} more {self.what} left out to fit GitHub's comment limit; {json_hint}.*")
        if self.after:
            out.append(self.after)
        return "\n".join(out) + "\n"


@dataclass
class Blocks:
    """Blocks shown whole or not at all (the plots): dropped, last first, before any table is cut."""

    blocks: list[str]
    what: str
    keep: int | None = None  # blocks kept; None = all

    def text(self, json_hint: str) -> str:
        kept = self.blocks if self.keep is None else self.blocks[: self.keep]
        left = len(self.blocks) - len(kept)
        where = json_hint.replace("all rows are", "their data is", 1)
        note = f"\n*{left:,} {self.what} left out to fit GitHub's comment limit; {where}.*\n" if left else ""
        return "\n".join(kept) + note


Part = str | Table | Blocks
