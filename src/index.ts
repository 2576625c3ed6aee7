/**
 * digit-recognizer: handwritten digit recognition with TensorFlow.js for the
 * Kaggle "Digit Recognizer" competition. Backend-agnostic: import and pick a
 * backend yourself (`@tensorflow/tfjs-backend-wasm`, `-cpu`, `-webgl` or `-webgpu`).
 */
export { VERSION } from './version.js';
export {
  DigitInputError,
  DigitLockError,
  DigitModelError,
  DigitOutputError,
  isDigitUserError,
  type FolderLockHolder,
  type DigitInputErrorCode,
  type DigitInputLocation,
  type DigitLimit,
  type DigitModelErrorCode,
  type DigitOutputErrorCode,
} from './errors.js';
export {
  DEFAULT_MAX_ARCHIVE_BYTES,
  DEFAULT_MAX_CSV_BYTES,
  DEFAULT_MAX_IMAGE_PIXELS,
  DEFAULT_MAX_LAYERS,
  DEFAULT_MAX_MODEL_JSON_BYTES,
  DEFAULT_MAX_ROWS,
  DEFAULT_MAX_TOPOLOGY_DEPTH,
  DEFAULT_MAX_WEIGHT_BYTES,
  MAX_LINE_BYTES,
  MAX_ZIP_DIRECTORY_BYTES,
} from './limits.js';

// data
export {
  createDigitDataset,
  pixelsToFloats,
  IMAGE_SIZE,
  NUM_CLASSES,
  PIXELS_PER_IMAGE,
  type DigitDataset,
  type DigitRange,
  type DigitTensors,
} from './data/dataset.js';
export * from './data/csv.js';
export * from './data/mnist.js';
export { parseIdxImages, parseIdxLabels } from './data/idx.js';
export { preprocessDigitImage, type PreprocessDigitOptions } from './data/preprocess.js';
export { checkImageSize, readImageSize, type CheckImageSizeOptions, type ImageSize } from './data/image_size.js';

// model
export { buildDigitCnn, type BuildDigitCnnOptions } from './model/build.js';
export {
  compactArchitecture,
  leanArchitecture,
  digitArchitectures,
  getDigitArchitecture,
  registerDigitArchitecture,
  seedArchitecture,
  strongArchitecture,
  type DigitArchitecture,
  type DigitArchitectureContext,
} from './model/architectures.js';
export { batchNormalization } from './model/batch_norm.js';
export { countFlops, summarizeDigitArchitectures, type DigitArchitectureSummary } from './model/summary.js';
export { assertDigitModel, loadDigitModel, type LoadDigitModelOptions } from './model/load.js';
export {
  loadPretrainedDigitModel,
  pretrainedDigitModelInfo,
  type PretrainedDigitModelInfo,
} from './model/pretrained.js';
export { quantizeWeights, type QuantizeWeightsOptions } from './io/quantize.js';
export {
  assertNotMnistTrained,
  MNIST_TRAIN_SOURCE,
  setTrainingProvenance,
  trainingProvenance,
  type DigitModelProvenance,
} from './model/provenance.js';
export { fileSystemIO } from './io/file_io.js';
export type { ModelDestination } from './io/model_io.js';
export type { DigitModelLimits } from './io/model_limits.js';
export { sweepStaleTempFiles, writeFileAtomic } from './io/node.js';
export {
  assertFolderUnlocked,
  FOLDER_LOCK_FILE,
  lockFolder,
  type FolderLock,
  type LockFolderOptions,
} from './io/folder_lock.js';

// kernels
export { registerWasmTrainingKernels } from './kernels/wasm_training.js';
export { registerCpuTrainingKernels } from './kernels/cpu_training.js';
export { configureWasmThreads, type WasmThreadsOptions, type WasmThreadsSetup } from './kernels/wasm_threads.js';
export {
  configureNativeKernels,
  nativeKernelStatus,
  type NativeIsa,
  type NativeKernelOptions,
  type NativeKernelStatus,
} from './kernels/addon/load.js';

// training
export { CheckpointBestCallback, type CheckpointBestOptions, type CheckpointSaved } from './training/callbacks.js';
export {
  trainDigits,
  type DigitEpochRecord,
  type TrainDigitsOptions,
  type TrainDigitsResult,
  type TrainProgress,
} from './training/train.js';
export { stratifiedSplit, subsetDataset, type DigitSplit } from './training/split.js';
export {
  augmentImage,
  augmentRanges,
  type AugmentOptions,
  type AugmentRanges,
  type ElasticOptions,
} from './training/augment.js';
export {
  cosineSchedule,
  oneCycleSchedule,
  plannedStep,
  type LearningRateSchedule,
  type ScheduleReplan,
} from './training/schedule.js';
export { digitPresets, type DigitPreset } from './training/presets.js';
export { digitRecipes, getDigitRecipe, type DigitRecipe } from './training/recipes.js';
export {
  planDigitTraining,
  replanDigitTraining,
  TTA_VIEWS,
  type DigitPlan,
  type DigitPlanCandidates,
  type DigitPlanEstimate,
  type DigitRecipeCost,
  type PlanDigitTrainingOptions,
  type ReplanDigitTrainingOptions,
} from './training/plan.js';
export { calibrateDigitRecipe, type CalibrateDigitRecipeOptions } from './training/calibrate.js';
export {
  DigitBudget,
  type DigitBudgetEvent,
  type DigitBudgetOptions,
  type DigitRepick,
  type TrainingBudgetHook,
} from './training/budget.js';
export {
  fileTrainingState,
  memoryTrainingState,
  type StoredTrainingState,
  type TrainingStateMeta,
  type TrainingStateStore,
} from './training/state.js';
export { indexedDbTrainingState, type IndexedDbTrainingStateOptions } from './training/indexeddb_state.js';

// prediction
export { accuracy, predictDigits, ttaViewCount, type PredictDigitsOptions } from './prediction/predict.js';
export type { DigitPredictions } from './prediction/predictions.js';
export { confusionMatrix, type DigitConfusionMatrix, type DigitConfusionPair } from './prediction/confusion.js';
export {
  formatSubmission,
  SUBMISSION_HEADER,
  writeSubmission,
  type SubmissionOptions,
} from './prediction/submission.js';
export {
  predictDigitCsv,
  type PredictDigitCsvOptions,
  type PredictDigitCsvProgress,
  type PredictDigitCsvResult,
} from './prediction/stream.js';

export {
  recognizeDigits,
  type DigitCanvas,
  type DigitImageData,
  type DigitImageInput,
  type DigitRecognition,
  type RecognizeDigitsOptions,
} from './prediction/recognize.js';

// rendering
export {
  renderPredictionGrid,
  writePredictionGrid,
  type PredictionGrid,
  type RenderPredictionGridOptions,
} from './rendering/grid.js';
export {
  renderTrainingCurves,
  type RenderTrainingCurvesOptions,
  type TrainingCurvePanel,
  type TrainingCurves,
  type TrainingHistorySeries,
} from './rendering/curves.js';
export {
  renderConfusionMatrix,
  type ConfusionMatrixPicture,
  type RenderConfusionMatrixOptions,
} from './rendering/confusion.js';
