// A live plot of the loss terms against the step, log scale, on a canvas, with its axes.
const COLORS = { total: "#1d1d1f", content: "#2a6fdb", style: "#b3541e", tv: "#4c9a2a" };
const AXIS = "#6e6e73";

export class LossPlot {
  constructor(canvas) { this.canvas = canvas; this.points = []; }
  reset(points = []) { this.points = points.slice(); this.draw(); }
  add(step, losses) { this.points.push({ step, losses }); this.draw(); }

  draw() {
    const c = this.canvas.getContext("2d"), W = this.canvas.width, H = this.canvas.height;
    const left = 54, right = 8, top = 18, bottom = 18;  // the legend above, the axes' labels beside
    c.clearRect(0, 0, W, H);
    if (this.points.length < 1) return;
    const names = Object.keys(this.points[0].losses);
    // Log scale over the positive values; a zero (the content term at step 1) is left out.
    const logs = this.points.flatMap((p) => names.map((n) => p.losses[n]).filter((v) => v > 0).map(Math.log10));
    if (!logs.length) return;
    const lo = Math.min(...logs), hi = Math.max(...logs) + 1e-9;
    const first = this.points[0].step, last = this.points[this.points.length - 1].step;
    const x = (step) => left + (W - left - right) * (last === first ? 1 : (step - first) / (last - first));
    const y = (v) => H - bottom - (H - bottom - top) * (Math.log10(v) - lo) / (hi - lo);

    // Axes: a tick at each power of ten in range (or the two ends when none is), and the first
    // and last step.
    c.strokeStyle = c.fillStyle = AXIS; c.lineWidth = 1; c.font = "10px system-ui, sans-serif";
    c.beginPath(); c.moveTo(left, top); c.lineTo(left, H - bottom); c.lineTo(W - right, H - bottom); c.stroke();
    let ticks = [];
    const every = Math.ceil((Math.floor(hi) - Math.ceil(lo) + 1) / 4);  // at most four, evenly
    for (let k = Math.floor(hi); k >= Math.ceil(lo); k -= every) ticks.push(10 ** k);
    if (ticks.length < 2) ticks = [10 ** lo, 10 ** hi];
    c.textAlign = "right"; c.textBaseline = "middle";
    for (const v of ticks) {
      c.fillText(String(Number(v.toPrecision(2))), left - 4, y(v));
      c.beginPath(); c.moveTo(left - 2, y(v)); c.lineTo(left, y(v)); c.stroke();
    }
    c.textBaseline = "top";
    c.textAlign = "left"; c.fillText(`step ${first}`, left, H - bottom + 3);
    c.textAlign = "right"; c.fillText(`${last}`, W - right, H - bottom + 3);
    c.textAlign = "left"; c.textBaseline = "alphabetic";

    names.forEach((name, k) => {
      c.strokeStyle = c.fillStyle = COLORS[name] || "#888"; c.lineWidth = name === "total" ? 2 : 1; c.beginPath();
      let drawing = false;
      for (const p of this.points) {
        const v = p.losses[name];
        if (!(v > 0)) { drawing = false; continue; }
        if (drawing) c.lineTo(x(p.step), y(v)); else { c.moveTo(x(p.step), y(v)); c.fillRect(x(p.step) - 1.5, y(v) - 1.5, 3, 3); }
        drawing = true;
      }
      c.stroke(); c.fillText(name, left + 60 * k, 12);
    });
  }
}
