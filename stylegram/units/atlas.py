"""The unit atlas: a static site with a page per layer and a page per unit, as OpenAI
Microscope has for its models, built from a units report's manifest.json.

    atlas/index.html              the layers
    atlas/<layer>.html            every unit of the layer as its top patch (paged: _p2, ...)
    atlas/<layer>/<unit>.html     one unit: its top patches with their projections, its
                                  activation-maximisation image, the paintings that use it most

The pages link to the report's own PNGs (hits/, opt/) and to explain-style reports of the
paintings (styles/<name>/). They work from the disk (file://) and from `stylegram serve
--atlas`. On a unit page ← and → go to the previous and next unit, and the number box jumps to
any unit. `atlas_pages` only makes text; `report.write_units_report` writes it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

ATLAS = "atlas"
UNITS_PER_PAGE = 256  # thumbnails per layer page

CSS = """\
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1200px;color:#222;background:#fff}
a{color:#0645ad} nav{display:flex;flex-wrap:wrap;gap:1em;align-items:center;margin-bottom:1em}
img{image-rendering:pixelated} .thumbs{display:flex;flex-wrap:wrap;gap:4px;list-style:none;padding:0}
.thumbs a{display:block;text-align:center;font-size:12px;text-decoration:none;color:#333}
.thumbs img{width:72px;height:72px;display:block} .hits{display:flex;flex-wrap:wrap;gap:14px;
list-style:none;padding:0} .hits figure{margin:0} .hits img{width:132px;height:132px}
figcaption{font-size:12px;max-width:266px;overflow-wrap:anywhere} .synth img{width:200px}
:focus-visible{outline:3px solid #d35400;outline-offset:2px}
"""

JS = """\
// Keyboard access on a unit page: arrows for the previous and next unit, the box for any unit.
document.addEventListener('keydown', (e) => {
  if (e.target.closest('input, textarea, select') || e.altKey || e.ctrlKey || e.metaKey) return;
  const rel = {ArrowLeft: 'prev', ArrowRight: 'next'}[e.key];
  const link = rel && document.querySelector(`a[rel~="${rel}"]`);
  if (link) { e.preventDefault(); location.href = link.href; }
});
const form = document.querySelector('form.goto');
if (form) form.addEventListener('submit', (e) => {
  e.preventDefault();
  const unit = Number(form.unit.value), known = JSON.parse(form.dataset.units);
  const out = form.querySelector('output');
  if (!known.includes(unit)) { out.textContent = `unit ${form.unit.value} is not in this atlas`; return; }
  location.href = form.dataset.base + String(unit).padStart(4, '0') + '.html';
});
"""


def unit_page_name(layer: str, unit: int) -> str:
    """A unit page's path inside the atlas folder."""
    return f"{layer}/{unit:04d}.html"


def layer_page_name(layer: str, page: int) -> str:
    return f"{layer}.html" if page == 1 else f"{layer}_p{page}.html"


def _head(title: str, root: str) -> str:
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)} · stylegram atlas</title>"
        f"<link rel='stylesheet' href='{root}atlas.css'>\n"
    )


def atlas_pages(data: Mapping) -> dict[str, str]:
    """Every page of the atlas of a units manifest, as {path inside the atlas folder: html}."""
    esc = html.escape
    pages = {"atlas.css": CSS, "atlas.js": JS}
    layers = data["layers"]
    index = [
        _head("layers", ""),
        "<main><h1>VGG19's units</h1>",
        f"<p>The top {data['top']} patches of each unit among {data['read']} images scanned at "
        f"{data['size']} px, ranked by {esc(str(data['rank']))} activation"
        + (
            f", each with its {esc(data['projection'])} projection"
            if data.get("projection")
            else ""
        )
        + ". <a href='../index.html'>The report's figures</a>.</p><ul>",
    ]
    for layer, entry in layers.items():
        units = [u for u in entry["units"] if u["unit"] is not None]
        index.append(
            f"<li><a href='{layer_page_name(layer, 1)}'>{esc(layer)}</a>: {len(units)} of "
            f"{entry['channels']} units, receptive field {entry['receptive_field']} px</li>"
        )
        pages.update(_layer_pages(data, layer, units))
        numbers = [u["unit"] for u in units]
        for i, unit in enumerate(units):
            before = units[i - 1]["unit"] if i else None
            after = units[i + 1]["unit"] if i + 1 < len(units) else None
            pages[unit_page_name(layer, unit["unit"])] = _unit_page(
                data, layer, unit, before, after, numbers
            )
    index.append("</ul></main>\n")
    pages["index.html"] = "".join(index)
    return pages


