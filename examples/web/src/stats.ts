/**
 * What the page measured and where it stands, exposed as `window.digitDemo`
 * for the curious and for the browser tests (which import this type).
 */
import type { GalleryStats } from './gallery.js';
import type { TrainingLive, TrainStats } from './train.js';

export interface DemoStats {
  backend: string;
  ready: boolean;
  /** Pad changes so far; `draw.seq` equal to it means the reading is up to date. */
  padSeq: number;
  draw?: { seq: number; preprocessMs: number; predictMs: number; digit: number; confidence: number };
  upload?: { digit: number; confidence: number };
  predictMs: number[];
  gallery?: GalleryStats;
  /** The last training run that finished (or was stopped) and whose model is in use. */
  train?: TrainStats;
  /** The training run in progress, after every batch. */
  training?: TrainingLive;
  /** True once a service worker is active, i.e. the app is precached and works offline (production builds). */
  offlineReady: boolean;
}

declare global {
  interface Window {
    digitDemo: DemoStats;
  }
}
