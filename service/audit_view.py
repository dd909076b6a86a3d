"""A readable audit report for one extraction (the ``govreport audit`` view).

Prints a table of the failed and not-evaluable rules (rule, scope, expected,
found, difference, the figures involved as the check's detail states them, with
their line numbers when the extraction carries its text) and a one-line summary.  Colour comes
from rich only when the console is a terminal; otherwise the output is plain
text, so it can be piped or diffed.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def _num(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _lines(spans: list, text: str | None) -> str:
    """Where the figures are, as line numbers of the derived text."""
    if not text or not spans:
        return ""
    numbers = sorted({text.count("\n", 0, start) + 1 for start, _ in spans})
    shown = ", ".join(map(str, numbers[:8])) + (" …" if len(numbers) > 8 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def render_audit(source: str, extraction: dict, console: Console) -> None:
    """Print the failed and unknown checks of one extraction, then a summary line."""
    checks = extraction.get("checks") or []
    audit = extraction.get("audit") or {}
    passed = audit.get("passed", sum(c.get("ok") is True for c in checks))
    failed = audit.get("failed", sum(c.get("ok") is False for c in checks))
    unknown = audit.get("unknown", sum(c.get("ok") is None for c in checks))

    console.print(Text(source, style="bold"))
    problems = [c for c in checks if c.get("ok") is not True]
    if problems:
        # One line per rule with its numbers, the detail wrapped on the line below it, so
        # the report reads well in 80 columns as in a wide terminal.
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
        table.add_column("", no_wrap=True)
        table.add_column(Text("rule [scope] / what disagrees"), ratio=1, overflow="fold")
        table.add_column("expected", justify="right", no_wrap=True)
        table.add_column("found", justify="right", no_wrap=True)
        table.add_column("diff", justify="right", no_wrap=True)
        # Failures first, then the rules that could not be evaluated.
        for c in sorted(problems, key=lambda c: c.get("ok") is None):
            is_fail = c.get("ok") is False
            exp, fnd = c.get("expected"), c.get("found")
            diff = ""
            if is_fail and exp is not None and fnd is not None:
                d = fnd - exp
                diff = ("+" if d > 0 else "") + _num(d)
            status = Text("FAIL", style="bold red") if is_fail else Text("?", style="yellow")
            what = c.get("detail", "")
            where = _lines(c.get("spans") or [], extraction.get("text"))
            if where:
                what = f"{what} ({where})"
            table.add_row(status, Text(f"{c.get('rule', '')} [{c.get('scope', '')}]", style="bold"),
                          _num(exp) if is_fail else "", _num(fnd) if is_fail else "",
                          Text(diff, style="red"))
            table.add_row("", Text("  " + what, style="dim"), "", "", "")
        console.print(table)
    verdict = (Text("FAILED", style="bold red") if failed else
               Text("passed", style="bold green"))
    line = Text("  ")
    line.append(verdict)
    line.append(f": {passed} passed, {failed} failed, {unknown} not evaluable")
    console.print(line)
