"""The report: one self-contained HTML page (figures embedded) plus a JSON file of every number."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actlab.io import atomic_path, write_json


def _plain_text(value: Any) -> str:
    """``value`` for a reader: a mapping as ``key value, ...`` rather than Python syntax."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(section: Mapping[str, Any]) -> str:
    """``"holds"``, ``"fails"`` (naming the failed checks) or ``""`` from ``section["claims"]``."""
    claims = section.get("claims") or {}
    failed = [name for name, ok in claims.items() if not ok]
    if not claims:
        return ""
    return "fails: " + ", ".join(failed) if failed else "holds"


def _contents_html(sections: Sequence[Mapping[str, Any]]) -> str:
    items = "".join(
        f"<li><a href='#{html.escape(s['key'])}'>{html.escape(s['title'])}</a>"
        f"{' &mdash; ' + html.escape(_verdict(s)) if _verdict(s) else ''}</li>"
        for s in sections
    )
    return f"<nav><h2>Contents</h2><ol>{items}</ol></nav>"


def _figure_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"></figure>'
    )


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
figure { margin: 1em 0; } img { max-width: 100%; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f3f3f3; } .meta { color: #666; font-size: 0.9em; }
.claim { font-style: italic; }
"""


def write(
    out_dir: str | Path, sections: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]
) -> Path:
    """Write ``index.html`` and ``results.json`` into ``out_dir``; returns the HTML path.

    Args:
      out_dir: the report folder; each section's figures are files under ``out_dir / key``.
      sections: dicts with ``key``, ``title``, optional ``claim`` (shown under the title) and
        ``claims`` (verdicts, summarised in the contents), ``summary``, ``figures`` (PNG/SVG names under
        ``out_dir / key``; PNGs are embedded), optional ``table`` (list of row dicts) and any
        other numbers, all of which go to ``results.json``.
      meta: run information (versions, device, quick mode, timings) shown at the top.
    """
    out_dir = Path(out_dir)
    parts = [
        f"<h1>actlab: the claims about activation functions, measured</h1>"
        f"<p class='meta'>{html.escape(', '.join(f'{k}: {_plain_text(v)}' for k, v in meta.items()))}</p>"
    ]
    parts.append(_contents_html(sections))
    for number, section in enumerate(sections, start=1):
        parts.append(f"<section id='{html.escape(section['key'])}'>")
        parts.append(f"<h2>{number}. {html.escape(section['title'])}</h2>")
        if section.get("claim"):
            parts.append(f"<p class='claim'>Claim: {html.escape(section['claim'])}</p>")
        parts.append(f"<p>{html.escape(section['summary'])}</p>")
        for name in section.get("figures", []):
            if name.endswith(".png"):
                parts.append(_figure_html(out_dir / section["key"] / name))
        parts.append(_table_html(section.get("table", [])))
        parts.append("</section>")
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>actlab report</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")  # fmt: skip
    index = out_dir / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(page)
    write_json(out_dir / "results.json", {"meta": dict(meta), "sections": list(sections)})
    return index
