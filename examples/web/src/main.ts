/**
 * Digit Recognizer in the browser: draw, upload, gallery and training views
 * over one shared model, on the WebGL, WASM or CPU backend.
 */
import './style.css';
import * as tf from '@tensorflow/tfjs-core';
import { checkImageSize, DEFAULT_MAX_IMAGE_PIXELS, preprocessDigitImage, readImageSize } from 'digit-recognizer';
import {
  BACKENDS,
  describeBackend,
  isBackendName,
  preferredOrder,
  probeWebGl,
  probeWebGpu,
  startBackend,
  type BackendName,
  type WebGpuProbe,
} from './backend.js';
import { DrawPad } from './draw.js';
import { Gallery } from './gallery.js';
import { ModelHolder, type Prediction } from './model.js';
import type { DemoStats } from './stats.js';
import { Trainer } from './train.js';
import { argMax, byId, drawDigit, ProbabilityBars, percent, showError } from './ui.js';

const stats: DemoStats = { backend: '', ready: false, padSeq: 0, predictMs: [], offlineReady: false };
window.digitDemo = stats;

const holder = new ModelHolder();
const backendSelect = byId('backend', HTMLSelectElement);
const backendStatus = byId('backend-status', HTMLElement);
const modelStatus = byId('model-status', HTMLElement);
let busyCount = 0;

function setBusy(busy: boolean): void {
  busyCount = Math.max(0, busyCount + (busy ? 1 : -1));
  backendSelect.disabled = busyCount > 0;
}

// ---------- tabs ----------
const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
function selectTab(tab: HTMLButtonElement, focus = false): void {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute('aria-selected', String(selected));
    t.tabIndex = selected ? 0 : -1;
    const panel = document.getElementById(t.getAttribute('aria-controls') ?? '');
    if (panel !== null) panel.hidden = !selected;
  }
  if (focus) tab.focus();
  history.replaceState(null, '', `#${tab.id.replace('tab-', '')}`);
}
tabs.forEach((tab, i) => {
  tab.addEventListener('click', () => selectTab(tab));
  tab.addEventListener('keydown', (e) => {
    const next =
      e.key === 'ArrowRight'
        ? i + 1
        : e.key === 'ArrowLeft'
          ? i - 1
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? tabs.length - 1
              : undefined;
    if (next === undefined) return;
    e.preventDefault();
    selectTab(tabs[(next + tabs.length) % tabs.length] as HTMLButtonElement, true);
  });
});
const initialTab = tabs.find((t) => t.id === `tab-${location.hash.slice(1)}`);
if (initialTab !== undefined) selectTab(initialTab);

// ---------- drawing ----------
const drawBars = new ProbabilityBars(byId('draw-bars', HTMLElement));
const drawDigitOut = byId('draw-digit', HTMLOutputElement);
const drawConfidence = byId('draw-confidence', HTMLElement);
const draw28 = byId('draw-28', HTMLCanvasElement);
const drawLatency = byId('draw-latency', HTMLElement);
const placeholder = byId('pad-placeholder', HTMLElement);
const undoButton = byId('undo', HTMLButtonElement);
const clearButton = byId('clear', HTMLButtonElement);
let predicting = false;
let again = false;

const pad = new DrawPad(byId('pad', HTMLCanvasElement), () => {
  stats.padSeq++;
  placeholder.hidden = !pad.empty;
  undoButton.disabled = pad.empty;
  clearButton.disabled = pad.empty;
  requestDrawPrediction();
});
undoButton.addEventListener('click', () => pad.undo());
clearButton.addEventListener('click', () => pad.clear());
document.addEventListener('keydown', (e) => {
  if (byId('panel-draw', HTMLElement).hidden) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
    e.preventDefault();
    pad.undo();
  } else if (e.key === 'Escape') pad.clear();
});

function showReading(
  digitOut: HTMLOutputElement,
  confidence: HTMLElement,
  bars: ProbabilityBars,
  prediction: Prediction | undefined,
  empty: string,
): void {
  if (prediction === undefined) {
    digitOut.textContent = '–';
    confidence.textContent = empty;
    bars.update(undefined);
    return;
  }
  const best = argMax(prediction.probabilities);
  digitOut.textContent = String(best);
  confidence.textContent = `${percent(prediction.probabilities[best] as number)} sure it is a ${best}`;
  bars.update(prediction.probabilities);
}

