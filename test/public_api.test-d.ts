/**
 * The public API's types, as a consumer imports them: the options each function takes, what it
 * returns, the error codes, and the architecture and preset shapes. A change here is a change for
 * every user of the package, so it should be deliberate (and in the changelog).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type DigitBudget,
  replanDigitTraining,
  type DigitBudgetOptions,
  type DigitPlanCandidates,
  type DigitRepick,
  type ReplanDigitTrainingOptions,
  accuracy,
  buildDigitCnn,
  CheckpointBestCallback,
  digitArchitectures,
  digitPresets,
  assertFolderUnlocked,
  fileTrainingState,
  FOLDER_LOCK_FILE,
  lockFolder,
  type DigitInputError,
  type DigitLockError,
  type DigitModelError,
  type DigitOutputError,
  formatSubmission,
  isDigitUserError,
  loadDigitCsv,
  loadMnist,
  oneCycleSchedule,
  predictDigitCsv,
  predictDigits,
  registerDigitArchitecture,
  renderPredictionGrid,
  streamDigitCsv,
  trainDigits,
  writeSubmission,
  type AugmentOptions,
  type BuildDigitCnnOptions,
  type DigitArchitecture,
  type DigitArchitectureContext,
  type DigitCsvChunk,
  type DigitCsvSource,
  type DigitDataset,
  type DigitEpochRecord,
  type DigitInputErrorCode,
  type DigitModelErrorCode,
  type DigitOutputErrorCode,
  type DigitPredictions,
  type DigitPreset,
  type DigitPlan,
  type DigitRecipe,
  type TrainingBudgetHook,
  planDigitTraining,
  type ElasticOptions,
  type LearningRateSchedule,
  type LoadDigitCsvOptions,
  type ModelDestination,
  type PredictDigitCsvResult,
  type PredictDigitsOptions,
  type PredictionGrid,
  type TrainDigitsOptions,
  type TrainDigitsResult,
  type TrainProgress,
  configureNativeKernels,
  nativeKernelStatus,
  type NativeIsa,
  type NativeKernelOptions,
  type NativeKernelStatus,
  type FolderLock,
  type FolderLockHolder,
  type LockFolderOptions,
  type TrainingStateStore,
} from 'digit-recognizer';

describe('errors', () => {
  it('have exactly the documented codes', () => {
    expectTypeOf<DigitInputErrorCode>().toEqualTypeOf<
      | 'NOT_FOUND'
      | 'UNREADABLE'
      | 'EMPTY'
      | 'HEADER_ONLY'
      | 'BAD_HEADER'
      | 'COLUMN_COUNT'
      | 'BAD_CELL'
      | 'PIXEL_RANGE'
      | 'LABEL_RANGE'
      | 'BAD_ENCODING'
      | 'LINE_TOO_LONG'
      | 'ZIP_MEMBER_MISSING'
      | 'CORRUPT_ARCHIVE'
      | 'BAD_IDX'
      | 'CHECKSUM_MISMATCH'
      | 'MISSING_DEPENDENCY'
      | 'BAD_IMAGE'
      | 'UNSUPPORTED'
      | 'TOO_LARGE'
    >();
    expectTypeOf<DigitModelErrorCode>().toEqualTypeOf<
      | 'NOT_FOUND'
      | 'BAD_JSON'
      | 'MISSING_WEIGHTS'
      | 'WEIGHTS_SIZE'
      | 'WRONG_SHAPE'
      | 'UNKNOWN_ARCHITECTURE'
      | 'UNSAFE_PATH'
      | 'TOO_LARGE'
      | 'BAD_OPTIONS'
      | 'BUDGET_TOO_SMALL'
      | 'MNIST_TRAINED'
    >();
    expectTypeOf<DigitOutputErrorCode>().toEqualTypeOf<
      'NOT_WRITABLE' | 'IS_DIRECTORY' | 'NO_DIRECTORY' | 'NO_SPACE' | 'BAD_PREDICTIONS' | 'UNSUPPORTED'
    >();
  });

  it('carry their code and location, and are Errors', () => {
    expectTypeOf<DigitInputError>().toMatchTypeOf<Error>();
    expectTypeOf<DigitInputError['code']>().toEqualTypeOf<DigitInputErrorCode>();
    expectTypeOf<DigitInputError['file']>().toEqualTypeOf<string>();
    expectTypeOf<DigitInputError['line']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<DigitInputError['column']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<DigitInputError['problem']>().toEqualTypeOf<string>();
    expectTypeOf<DigitModelError['code']>().toEqualTypeOf<DigitModelErrorCode>();
    expectTypeOf<DigitModelError['target']>().toEqualTypeOf<string>();
    expectTypeOf<DigitOutputError['code']>().toEqualTypeOf<DigitOutputErrorCode>();
    expectTypeOf<DigitOutputError['path']>().toEqualTypeOf<string>();
    expectTypeOf<ConstructorParameters<typeof DigitInputError>[0]>().toEqualTypeOf<DigitInputErrorCode>();
  });

  it('isDigitUserError narrows to the four', () => {
    expectTypeOf(isDigitUserError).guards.toEqualTypeOf<
      DigitInputError | DigitModelError | DigitOutputError | DigitLockError
    >();
  });
});

describe('folder locks', () => {
  it('lockFolder gives a lock to release; a refusal names the holder', () => {
    expectTypeOf(lockFolder).parameters.toEqualTypeOf<[string, LockFolderOptions?]>();
    expectTypeOf(lockFolder).returns.resolves.toEqualTypeOf<FolderLock>();
    expectTypeOf<FolderLock['release']>().returns.resolves.toBeVoid();
    expectTypeOf(assertFolderUnlocked).returns.resolves.toBeVoid();
    expectTypeOf<LockFolderOptions>().toEqualTypeOf<{ readonly command?: string }>();
    expectTypeOf<DigitLockError>().toMatchTypeOf<Error>();
    expectTypeOf<DigitLockError['holder']>().toEqualTypeOf<FolderLockHolder>();
    expectTypeOf<FolderLockHolder>().toEqualTypeOf<{
      readonly pid: number;
      readonly command: string;
      readonly hostname: string;
      readonly since: string;
    }>();
    expectTypeOf(FOLDER_LOCK_FILE).toBeString();
  });

  it('a training state store may lock itself for one training', () => {
    expectTypeOf<TrainingStateStore['lock']>().toEqualTypeOf<(() => Promise<() => Promise<void>>) | undefined>();
    expectTypeOf(fileTrainingState).returns.toEqualTypeOf<TrainingStateStore>();
  });
});

describe('data', () => {
  it('loadDigitCsv takes a source and options and gives a dataset', () => {
    expectTypeOf(loadDigitCsv).returns.toEqualTypeOf<Promise<DigitDataset>>();
    expectTypeOf(loadDigitCsv).parameter(0).toEqualTypeOf<DigitCsvSource>();
    expectTypeOf<DigitCsvSource>().toEqualTypeOf<
      | string
      | { readonly path: string }
      | { readonly text: string; readonly name?: string }
      | Uint8Array
      | ArrayBuffer
      | Blob
      | ReadableStream<Uint8Array>
      | AsyncIterable<Uint8Array | string>
    >();
    expectTypeOf<LoadDigitCsvOptions>().toEqualTypeOf<{
      readonly member?: string;
      readonly labelled?: boolean;
      readonly limit?: number;
      readonly maxRows?: number;
      readonly maxBytes?: number;
      readonly maxArchiveBytes?: number;
      readonly name?: string;
      readonly onProgress?: (rows: number) => void;
    }>();
    expectTypeOf(loadMnist).returns.toEqualTypeOf<Promise<DigitDataset>>();
  });

  it('a dataset is compact pixels, optional labels and tensors on demand', () => {
    expectTypeOf<DigitDataset['count']>().toEqualTypeOf<number>();
    expectTypeOf<DigitDataset['pixels']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<DigitDataset['labels']>().toEqualTypeOf<Uint8Array | undefined>();
    expectTypeOf<ReturnType<DigitDataset['toTensors']>['xs']>().toEqualTypeOf<tf.Tensor4D>();
    expectTypeOf<ReturnType<DigitDataset['toTensors']>['ys']>().toEqualTypeOf<tf.Tensor2D | undefined>();
  });

  it('streamDigitCsv yields chunks that are datasets with their place in the file', () => {
    expectTypeOf(streamDigitCsv).returns.toMatchTypeOf<AsyncIterable<DigitCsvChunk>>();
    expectTypeOf<DigitCsvChunk>().toMatchTypeOf<DigitDataset>();
  });
});

describe('model', () => {
  it('buildDigitCnn takes an architecture by name or object and gives a Sequential', () => {
    expectTypeOf(buildDigitCnn).returns.toEqualTypeOf<tfl.Sequential>();
    expectTypeOf<BuildDigitCnnOptions['architecture']>().toEqualTypeOf<string | DigitArchitecture | undefined>();
    expectTypeOf<BuildDigitCnnOptions['seed']>().toEqualTypeOf<number | undefined>();
    expectTypeOf(buildDigitCnn).toBeCallableWith({ architecture: 'lean', seed: 1, compile: false });
  });

  it('an architecture is a name, a description and a layer factory', () => {
    expectTypeOf<DigitArchitecture>().toEqualTypeOf<{
      readonly name: string;
      readonly description: string;
      layers(context: DigitArchitectureContext): tfl.layers.Layer[];
    }>();
    expectTypeOf<DigitArchitectureContext['seed']>().toEqualTypeOf<number | undefined>();
    expectTypeOf(registerDigitArchitecture).parameters.toEqualTypeOf<[DigitArchitecture]>();
    expectTypeOf(digitArchitectures).returns.toEqualTypeOf<DigitArchitecture[]>();
  });
});

describe('training', () => {
  it('trainDigits takes a model, a dataset and options, and reports the best epoch', () => {
    expectTypeOf(trainDigits).parameter(0).toEqualTypeOf<tfl.LayersModel>();
    expectTypeOf(trainDigits).parameter(1).toEqualTypeOf<DigitDataset>();
    expectTypeOf(trainDigits).returns.toEqualTypeOf<Promise<TrainDigitsResult>>();
    expectTypeOf<TrainDigitsResult['model']>().toEqualTypeOf<tfl.LayersModel>();
    expectTypeOf<TrainDigitsResult['history']>().toEqualTypeOf<DigitEpochRecord[]>();
    expectTypeOf<TrainDigitsResult['bestEpoch']>().toEqualTypeOf<number>();
    expectTypeOf<TrainDigitsResult['stopped']>().toEqualTypeOf<boolean>();
  });

  it('options: augmentation, schedules, checkpoint, progress and cancellation', () => {
    expectTypeOf<TrainDigitsOptions['augment']>().toEqualTypeOf<boolean | AugmentOptions | undefined>();
    expectTypeOf<AugmentOptions['elastic']>().toEqualTypeOf<ElasticOptions | false | undefined>();
    expectTypeOf<TrainDigitsOptions['learningRate']>().toEqualTypeOf<number | LearningRateSchedule | undefined>();
    expectTypeOf<LearningRateSchedule>().toEqualTypeOf<(step: number, totalSteps: number) => number>();
    expectTypeOf(oneCycleSchedule).returns.toEqualTypeOf<LearningRateSchedule>();
    expectTypeOf<TrainDigitsOptions['checkpoint']>().toEqualTypeOf<CheckpointBestCallback | undefined>();
    expectTypeOf<TrainDigitsOptions['signal']>().toEqualTypeOf<AbortSignal | undefined>();
    expectTypeOf<NonNullable<TrainDigitsOptions['onProgress']>>().parameters.toEqualTypeOf<[TrainProgress]>();
    expectTypeOf<TrainProgress['phase']>().toEqualTypeOf<'batch' | 'epoch'>();
    expectTypeOf<DigitEpochRecord['val_acc']>().toEqualTypeOf<number | undefined>();
  });

  it('a checkpoint saves to a path or any tf.io handler', () => {
    expectTypeOf<ModelDestination>().toEqualTypeOf<string | tf.io.IOHandler>();
    expectTypeOf(CheckpointBestCallback).toBeConstructibleWith({ destination: 'out/best-model' });
    expectTypeOf(CheckpointBestCallback).toBeConstructibleWith({ monitor: 'loss', mode: 'min' });
  });

  it('a preset is a time budget; a recipe is what the planner sizes to it', () => {
    expectTypeOf(digitPresets).returns.toEqualTypeOf<readonly DigitPreset[]>();
    expectTypeOf<DigitPreset>().toEqualTypeOf<{
      readonly name: string;
      readonly minutes: number;
      readonly description: string;
    }>();
    expectTypeOf<DigitRecipe['architecture']>().toEqualTypeOf<string>();
    expectTypeOf<DigitRecipe['augment']>().toEqualTypeOf<AugmentOptions | false>();
    expectTypeOf<DigitRecipe['minEpochs']>().toEqualTypeOf<number>();
    expectTypeOf(planDigitTraining).returns.toEqualTypeOf<Promise<DigitPlan>>();
    expectTypeOf<DigitPlan['ttaViews']>().toEqualTypeOf<number>();
    expectTypeOf<TrainDigitsOptions['budget']>().toEqualTypeOf<TrainingBudgetHook | undefined>();
  });

  it('a budget may stop its first model for a re-plan at the measured speed', () => {
    expectTypeOf<ConstructorParameters<typeof DigitBudget>>().toEqualTypeOf<[DigitPlan, DigitBudgetOptions?]>();
    expectTypeOf<DigitBudget['repick']>().toEqualTypeOf<DigitRepick | undefined>();
    expectTypeOf<DigitRepick>().toEqualTypeOf<{ readonly speed: number; readonly seconds: number }>();
    expectTypeOf(replanDigitTraining).parameters.toEqualTypeOf<[DigitPlan, ReplanDigitTrainingOptions]>();
    expectTypeOf(replanDigitTraining).returns.toEqualTypeOf<Promise<DigitPlan>>();
    expectTypeOf<DigitPlan['candidates']>().toEqualTypeOf<DigitPlanCandidates | undefined>();
  });
});

describe('prediction and outputs', () => {
  it('predictDigits takes one model or an ensemble and gives compact predictions', () => {
    expectTypeOf(predictDigits).parameter(0).toEqualTypeOf<tfl.LayersModel | readonly tfl.LayersModel[]>();
    expectTypeOf(predictDigits).parameter(2).toEqualTypeOf<PredictDigitsOptions | undefined>();
    expectTypeOf(predictDigits).returns.toEqualTypeOf<Promise<DigitPredictions>>();
    expectTypeOf<DigitPredictions>().toEqualTypeOf<{
      readonly count: number;
      readonly labels: Uint8Array;
      readonly confidences: Float32Array;
      readonly probabilities?: Float32Array;
    }>();
    expectTypeOf<PredictDigitsOptions['tta']>().toEqualTypeOf<boolean | number | undefined>();
    expectTypeOf(accuracy).toEqualTypeOf<(predictions: DigitPredictions, labels: Uint8Array) => number>();
  });

  it('submissions are text or a file, pictures are PNG and SVG', () => {
    expectTypeOf(formatSubmission).returns.toEqualTypeOf<string>();
    expectTypeOf(writeSubmission).returns.toMatchTypeOf<Promise<unknown>>();
    expectTypeOf(predictDigitCsv).returns.toEqualTypeOf<Promise<PredictDigitCsvResult>>();
    expectTypeOf(renderPredictionGrid).returns.toEqualTypeOf<PredictionGrid>();
    expectTypeOf<PredictionGrid['png']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<PredictionGrid['svg']>().toEqualTypeOf<string>();
  });
});

describe('native kernels', () => {
  it('report on or off with a reason, and take enabled, threads and a SIMD path', () => {
    expectTypeOf(nativeKernelStatus).toEqualTypeOf<() => NativeKernelStatus>();
    expectTypeOf(configureNativeKernels).toEqualTypeOf<(options: NativeKernelOptions) => NativeKernelStatus>();
    expectTypeOf<NativeIsa>().toEqualTypeOf<'avx512' | 'avx2' | 'sse2'>();
    expectTypeOf<Extract<NativeKernelStatus, { on: false }>>().toEqualTypeOf<{
      readonly on: false;
      readonly why: string;
    }>();
    expectTypeOf<Extract<NativeKernelStatus, { on: true }>['isa']>().toEqualTypeOf<NativeIsa>();
    expectTypeOf<NativeKernelOptions['isa']>().toEqualTypeOf<NativeIsa | 'auto' | undefined>();
  });
});
