#!/usr/bin/env node
/**
 * The package's command: `digit-recognizer kaggle ...` and `digit-recognizer predict ...` run the
 * example scripts (examples/kaggle.ts, examples/predict.ts, compiled into the package), with the same
 * flags, outputs, errors and resume as `npm run kaggle` / `npm run predict` in a clone.
 */
import { setInvokedAs } from './cli.js';
import { VERSION } from 'digit-recognizer';

const COMMANDS: Record<string, string> = {
  kaggle: 'train on the competition data (or the embedded MNIST) and write submission.csv, pictures and run.json',
  predict: 'predict a test CSV with saved models and write a submission',
  info: 'print the versions, SIMD, threads and whether the native kernels load (for bug reports)',
};

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(8)} ${what}`);
  process.stdout.write(
    `usage: digit-recognizer <command> [flags]   (digit-recognizer <command> --help lists its flags)\n\n${lines.join('\n')}\n`,
  );
} else if (command === '--version') {
  process.stdout.write(`${VERSION}\n`);
} else if (!Object.hasOwn(COMMANDS, command)) {
  process.stderr.write(
    `digit-recognizer: error: unknown command "${command}"; commands: ${Object.keys(COMMANDS).join(', ')}\n`,
  );
  process.exitCode = 1;
} else {
  setInvokedAs('digit-recognizer');
  // The scripts read their flags from process.argv, after the node binary and the script path.
  process.argv = [process.argv[0]!, command, ...rest];
  await import(`./${command}.js`);
}