function requestDrawPrediction(): void {
  if (predicting) {
    again = true;
    return;
  }
  predicting = true;
  requestAnimationFrame(() => {
    void predictDrawing().finally(() => {
      predicting = false;
      if (again) {
        again = false;
        requestDrawPrediction();
      }
    });
  });
}

async function predictDrawing(): Promise<void> {
  if (pad.empty || !holder.ready) {
    drawDigit(draw28, new Uint8Array(784));
    showReading(drawDigitOut, drawConfidence, drawBars, undefined, pad.empty ? 'Waiting for ink' : 'Loading model…');
    drawLatency.textContent = '';
    delete stats.draw;
    return;
  }
  const seq = stats.padSeq;
  const t0 = performance.now();
  const image = pad.pixels();
  const pixels = preprocessDigitImage(image.data, image.width, image.height);
  const preprocessMs = performance.now() - t0;
  drawDigit(draw28, pixels);
  const prediction = await holder.predict(pixels);
  showReading(drawDigitOut, drawConfidence, drawBars, prediction, '');
  const best = argMax(prediction.probabilities);
  stats.draw = {
    seq,
    preprocessMs,
    predictMs: prediction.ms,
    digit: best,
    confidence: prediction.probabilities[best] as number,
  };
  stats.predictMs.push(prediction.ms);
  if (stats.predictMs.length > 200) stats.predictMs.shift();
  drawLatency.textContent = `Preprocessing ${preprocessMs.toFixed(1)} ms · model ${prediction.ms.toFixed(1)} ms on ${tf.getBackend()}`;
}

// ---------- upload ----------
const uploadBars = new ProbabilityBars(byId('upload-bars', HTMLElement));
const uploadDigit = byId('upload-digit', HTMLOutputElement);
const uploadConfidence = byId('upload-confidence', HTMLElement);
const upload28 = byId('upload-28', HTMLCanvasElement);
const uploadPreview = byId('upload-preview', HTMLImageElement);
const uploadError = byId('upload-error', HTMLElement);
const uploadInput = byId('upload-file', HTMLInputElement);
const dropZone = byId('upload-drop', HTMLElement);
let lastUpload: Uint8Array | undefined;

uploadInput.addEventListener('change', () => {
  const file = uploadInput.files?.[0];
  if (file !== undefined) void readUpload(file);
});
dropZone.addEventListener('dragover', (e) => {
  e.preventDefault();
  dropZone.classList.add('over');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropZone.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file !== undefined) void readUpload(file);
});

/** Largest picture file read: phone photos are a few megabytes. */
const MAX_UPLOAD_BYTES = 32 << 20;

