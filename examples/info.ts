/**
 * `digit-recognizer info` (`npm run info` in a clone): what this machine runs, for bug reports:
 * the package, Node, TensorFlow.js and backend versions, the wasm backend's SIMD and threads, and
 * whether the native kernels load (`native kernels: on (<isa>, <n> threads)`, or `off (<why>)`).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { VERSION } from 'digit-recognizer';

import { commandName, nativeKernelsLine, parseFlags, runScript, THREADS_FLAG, useBackend } from './cli.js';

const USAGE = [
  `usage: ${commandName('info')} [--threads N] [--no-native]`,
  '',
  '  --threads N     threads to report on (default: the cores), as kaggle and predict would start them',
  '  --no-native     as those scripts with --no-native',
].join('\n');

runScript('info', async () => {
  const flags = parseFlags({ ...THREADS_FLAG, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (flags.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  await useBackend('wasm', flags.threads, flags['no-native'] !== true);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const threaded = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
  const lines = [
    `digit-recognizer ${VERSION}`,
    `node ${process.versions.node} (${process.platform}-${process.arch})`,
    `tfjs-core ${tf.version_core}, tfjs-layers ${tfl.version_layers}, tfjs-backend-wasm ${wasm.version_wasm}`,
    `wasm backend: ${simd ? 'SIMD' : 'no SIMD'}, ${threaded ? `${wasm.getThreadsCount()} threads` : '1 thread'}`,
    `native kernels: ${nativeKernelsLine()}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});
