// The unit explorer: a unit's top patches (from an atlas, with their projections, or from the
// studio's own scan), its activation over the photo or the painting, and explain-style.
import { getJSON, postForBlob, postForm } from "./api.js";

const $ = (id) => document.getElementById(id);
const pad = (n) => String(n).padStart(4, "0");

// The explorer's messages stand in the explorer, where the person looking at it reads them;
// each action clears the last one.
const notice = (text) => { $("explorer-notice").textContent = text || ""; };

// The pictures changed: a message about them as they were ("add a painting first") is stale.
export function clearExplorerNotice() { notice(""); }

export async function initExplorer(photo, painting) {
  const info = await getJSON("/api/units");
  const { atlases } = await getJSON("/api/atlases");
  const layer = () => $("unit-layer").value, unit = () => Number($("unit-index").value);
  const atlas = () => ($("unit-atlas").value === "" ? null : atlases[Number($("unit-atlas").value)]);

  function fillLayers() {
    const chosen = atlas(), was = layer();
    const layers = chosen ? chosen.layers : info.layers;
    $("unit-layer").replaceChildren(...layers.map((l) => new Option(`${l.name} (${l.channels} units)`, l.name)));
    if (layers.some((l) => l.name === was)) $("unit-layer").value = was;
    $("explorer-source").textContent = chosen
      ? `Top patches and their ${chosen.projection || ""} projections from the atlas ${chosen.name} (${chosen.images} images).`
      : `Top patches from a scan of ${info.source}.`;
  }
  if (atlases.length) {
    $("atlas-choice").classList.remove("hidden");
    $("unit-atlas").append(new Option("none: the studio's scan", ""));
    for (const a of atlases) $("unit-atlas").append(new Option(a.name, String(a.id)));
    $("unit-atlas").value = "0";
  }
  fillLayers();

  // The units one can step through: the atlas's pages, or every channel of the layer.
  function units() {
    const chosen = atlas(), name = layer();
    const entry = (chosen ? chosen.layers : info.layers).find((l) => l.name === name);
    return chosen ? entry.units : [...Array(entry.channels).keys()];
  }
  function step(by) {
    const list = units(), at = list.indexOf(unit());
    const next = at < 0 ? list[0] : list[Math.max(0, Math.min(list.length - 1, at + by))];
    $("unit-index").value = next; show();
  }

  // The studio's own network answers maps and explain only for the layers it scanned.
  const mapped = () => info.layers.some((l) => l.name === layer());

  function clearMap() {
    $("unit-map").removeAttribute("src"); $("unit-map").alt = "";
    $("map-caption").textContent = "activation over your photo";
  }

  async function showMap(picture, caption) {
    if (!picture || !mapped()) { clearMap(); return; }
    const form = new FormData();
    form.append("image", picture); form.append("layer", layer()); form.append("unit", String(unit()));
    try {
      $("unit-map").src = URL.createObjectURL(await postForBlob("/api/units/activation", form));
      $("unit-map").alt = `${layer()} unit ${unit()} over ${caption}`;
      $("map-caption").textContent = `activation over ${caption}`;
    } catch (e) { notice(e.message); clearMap(); }
  }

  let shown = 0;  // the latest request: an older answer arriving late is dropped
  async function show(over) {
    const l = layer(), u = unit(), chosen = atlas(), ticket = ++shown;
    notice("");
    // Any unit of the layer may be shown (explain lists units an atlas has no page for: their
    // maps still show); only a number the layer does not have is refused.
    const channels = (chosen ? chosen.layers : info.layers).find((x) => x.name === l).channels;
    if (!Number.isInteger(u) || u < 0 || u >= channels) {
      notice(`${l} has no unit ${$("unit-index").value}: it has units 0 to ${channels - 1}`);
      $("unit-top").removeAttribute("src"); $("unit-top").alt = "";
      $("atlas-hits").replaceChildren(); $("atlas-title").textContent = ""; clearMap();
      return;
    }
    $("atlas-unit").classList.toggle("hidden", !chosen);
    $("top-figure").classList.toggle("hidden", Boolean(chosen));
    if (chosen) {
      try {
        const found = await getJSON(`/api/atlases/${chosen.id}/${l}/${u}`);
        if (ticket !== shown) return;
        $("atlas-title").textContent = `${l}, unit ${u}`;
        $("atlas-hits").replaceChildren(...found.hits.map((h) => {
          const li = document.createElement("li"), fig = document.createElement("figure");
          const patch = Object.assign(new Image(), { src: h.patch, alt: `patch ${h.rank + 1}, from ${h.image}` });
          fig.append(patch);
          if (h.projection) fig.append(Object.assign(new Image(), { src: h.projection, alt: `its projection` }));
          fig.append(Object.assign(document.createElement("figcaption"), { textContent: `${h.rank + 1}. ${h.image}` }));
          li.append(fig); return li;
        }));
        $("atlas-page").href = found.page;
      } catch (e) { notice(e.message); $("atlas-hits").replaceChildren(); }
    } else {
      $("unit-top").src = `/api/units/${l}/${u}/top.png?k=8`;
      $("unit-top").alt = `the top patches of ${l} unit ${u}`;
    }
    if (over) await showMap(over.picture, over.caption);
    else await showMap(photo(), "your photo");
  }

  // A unit of the explain list: shown in the explorer, its map over the painting it explains.
  function unitLink(u, picture, name) {
    const chosen = atlas(), l = layer();
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: `unit ${u}` });
    button.addEventListener("click", () => { $("unit-index").value = u; show({ picture, caption: name }); });
    const parts = [button];
    if (chosen && chosen.layers.find((x) => x.name === l)?.units.includes(u)) {
      parts.push(Object.assign(document.createElement("a"), {
        href: `/atlas/${chosen.id}/atlas/${l}/${pad(u)}.html`, target: "_blank", rel: "noopener",
        textContent: "atlas page", ariaLabel: `unit ${u}'s atlas page`,
      }));
    }
    return parts;
  }

  async function explain() {
    const picture = painting();
    if (!picture) { notice("add a painting first"); return; }
    if (!mapped()) { notice(`explain reads the layers ${info.layers.map((l) => l.name).join(", ")}; choose one of them`); return; }
    const form = new FormData();
    form.append("image", picture); form.append("layer", layer());
    try {
      const found = await postForm("/api/units/explain", form);
      $("explain-title").classList.remove("hidden");
      $("explain-title").textContent = `${found.layer} of ${found.painting}: the channels it has more of than the ${found.photos} scanned photos`;
      const list = $("explain-list"); list.replaceChildren();
      for (const c of found.channels) {
        const li = document.createElement("li");
        li.append(...unitLink(c.unit, picture, found.painting),
          ` ${(100 * c.energy).toFixed(1)} % of the painting's Gram energy, ${c.ratio.toFixed(1)} × the photos' share `);
        list.append(li);
      }
      for (const p of found.pairs) {
        const li = document.createElement("li");
        li.append(...unitLink(p.a, picture, found.painting), " and ", ...unitLink(p.b, picture, found.painting),
          ` fire together (${p.correlation.toFixed(2)})`);
        list.append(li);
      }
    } catch (e) { notice(e.message); }
  }

  $("unit-atlas").addEventListener("change", () => { fillLayers(); show(); });
  $("unit-layer").addEventListener("change", () => show());
  $("show-unit").addEventListener("click", () => show());
  $("previous-unit").addEventListener("click", () => step(-1));
  $("next-unit").addEventListener("click", () => step(1));
  $("unit-index").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); show(); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  });
  $("explain").addEventListener("click", explain);
}
