import * as tfl from '@tensorflow/tfjs-layers';

/** How often training lets the event loop run: tfjs' `yieldEvery` values. */
export type YieldEvery = 'auto' | 'batch' | 'epoch' | 'never' | number;

/** `auto`'s interval, as in tfjs-layers. */
const AUTO_MS = 125;

/**
 * Lets the event loop run between batches, so that a page can repaint, take a
 * click on Stop or a reload, and Node can deliver a signal, mid-epoch. tfjs
 * applies `yieldEvery` only to callbacks given as plain objects; trainDigits'
 * are `Callback` instances, so without this a whole epoch runs as one task.
 */
export class YieldCallback extends tfl.Callback {
  private last = 0;

  constructor(private readonly every: YieldEvery) {
    super();
  }

  override async onTrainBegin(): Promise<void> {
    this.last = performance.now();
  }

  override async onBatchEnd(): Promise<void> {
    const ms = this.every === 'auto' ? AUTO_MS : this.every;
    if (this.every === 'batch' || (typeof ms === 'number' && performance.now() - this.last >= ms)) await this.pause();
  }

  override async onEpochEnd(): Promise<void> {
    if (this.every === 'epoch') await this.pause();
  }

  private async pause(): Promise<void> {
    await yieldToEventLoop();
    this.last = performance.now();
  }
}

/**
 * Resolves after the event loop has run queued tasks: `setImmediate` in Node,
 * a `MessageChannel` message in browsers (a task like a timer, but not
 * throttled in background tabs as timers and animation frames are).
 */
export function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(undefined);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
