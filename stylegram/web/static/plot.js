// A live plot of the loss terms, log scale, on a canvas.
const COLORS = { total: "#1d1d1f", content: "#2a6fdb", style: "#b3541e", tv: "#4c9a2a" };

export class LossPlot {
  constructor(canvas) { this.canvas = canvas; this.points = []; }
  reset(points = []) { this.points = points.slice(); this.draw(); }
  add(step, losses) { this.points.push({ step, losses }); this.draw(); }

  draw() {
    const c = this.canvas.getContext("2d"), W = this.canvas.width, H = this.canvas.height, pad = 4, top = 18;
    c.clearRect(0, 0, W, H);
    if (this.points.length < 1) return;
    const names = Object.keys(this.points[0].losses);
    // Log scale over the positive values; a zero (the content term at step 1) is left out.
    const logs = this.points.flatMap((p) => names.map((n) => p.losses[n]).filter((v) => v > 0).map(Math.log10));
    if (!logs.length) return;
    const lo = Math.min(...logs), hi = Math.max(...logs) + 1e-9;
    const x = (i) => pad + (W - 2 * pad) * (this.points.length === 1 ? 1 : i / (this.points.length - 1));
    const y = (v) => H - pad - (H - pad - top) * (Math.log10(v) - lo) / (hi - lo);  // legend above
    names.forEach((name, k) => {
      c.strokeStyle = c.fillStyle = COLORS[name] || "#888"; c.lineWidth = name === "total" ? 2 : 1; c.beginPath();
      let drawing = false;
      this.points.forEach((p, i) => {
        const v = p.losses[name];
        if (!(v > 0)) { drawing = false; return; }
        if (drawing) c.lineTo(x(i), y(v)); else { c.moveTo(x(i), y(v)); c.fillRect(x(i) - 1.5, y(v) - 1.5, 3, 3); }
        drawing = true;
      });
      c.stroke(); c.fillText(name, 8 + 60 * k, 12);
    });
  }
}
