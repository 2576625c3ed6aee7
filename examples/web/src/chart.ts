/** A small canvas line chart of training loss and accuracy, redrawn as points arrive. */
export interface ChartPoint {
  /** Position in epochs (e.g. 1.5 = half-way through epoch 2). */
  readonly x: number;
  readonly y: number;
}

/** A label drawn on the chart and its ink's box, in CSS pixels from the canvas' top left. */
export interface TextBox {
  readonly text: string;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

const COLORS = { loss: '#d9480f', acc: '#4338ca', val: '#0f7a3d', grid: '#e3e5eb', text: '#555b6b' };

export class TrainingChart {
  loss: ChartPoint[] = [];
  acc: ChartPoint[] = [];
  val: ChartPoint[] = [];
  epochs = 1;
  private scheduled = false;

  constructor(private readonly canvas: HTMLCanvasElement) {
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  reset(epochs: number): void {
    this.loss = [];
    this.acc = [];
    this.val = [];
    this.epochs = epochs;
    this.draw();
  }

  /** Redraws at the next frame at most once. */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  draw(): void {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const w = rect.width;
    const h = rect.height;
    ctx.clearRect(0, 0, w, h);
    // The bottom holds the epoch numbers and, under them, the axis title.
    const pad = { left: 40, right: 44, top: 10, bottom: 38 };
    const plotW = Math.max(1, w - pad.left - pad.right);
    const plotH = Math.max(1, h - pad.top - pad.bottom);
    const maxLoss = Math.max(0.5, ...this.loss.map((p) => p.y));
    const x = (v: number): number => pad.left + (v / this.epochs) * plotW;
    const yAcc = (v: number): number => pad.top + (1 - v) * plotH;
    const yLoss = (v: number): number => pad.top + (1 - v / maxLoss) * plotH;

    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    const texts: TextBox[] = [];
    const text = (value: string, tx: number, ty: number): void => {
      ctx.fillText(value, tx, ty);
      const m = ctx.measureText(value);
      texts.push({
        text: value,
        left: tx - m.actualBoundingBoxLeft,
        right: tx + m.actualBoundingBoxRight,
        top: ty - m.actualBoundingBoxAscent,
        bottom: ty + m.actualBoundingBoxDescent,
      });
    };
    for (let i = 0; i <= 4; i++) {
      const gy = pad.top + (i / 4) * plotH;
      ctx.strokeStyle = COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(pad.left, gy);
      ctx.lineTo(pad.left + plotW, gy);
      ctx.stroke();
      ctx.fillStyle = COLORS.loss;
      ctx.textAlign = 'right';
      text((maxLoss * (1 - i / 4)).toFixed(2), pad.left - 6, gy + 4);
      ctx.fillStyle = COLORS.acc;
      ctx.textAlign = 'left';
      text(`${(100 * (1 - i / 4)).toFixed(0)}%`, pad.left + plotW + 6, gy + 4);
    }
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = 'center';
    const step = Math.max(1, Math.ceil(this.epochs / 10));
    for (let e = 0; e <= this.epochs; e += step) text(String(e), x(e), h - 22);
    // Centred under the plot: drawn right-aligned left of it, it ran off the canvas ("ooch →").
    text('epoch →', pad.left + plotW / 2, h - 6);
    // Where each label landed, in CSS pixels, for the browser test to check none is cut off.
    this.canvas.dataset['textBoxes'] = JSON.stringify(texts);

    this.line(this.loss, x, yLoss, COLORS.loss);
    this.line(this.acc, x, yAcc, COLORS.acc);
    ctx.fillStyle = COLORS.val;
    for (const p of this.val) {
      ctx.beginPath();
      ctx.arc(x(p.x), yAcc(p.y), 4.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  private line(points: ChartPoint[], x: (v: number) => number, y: (v: number) => number, color: string): void {
    const ctx = this.canvas.getContext('2d');
    if (ctx === null || points.length === 0) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, i) => (i === 0 ? ctx.moveTo(x(p.x), y(p.y)) : ctx.lineTo(x(p.x), y(p.y))));
    ctx.stroke();
  }
}