def _layer_pages(data: Mapping, layer: str, units: list[Mapping]) -> dict[str, str]:
    esc = html.escape
    entry = data["layers"][layer]
    starts = range(0, len(units), UNITS_PER_PAGE)
    out = {}
    for page, start in enumerate(starts, start=1):
        links = ["<a href='index.html'>all layers</a>"]
        if page > 1:
            links.append(
                f"<a rel='prev' href='{layer_page_name(layer, page - 1)}'>← page {page - 1}</a>"
            )
        if page < len(starts):
            links.append(
                f"<a rel='next' href='{layer_page_name(layer, page + 1)}'>page {page + 1} →</a>"
            )
        thumbs = []
        for unit in units[start : start + UNITS_PER_PAGE]:
            n = unit["unit"]
            first = unit["hits"][0] if unit["hits"] else None
            image = (
                f"<img src='../{esc(first['patch'])}' alt='' loading='lazy'>"
                if first and "patch" in first
                else ""
            )
            thumbs.append(f"<li><a href='{unit_page_name(layer, n)}'>{image}unit {n}</a></li>")
        out[layer_page_name(layer, page)] = (
            _head(layer, "")
            + f"<nav aria-label='pages'>{' '.join(links)}</nav><main><h1>{esc(layer)}</h1>"
            f"<p>{entry['channels']} channels, receptive field {entry['receptive_field']} px, "
            f"stride {entry['stride']}. Each unit by its strongest patch; page {page} of "
            f"{len(starts)}.</p><ul class='thumbs'>{''.join(thumbs)}</ul></main>\n"
        )
    return out


def _unit_page(
    data: Mapping,
    layer: str,
    unit: Mapping,
    before: int | None,
    after: int | None,
    numbers: list[int],
) -> str:
    esc = html.escape
    n = unit["unit"]
    entry = data["layers"][layer]
    page = numbers.index(n) // UNITS_PER_PAGE + 1
    nav = []
    if before is not None:
        nav.append(f"<a rel='prev' href='{before:04d}.html'>← unit {before}</a>")
    nav.append(f"<a href='../{layer_page_name(layer, page)}'>{esc(layer)}: all units</a>")
    if after is not None:
        nav.append(f"<a rel='next' href='{after:04d}.html'>unit {after} →</a>")
    nav.append(
        f"<form class='goto' data-base='' data-units='{numbers}'>"
        f"<label>Unit <input name='unit' type='number' min='0' max='{entry['channels'] - 1}' "
        f"value='{n}'></label> <button>Go</button> <output role='status'></output></form>"
    )
    hits = []
    method = data.get("projection")
    for hit in unit["hits"]:
        name = esc(hit["path"].replace("\\", "/").rsplit("/", 1)[-1])
        rank = hit["rank"] + 1
        images = ""
        if "patch" in hit:
            images = f"<img src='../../{esc(hit['patch'])}' alt='patch {rank}, from {name}'>"
            images += (
                f"<img src='../../{esc(hit['projection'])}' alt='its {esc(str(method))} projection'>"
                if "projection" in hit
                else ""
            )
        hits.append(
            f"<li><figure>{images}<figcaption>{rank}. {name}, activation "
            f"{hit['activation']:.1f}</figcaption></figure></li>"
        )
    parts = [
        _head(f"{layer} unit {n}", "../"),
        f"<nav aria-label='units'>{' '.join(nav)}</nav><main>",
        f"<h1>{esc(layer)}, unit {n}</h1>",
        f"<p>Receptive field {entry['receptive_field']} px, stride {entry['stride']}. "
        f"The {len(unit['hits'])} image patches that excite it most"
        + (
            f", each beside its {esc(method)} projection (grey: pixels that do not matter)"
            if method
            else ""
        )
        + ". ← and → go to the previous and next unit.</p>",
        f"<ol class='hits'>{''.join(hits)}</ol>",
    ]
    if unit.get("optimized"):
        parts.append(
            "<section class='synth'><h2>Synthesised</h2><p>An image made to excite this unit "
            "(activation maximisation).</p>"
            f"<img src='../../{esc(unit['optimized'])}' alt='image synthesised for unit {n}'>"
            "</section>"
        )
    if unit.get("paintings"):
        items = "".join(
            f"<li><a href='../../{esc(p['explain'])}#{esc(layer)}'>{esc(p['name'])}</a>: "
            f"{100 * p['share']:.2f} % of its Gram energy</li>"
            for p in unit["paintings"]
        )
        parts.append(
            "<section><h2>Paintings that use it most</h2><p>By the unit's share of each "
            f"painting's Gram energy at {esc(layer)}; each links to its explain-style view.</p>"
            f"<ol>{items}</ol></section>"
        )
    parts.append("</main><script src='../atlas.js'></script>\n")
    return "".join(parts)
