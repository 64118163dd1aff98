"""Draw the graph schema (graph.schema) as an SVG: one box per label, one arrow per relationship type.

    python -m graph.schema_diagram docs/graph_schema.svg

Only the box positions are laid out by hand; labels, keys, properties and arrows come from the
schema, so the picture cannot drift from the code (a test compares it with the committed file).
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

from graph.schema import NODES, REL_TYPES, NodeType

WIDTH, HEIGHT = 1380, 900
BOX_W, LINE_H, HEAD_H = 240, 17, 30
# Top-left corner of each label's box.
POSITIONS = {
    "Chain": (1000, 110), "TechNode": (500, 90), "Patent": (70, 400), "Applicant": (500, 420),
    "Firm": (930, 400), "Region": (930, 770),
}
# Where each relationship type's arrow leaves and enters, as (side, fraction along that side);
# a self-relationship is drawn as a loop on one side.
ANCHORS = {
    "HAS_NODE": (("left", 0.5), ("right", 0.2)),
    "IN_NODE": (("top", 0.75), ("left", 0.8)),
    "RANKED_IN": (("top", 0.15), ("right", 0.85)),
    "FILED": (("left", 0.45), ("right", 0.2)),
    "RESOLVES_TO": (("right", 0.45), ("left", 0.2)),
    "LOCATED_IN": (("bottom", 0.5), ("top", 0.5)),
    "ACTIVE_IN": (("top", 0.45), ("right", 0.55)),
    "ACTIVE_IN_CHAIN": (("top", 0.8), ("bottom", 0.5)),
}
LOOPS = {"CHILD_OF": ("left", 0.25), "SUPPLIES": ("left", 0.6), "CITES": ("bottom", 0.5),
         "SUBSIDIARY_OF": ("right", 0.5)}
LABEL_OFFSETS = {"IN_NODE": (-40, 0), "RANKED_IN": (20, 14), "FILED": (0, -34), "RESOLVES_TO": (12, 40),
                 "LOCATED_IN": (0, 0), "HAS_NODE": (0, -14), "ACTIVE_IN": (75, -45), "ACTIVE_IN_CHAIN": (62, 0)}


def _height(node: NodeType) -> int:
    return HEAD_H + LINE_H * len(node.props) + 8


def _point(label: str, side: str, frac: float) -> tuple[float, float]:
    x, y = POSITIONS[label]
    h = _height(NODES[label])
    return {
        "left": (x, y + h * frac), "right": (x + BOX_W, y + h * frac),
        "top": (x + BOX_W * frac, y), "bottom": (x + BOX_W * frac, y + h),
    }[side]


def _text(x: float, y: float, text: str, cls: str, anchor: str = "middle") -> str:
    return f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'


def _box(node: NodeType) -> list[str]:
    x, y = POSITIONS[node.label]
    out = [f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{_height(node)}" rx="8" class="box"/>',
           f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{HEAD_H}" rx="8" class="head"/>',
           _text(x + BOX_W / 2, y + 21, node.label, "label")]
    for i, prop in enumerate(node.props):
        cls = "key" if prop.name == node.key else "prop"
        suffix = "" if prop.type == "string" else f": {prop.type}"
        out.append(_text(x + 12, y + HEAD_H + 14 + i * LINE_H, prop.name + suffix, cls, "start"))
    return out


def _rel_caption(rel_type: str) -> tuple[str, str]:
    rel = next(r for r in REL_TYPES if r.type == rel_type)
    props = ", ".join(p.name for p in rel.props)
    if len(props) > 36:
        props = props[:34].rsplit(",", 1)[0] + ", …"
    return rel.type, "{" + props + "}" if props else ""


def _caption(x: float, y: float, rel_type: str) -> list[str]:
    name, props = _rel_caption(rel_type)
    out = [_text(x, y, name, "rel")]
    if props:
        out.append(_text(x, y + 15, props, "relprops"))
    return out


def _arrow(rel_type: str, start: str, end: str) -> list[str]:
    (s_side, s_frac), (e_side, e_frac) = ANCHORS[rel_type]
    x1, y1 = _point(start, s_side, s_frac)
    x2, y2 = _point(end, e_side, e_frac)
    dx, dy = LABEL_OFFSETS.get(rel_type, (0, 0))
    mx, my = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
    return [f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" class="edge" marker-end="url(#arrow)"/>',
            *_caption(mx + 8, my - 4, rel_type)]


def _loop(rel_type: str, label: str) -> list[str]:
    side, frac = LOOPS[rel_type]
    x, y = _point(label, side, frac)
    if side == "right":
        a, b = (x, y - 14), (x, y + 14)
        path = f"M {a[0]:.0f} {a[1]:.0f} C {x + 70:.0f} {y - 40:.0f}, {x + 70:.0f} {y + 40:.0f}, {b[0]:.0f} {b[1]:.0f}"
        caption = _caption(x + 64, y + 4, rel_type)
        caption = [c.replace('text-anchor="middle"', 'text-anchor="start"') for c in caption]
    elif side == "left":
        a, b = (x, y - 14), (x, y + 14)
        path = f"M {a[0]:.0f} {a[1]:.0f} C {x - 70:.0f} {y - 40:.0f}, {x - 70:.0f} {y + 40:.0f}, {b[0]:.0f} {b[1]:.0f}"
        caption = _caption(x - 64, y + 4, rel_type)
        caption = [c.replace('text-anchor="middle"', 'text-anchor="end"') for c in caption]
    else:  # bottom
        a, b = (x - 16, y), (x + 16, y)
        path = f"M {a[0]:.0f} {a[1]:.0f} C {x - 50:.0f} {y + 70:.0f}, {x + 50:.0f} {y + 70:.0f}, {b[0]:.0f} {b[1]:.0f}"
        caption = _caption(x, y + 72, rel_type)
    return [f'<path d="{path}" class="edge" fill="none" marker-end="url(#arrow)"/>', *caption]


def render_svg() -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        "<style>"
        "text{font-family:'DejaVu Sans',Arial,sans-serif}"
        ".box{fill:#f7f9fc;stroke:#3b5b8c;stroke-width:1.5}.head{fill:#3b5b8c}"
        ".label{fill:#fff;font-size:15px;font-weight:bold}.prop{font-size:12px;fill:#222}"
        ".key{font-size:12px;fill:#000;font-weight:bold;text-decoration:underline}"
        ".edge{stroke:#c0562b;stroke-width:1.6}.rel{font-size:12.5px;font-weight:bold;fill:#c0562b}"
        ".relprops{font-size:11px;fill:#7a3a1d}.title{font-size:18px;font-weight:bold}.note{font-size:12px;fill:#444}"
        "</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#c0562b"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        _text(30, 36, "patentgraph property graph (LadybugDB and Neo4j)", "title", "start"),
        _text(30, 58, "Bold underlined: the unique key. Untyped properties are strings. "
              "Arrows point from start to end node.", "note", "start"),
    ]
    for node in NODES.values():
        parts += _box(node)
    for rel in REL_TYPES:
        parts += _loop(rel.type, rel.start) if rel.start == rel.end else _arrow(rel.type, rel.start, rel.end)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1] if len(sys.argv) > 1 else "docs/graph_schema.svg").write_text(render_svg(), encoding="utf-8")
