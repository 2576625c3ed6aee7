/** Small DOM helpers shared by the views. */
import { IMAGE_SIZE, PIXELS_PER_IMAGE } from 'digit-recognizer';

export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return element;
}

/** Draws image `index` of `pixels` (784 bytes each, 0 background, 255 ink) as white ink on black into a 28x28 canvas. */
export function drawDigit(canvas: HTMLCanvasElement, pixels: Uint8Array, index = 0): void {
  canvas.width = IMAGE_SIZE;
  canvas.height = IMAGE_SIZE;
  const context = canvas.getContext('2d');
  if (context === null) return;
  const image = context.createImageData(IMAGE_SIZE, IMAGE_SIZE);
  const offset = index * PIXELS_PER_IMAGE;
  for (let i = 0; i < PIXELS_PER_IMAGE; i++) {
    const v = pixels[offset + i] as number;
    image.data[i * 4] = v;
    image.data[i * 4 + 1] = v;
    image.data[i * 4 + 2] = v;
    image.data[i * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

/** Ten rows "digit | bar | percent", the most likely highlighted. */
export class ProbabilityBars {
  private readonly rows: { row: HTMLElement; fill: HTMLElement; text: HTMLElement }[] = [];

  constructor(container: HTMLElement) {
    container.replaceChildren();
    for (let d = 0; d < 10; d++) {
      const row = document.createElement('div');
      row.className = 'bar-row';
      row.setAttribute('role', 'listitem');
      row.dataset['digit'] = String(d);
      const label = document.createElement('span');
      label.className = 'd';
      label.textContent = String(d);
      const track = document.createElement('span');
      track.className = 'bar-track';
      track.setAttribute('aria-hidden', 'true');
      const fill = document.createElement('span');
      fill.className = 'bar-fill';
      track.append(fill);
      const text = document.createElement('span');
      text.className = 'p';
      text.textContent = '–';
      row.append(label, track, text);
      container.append(row);
      this.rows.push({ row, fill, text });
    }
  }

  update(probabilities: Float32Array | undefined): void {
    const best = probabilities === undefined ? -1 : argMax(probabilities);
    this.rows.forEach(({ row, fill, text }, d) => {
      const p = probabilities?.[d];
      fill.style.width = p === undefined ? '0' : `${(p * 100).toFixed(1)}%`;
      text.textContent = p === undefined ? '–' : percent(p);
      row.classList.toggle('top', d === best);
      row.setAttribute('aria-label', p === undefined ? `${d}: no prediction` : `${d}: ${percent(p)}`);
    });
  }
}

export function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

export function percent(p: number): string {
  if (p >= 0.9995) return '100%';
  if (p < 0.001) return p > 0 ? '<0.1%' : '0%';
  return `${(p * 100).toFixed(p < 0.1 ? 1 : 0)}%`;
}

export function formatNumber(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function showError(element: HTMLElement, error: unknown): void {
  element.textContent = error instanceof Error ? error.message : String(error);
  element.hidden = false;
}

export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Lets the browser paint before more work runs on the main thread. */
export function nextPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
