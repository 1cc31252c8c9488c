// Masks painted over the photo: one canvas per style, white where that style paints.
export const TINTS = ["#e4572e", "#29335c", "#f3a712", "#669bbc", "#a8c686", "#8e3b46", "#17bebb", "#6c4f77"];

export class MaskPainter {
  constructor(canvas, photo) {
    this.canvas = canvas; this.photo = photo; this.masks = []; this.marked = []; this.active = 0;
    this.tool = "brush"; this.size = 24; this.down = false;
    canvas.addEventListener("pointerdown", (e) => { this.down = true; canvas.setPointerCapture(e.pointerId); this.stroke(e); });
    canvas.addEventListener("pointermove", (e) => this.down && this.stroke(e));
    canvas.addEventListener("pointerup", () => { this.down = false; this.last = null; });
  }

  // Whether any style's mask has been painted or loaded: only then are masks sent.
  get painted() { return this.marked.some(Boolean); }

  // A new photo: fresh, empty masks at its own size, one per style.
  reset(n) {
    const w = this.photo.naturalWidth || 1, h = this.photo.naturalHeight || 1;
    this.canvas.width = w; this.canvas.height = h;
    this.masks = Array.from({ length: n }, () => this.blank());
    this.marked = this.masks.map(() => false);
    this.active = Math.min(this.active, Math.max(n - 1, 0)); this.draw();
  }

  blank() { return Object.assign(document.createElement("canvas"), { width: this.canvas.width, height: this.canvas.height }); }

  // A style added or removed: the other styles keep what was painted for them.
  add() { this.masks.push(this.blank()); this.marked.push(false); this.draw(); }
  remove(i) {
    this.masks.splice(i, 1); this.marked.splice(i, 1);
    if (this.active > i || this.active >= this.masks.length) this.active = Math.max(this.active - 1, 0);
    this.draw();
  }

  stroke(e) {
    const mask = this.masks[this.active]; if (!mask) return;
    const r = this.canvas.getBoundingClientRect(), k = this.canvas.width / r.width;
    const p = { x: (e.clientX - r.left) * k, y: (e.clientY - r.top) * k };
    const c = mask.getContext("2d");
    c.globalCompositeOperation = this.tool === "eraser" ? "destination-out" : "source-over";
    c.strokeStyle = c.fillStyle = "#fff"; c.lineCap = "round"; c.lineWidth = this.size * k;
    c.beginPath(); c.moveTo((this.last || p).x, (this.last || p).y); c.lineTo(p.x, p.y); c.stroke();
    this.last = p; this.marked[this.active] = true; this.draw();
  }

  clear() { this.reset(this.masks.length); }

  // An uploaded mask for style `index` (the active one by default): its brightness becomes the
  // painted amount.
  async load(file, index = this.active) {
    const mask = this.masks[index]; if (!mask) return;
    const bitmap = await createImageBitmap(file);
    index = this.masks.indexOf(mask); if (index < 0) return;  // its painting was removed meanwhile
    const c = mask.getContext("2d");
    c.globalCompositeOperation = "copy"; c.drawImage(bitmap, 0, 0, mask.width, mask.height);
    const pixels = c.getImageData(0, 0, mask.width, mask.height), d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      d[i + 3] = Math.round(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]); d[i] = d[i + 1] = d[i + 2] = 255;
    }
    c.putImageData(pixels, 0, 0); c.globalCompositeOperation = "source-over";
    this.marked[index] = true; this.draw();
  }

  // Every style's mask tinted in its colour, over the photo.
  draw() {
    const c = this.canvas.getContext("2d");
    c.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.masks.forEach((m, i) => {
      const tint = Object.assign(document.createElement("canvas"), { width: m.width, height: m.height });
      const t = tint.getContext("2d");
      t.drawImage(m, 0, 0); t.globalCompositeOperation = "source-in"; t.fillStyle = TINTS[i % TINTS.length];
      t.fillRect(0, 0, m.width, m.height);
      c.globalAlpha = i === this.active ? 0.6 : 0.3; c.drawImage(tint, 0, 0);
    });
    c.globalAlpha = 1;
  }

  // The masks as black-and-white PNG blobs, one per style; none if nothing was painted.
  async blobs() {
    if (!this.painted) return null;
    return Promise.all(this.masks.map((m) => {
      const out = Object.assign(document.createElement("canvas"), { width: m.width, height: m.height });
      const c = out.getContext("2d"); c.fillStyle = "#000"; c.fillRect(0, 0, m.width, m.height); c.drawImage(m, 0, 0);
      return new Promise((resolve) => out.toBlob(resolve, "image/png"));
    }));
  }
}