async function readUpload(file: File): Promise<void> {
  uploadError.hidden = true;
  try {
    // Measured before decoding: a few kilobytes of PNG can claim 100,000 x 100,000 pixels, gigabytes decoded.
    if (file.size > MAX_UPLOAD_BYTES)
      throw new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MB; pictures up to 32 MB are read.`);
    const size = readImageSize(new Uint8Array(await file.arrayBuffer()));
    if (size === undefined || size.width === 0 || size.height === 0)
      throw new Error(`${file.name} could not be read as an image (PNG, JPEG, WebP, GIF or BMP).`);
    try {
      checkImageSize(size.width, size.height, { name: file.name });
    } catch {
      const side = Math.sqrt(DEFAULT_MAX_IMAGE_PIXELS);
      throw new Error(
        `${file.name} is ${size.width} x ${size.height} pixels; pictures up to ${side} x ${side} pixels are read.`,
      );
    }
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      throw new Error(`${file.name} could not be read as an image (PNG, JPEG, WebP, GIF or BMP).`);
    }
    // Large photos are scaled down first: 512 pixels are plenty for a 20x20 result.
    const scale = Math.min(1, 512 / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('2D canvas is not available');
    context.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const pixels = preprocessDigitImage(context.getImageData(0, 0, width, height).data, width, height);
    if (uploadPreview.src !== '') URL.revokeObjectURL(uploadPreview.src);
    uploadPreview.src = URL.createObjectURL(file);
    uploadPreview.alt = `The uploaded picture ${file.name}`;
    uploadPreview.hidden = false;
    lastUpload = pixels;
    await predictUpload();
  } catch (e) {
    showError(uploadError, e);
  }
}

async function predictUpload(): Promise<void> {
  if (lastUpload === undefined || !holder.ready) return;
  drawDigit(upload28, lastUpload);
  if (lastUpload.every((v) => v === 0)) {
    showReading(uploadDigit, uploadConfidence, uploadBars, undefined, 'No ink found in this picture');
    return;
  }
  const prediction = await holder.predict(lastUpload);
  showReading(uploadDigit, uploadConfidence, uploadBars, prediction, '');
  const best = argMax(prediction.probabilities);
  stats.upload = { digit: best, confidence: prediction.probabilities[best] as number };
}

// ---------- gallery and training ----------
const gallery = new Gallery(holder, setBusy);
const trainer = new Trainer(holder, setBusy);
gallery.onStats = (s) => {
  stats.gallery = s;
};
trainer.onStats = (s) => {
  stats.train = s;
};
trainer.onLive = (live) => {
  stats.training = live;
};

holder.onChange((info) => {
  modelStatus.textContent = `Model: ${info.architecture} · ${info.note}`;
  requestDrawPrediction();
  void predictUpload();
});

// ---------- backends ----------
const webgl = probeWebGl();
// Probed (asynchronously) when the page starts; unavailable until then.
let webgpu: WebGpuProbe = { available: false, software: false, adapter: 'none', why: 'not probed', reason: '' };
const available = new Set<BackendName>();

async function switchBackend(name: BackendName): Promise<boolean> {
  backendStatus.textContent = `Starting ${name}…`;
  if (!(await startBackend(name))) {
    backendStatus.textContent = `${name} is not available here`;
    return false;
  }
  available.add(name);
  backendSelect.value = name;
  stats.backend = name;
  backendStatus.textContent = await describeBackend(name, webgl, webgpu);
  return true;
}

backendSelect.addEventListener('change', () => {
  const name = backendSelect.value;
  if (!isBackendName(name) || name === tf.getBackend()) return;
  void (async () => {
    setBusy(true);
    stats.ready = false;
    try {
      const previous = tf.getBackend() as BackendName;
      if (!(await switchBackend(name))) {
        disableOption(name);
        await switchBackend(previous);
      }
      await holder.rebuild();
    } finally {
      stats.ready = true;
      setBusy(false);
    }
  })();
});

function disableOption(name: BackendName): void {
  const option = [...backendSelect.options].find((o) => o.value === name);
  if (option !== undefined) {
    // WebGPU says why: no navigator.gpu, or no adapter (the full reason in the tooltip).
    const why = name === 'webgpu' && !webgpu.available ? webgpu.why : 'unavailable';
    option.disabled = true;
    option.textContent = `${option.textContent?.replace(/ \(.*\)$/, '') ?? name} (${why})`;
    if (name === 'webgpu' && webgpu.reason !== '') option.title = webgpu.reason;
  }
}

async function start(): Promise<void> {
  webgpu = await probeWebGpu();
  if (!webgl.available) disableOption('webgl');
  if (!webgpu.available) {
    disableOption('webgpu');
    console.info(webgpu.reason);
  }
  const requested = new URLSearchParams(location.search).get('backend');
  const order = isBackendName(requested)
    ? [requested, ...preferredOrder(webgl, webgpu).filter((b) => b !== requested)]
    : preferredOrder(webgl, webgpu);
  let started = false;
  for (const name of order) {
    if (await switchBackend(name)) {
      started = true;
      break;
    }
    disableOption(name);
  }
  if (!started) throw new Error('No TensorFlow.js backend could start in this browser.');
  for (const name of BACKENDS) if (!order.includes(name)) disableOption(name);
  await holder.loadStartupModel();
  backendSelect.disabled = false;
  stats.ready = true;
  document.body.dataset['ready'] = 'true';
  // A training run cut short by a reload continues from its last completed epoch.
  void trainer.resumeUnfinished();
}

// ---------- offline ----------
// public/sw.js precaches the whole build (shell, model, samples, .wasm) on
// install. Production only: in dev it would serve stale modules. Relative URL
// and scope, so the build works from any sub-path.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker
    .register(new URL('sw.js', document.baseURI), { scope: './' })
    // `ready` resolves once a worker is active, i.e. after its install finished precaching.
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      stats.offlineReady = true;
    })
    .catch((e: unknown) => console.warn('service worker not registered; the app will not work offline', e));
}

start().catch((e: unknown) => {
  modelStatus.textContent = 'Could not start';
  showError(byId('gallery-error', HTMLElement), e);
  console.error(e);
});
