"""A report as a list of blocks, written twice: Markdown (images linked) and HTML (inlined).

    doc = Document('nanobot_ros run 20261201-153000')
    doc.heading('Environment'); doc.table(['what', 'value'], rows); doc.image(png, 'caption')
    doc.write(folder)      # folder/report.md and folder/report.html

The HTML file is self-contained: its images are data: URIs and its style is inline, so it
can be mailed or archived on its own. Text is escaped in both (Markdown table cells: `|`).
"""
import base64
from dataclasses import dataclass, field
import html
from pathlib import Path
from typing import List, Sequence, Tuple

STYLE = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222}h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;
text-align:left;vertical-align:top;font-size:14px}th{background:#f0f0f0}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:13px}
img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0}figcaption{color:#555}"""


@dataclass
class Document:
    """Blocks of a report: headings, paragraphs, tables, code and images."""

    title: str
    blocks: List[Tuple] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(('heading', text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(('paragraph', text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence]) -> None:
        self.blocks.append(('table', list(header), [[str(c) for c in r] for r in rows]))

    def code(self, text: str) -> None:
        self.blocks.append(('code', text))

    def image(self, path: Path, caption: str) -> None:
        self.blocks.append(('image', Path(path), caption))

    def markdown(self, folder: Path) -> str:
        """Return the report as Markdown; images are linked relative to `folder`."""
        lines = [f'# {self.title}', '']
        for kind, *rest in self.blocks:
            if kind == 'heading':
                lines += [f'## {rest[0]}', '']
            elif kind == 'paragraph':
                lines += [rest[0], '']
            elif kind == 'table':
                header, rows = rest
                lines.append('| ' + ' | '.join(map(_md_cell, header)) + ' |')
                lines.append('|' + '---|' * len(header))
                lines += ['| ' + ' | '.join(map(_md_cell, r)) + ' |' for r in rows]
                lines.append('')
            elif kind == 'code':
                lines += ['```', rest[0].rstrip('\n'), '```', '']
            elif kind == 'image':
                path, caption = rest
                lines += [f'![{caption}]({_relative(path, folder)})', '', f'*{caption}*', '']
        return '\n'.join(lines)

    def html(self) -> str:
        """Return the report as one self-contained HTML page (images inlined)."""
        e = html.escape
        parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
                 f'<title>{e(self.title)}</title><style>{STYLE}</style></head><body>',
                 f'<h1>{e(self.title)}</h1>']
        for kind, *rest in self.blocks:
            if kind == 'heading':
                parts.append(f'<h2>{e(rest[0])}</h2>')
            elif kind == 'paragraph':
                parts.append(f'<p>{e(rest[0])}</p>')
            elif kind == 'table':
                header, rows = rest
                parts.append('<table><tr>' + ''.join(f'<th>{e(h)}</th>' for h in header)
                             + '</tr>' + ''.join('<tr>' + ''.join(f'<td>{e(c)}</td>' for c in r)
                                                 + '</tr>' for r in rows) + '</table>')
            elif kind == 'code':
                parts.append(f'<pre>{e(rest[0])}</pre>')
            elif kind == 'image':
                path, caption = rest
                data = base64.b64encode(path.read_bytes()).decode('ascii')
                parts.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,'
                             f'{data}"><figcaption>{e(caption)}</figcaption></figure>')
        parts.append('</body></html>')
        return '\n'.join(parts) + '\n'

    def write(self, folder: Path) -> Tuple[Path, Path]:
        """Write report.md and report.html into `folder`; return both paths."""
        folder = Path(folder)
        md, page = folder / 'report.md', folder / 'report.html'
        md.write_text(self.markdown(folder))
        page.write_text(self.html())
        return md, page


def _md_cell(text: str) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(folder).resolve()))
    except ValueError:
        return str(path)
