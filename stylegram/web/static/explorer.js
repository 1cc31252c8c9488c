// The unit explorer: a unit's top patches, its activation over the photo, and explain-style.
import { getJSON, postForBlob, postForm } from "./api.js";

const $ = (id) => document.getElementById(id);

export async function initExplorer(photo, painting, notice) {
  const info = await getJSON("/api/units");
  $("explorer-source").textContent = `Top patches from a scan of ${info.source}.`;
  for (const l of info.layers) $("unit-layer").append(new Option(`${l.name} (${l.channels} units)`, l.name));
  const layer = () => $("unit-layer").value, unit = () => Number($("unit-index").value);

  async function show() {
    const l = layer(), u = unit();
    $("unit-top").src = `/api/units/${l}/${u}/top.png?k=8`;
    if (!photo()) { $("unit-map").removeAttribute("src"); return; }
    const form = new FormData();
    form.append("image", photo()); form.append("layer", l); form.append("unit", String(u));
    try { $("unit-map").src = URL.createObjectURL(await postForBlob("/api/units/activation", form)); } catch (e) { notice(e.message); }
  }

  async function explain() {
    if (!painting()) { notice("add a painting first"); return; }
    const form = new FormData();
    form.append("image", painting()); form.append("layer", layer());
    try {
      const found = await postForm("/api/units/explain", form);
      const list = $("explain-list"); list.replaceChildren();
      for (const c of found.channels) {
        const li = Object.assign(document.createElement("li"), { textContent: `unit ${c.unit}: ${(100 * c.energy).toFixed(1)} % of the style's energy` });
        li.addEventListener("click", () => { $("unit-index").value = c.unit; show(); });
        list.append(li);
      }
      for (const p of found.pairs) list.append(Object.assign(document.createElement("li"), { textContent: `units ${p.a} and ${p.b} fire together (${p.correlation.toFixed(2)})` }));
    } catch (e) { notice(e.message); }
  }

  $("show-unit").addEventListener("click", show);
  $("explain").addEventListener("click", explain);
}
