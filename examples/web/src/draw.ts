/**
 * The drawing pad: pointer events (mouse, pen, touch), strokes kept as
 * normalised points so they survive resizes, undo and clear.
 */
interface Point {
  readonly x: number;
  readonly y: number;
  /** Relative stroke width (pen pressure), 1 for mouse and touch. */
  readonly w: number;
}

/** Stroke width as a fraction of the pad's side: about MNIST's pen on its 20-pixel box. */
const STROKE = 0.075;
const INK = '#14151a';

export class DrawPad {
  private readonly strokes: Point[][] = [];
  private active: Point[] | undefined;
  private pointerId: number | undefined;
  private readonly context: CanvasRenderingContext2D;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onChange: (reason: 'stroke' | 'end' | 'undo' | 'clear') => void,
  ) {
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (context === null) throw new Error('2D canvas is not available');
    this.context = context;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  get empty(): boolean {
    return this.strokes.length === 0;
  }

  get strokeCount(): number {
    return this.strokes.length;
  }

  undo(): void {
    if (this.strokes.length === 0) return;
    this.strokes.pop();
    this.redraw();
    this.onChange('undo');
  }

  clear(): void {
    if (this.strokes.length === 0) return;
    this.strokes.length = 0;
    this.redraw();
    this.onChange('clear');
  }

  /** The pad's pixels, dark ink on white. */
  pixels(): ImageData {
    return this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  private resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    const size = Math.max(56, Math.round(rect.width * ratio));
    if (this.canvas.width === size && this.canvas.height === size) return;
    this.canvas.width = size;
    this.canvas.height = size;
    this.redraw();
  }

  private point(e: PointerEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    const pen = e.pointerType === 'pen' && e.pressure > 0;
    return {
      x: (e.clientX - rect.left) / rect.width,
      y: (e.clientY - rect.top) / rect.height,
      w: pen ? 0.55 + 0.9 * e.pressure : 1,
    };
  }

  private down(e: PointerEvent): void {
    if (this.pointerId !== undefined || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    this.pointerId = e.pointerId;
    this.canvas.setPointerCapture(e.pointerId);
    this.active = [this.point(e)];
    this.strokes.push(this.active);
    this.redraw();
    this.onChange('stroke');
  }

  private move(e: PointerEvent): void {
    if (e.pointerId !== this.pointerId || this.active === undefined) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const c of events.length > 0 ? events : [e]) this.active.push(this.point(c));
    this.redraw();
    this.onChange('stroke');
  }

  private up(e: PointerEvent): void {
    if (e.pointerId !== this.pointerId) return;
    this.pointerId = undefined;
    this.active = undefined;
    this.onChange('end');
  }

  private redraw(): void {
    const { context: ctx, canvas } = this;
    const size = canvas.width;
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    for (const stroke of this.strokes) {
      const first = stroke[0];
      if (first === undefined) continue;
      if (stroke.length === 1) {
        ctx.beginPath();
        ctx.arc(first.x * size, first.y * size, (STROKE * size * first.w) / 2, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      // Segment by segment so pen pressure can vary the width; midpoints smooth the path.
      for (let i = 1; i < stroke.length; i++) {
        const a = stroke[i - 1] as Point;
        const b = stroke[i] as Point;
        ctx.lineWidth = STROKE * size * ((a.w + b.w) / 2);
        ctx.beginPath();
        ctx.moveTo(a.x * size, a.y * size);
        ctx.lineTo(b.x * size, b.y * size);
        ctx.stroke();
      }
    }
  }
}
