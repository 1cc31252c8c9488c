// A live plot of the loss terms, log scale, on a canvas.
const COLORS = { total: "#1d1d1f", content: "#2a6fdb", style: "#b3541e", tv: "#4c9a2a" };

export class LossPlot {
  constructor(canvas) { this.canvas = canvas; this.points = []; }
  reset(points = []) { this.points = points.slice(); this.draw(); }
  add(step, losses) { this.points.push({ step, losses }); this.draw(); }

  draw() {
    const c = this.canvas.getContext("2d"), W = this.canvas.width, H = this.canvas.height, pad = 4;
    c.clearRect(0, 0, W, H);
    if (this.points.length < 1) return;
    const names = Object.keys(this.points[0].losses);
    const logs = this.points.flatMap((p) => names.map((n) => Math.log10(Math.max(p.losses[n], 1e-12))));
    const lo = Math.min(...logs), hi = Math.max(...logs) + 1e-9;
    const x = (i) => pad + (W - 2 * pad) * (this.points.length === 1 ? 1 : i / (this.points.length - 1));
    const y = (v) => H - pad - (H - 2 * pad) * (Math.log10(Math.max(v, 1e-12)) - lo) / (hi - lo);
    names.forEach((name, k) => {
      c.strokeStyle = COLORS[name] || "#888"; c.lineWidth = name === "total" ? 2 : 1; c.beginPath();
      this.points.forEach((p, i) => (i ? c.lineTo(x(i), y(p.losses[name])) : c.moveTo(x(i), y(p.losses[name]))));
      c.stroke(); c.fillStyle = c.strokeStyle; c.fillText(name, W - 60, 12 + 12 * k);
    });
  }
}
