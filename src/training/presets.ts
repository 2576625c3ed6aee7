/**
 * A named time budget: what the example's `--preset` selects. The planner (`planDigitTraining`)
 * turns the minutes into a network, epochs, ensemble and test-time augmentation for the machine it
 * runs on.
 */
export interface DigitPreset {
  readonly name: string;
  /** The whole command's wall time: loading, training, validation, prediction and writing outputs. */
  readonly minutes: number;
  readonly description: string;
}

const PRESETS: readonly DigitPreset[] = Object.freeze([
  { name: 'fast', minutes: 2, description: 'a first submission in 2 minutes' },
  { name: 'default', minutes: 15, description: 'the best model this machine trains in 15 minutes' },
  { name: 'best', minutes: 120, description: 'the best ensemble this machine trains in 2 hours' },
]);

/** The built-in presets: `fast` (2 minutes), `default` (15) and `best` (120). */
export function digitPresets(): readonly DigitPreset[] {
  return PRESETS;
}
