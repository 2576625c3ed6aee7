/**
 * The presets' measured figures as `bench/results/presets.json` holds them (bench/recipes/presets.ts
 * writes it): per preset and data set, the wall time, hold-out accuracy, MNIST test accuracy and the
 * day of the run. What a test compares the figures announced to users with.
 */
import { ResultsError, type ResultsFile } from './results.js';

export interface PresetFigure {
  readonly preset: string;
  /** `kaggle` (the competition's train.csv, 10 % held out) or `mnist` (the embedded MNIST). */
  readonly data: 'kaggle' | 'mnist';
  readonly minutes: number;
  /** Percent, on the hold-out. */
  readonly holdoutAccuracy: number;
  /** Percent, on MNIST's 10,000 test images (mnist only). */
  readonly mnistTestAccuracy: number | null;
  /** `YYYY-MM-DD` of the run. */
  readonly day: string;
}

const REQUIRED = ['preset', 'data', 'minutes', 'holdoutAccuracy', 'mnistTestAccuracy'];

/** The `presets` table's rows, checked: every column present, numbers where figures belong. */
export function presetFigures(file: ResultsFile): PresetFigure[] {
  const table = file.tables.find((t) => t.id === 'presets');
  if (table === undefined) throw new ResultsError('presets.json has no table "presets"');
  const missing = REQUIRED.filter((key) => !table.columns.some((c) => c.key === key));
  if (missing.length > 0) throw new ResultsError(`presets.json: table "presets" lacks ${missing.join(', ')}`);
  return table.rows.map((row, i) => {
    const { preset, data, minutes, holdoutAccuracy, mnistTestAccuracy } = row.cells;
    const where = `presets.json: presets row ${i}`;
    if (typeof preset !== 'string') throw new ResultsError(`${where}: preset must be a name`);
    if (data !== 'kaggle' && data !== 'mnist') throw new ResultsError(`${where}: data must be kaggle or mnist`);
    if (typeof minutes !== 'number' || typeof holdoutAccuracy !== 'number')
      throw new ResultsError(`${where}: minutes and holdoutAccuracy must be numbers`);
    if (data === 'mnist' && typeof mnistTestAccuracy !== 'number')
      throw new ResultsError(`${where}: an mnist row needs mnistTestAccuracy`);
    return {
      preset,
      data,
      minutes,
      holdoutAccuracy,
      mnistTestAccuracy: typeof mnistTestAccuracy === 'number' ? mnistTestAccuracy : null,
      day: file.runs[row.run ?? 0]!.date.slice(0, 10),
    };
  });
}
