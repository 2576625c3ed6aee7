/**
 * Typed errors thrown by the library for problems caused by the caller's input
 * or environment (as opposed to bugs). Scripts print `error.message` alone.
 */

/** What went wrong with an input file, stream, archive or image. */
export type DigitInputErrorCode =
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
  | 'TOO_LARGE'
  | 'UNSUPPORTED';

/**
 * The bound an input or model ran into (code `TOO_LARGE`): the option that
 * sets it, as named in the message (`options.maxRows`), and its value. A
 * script can name its own flag instead of the option.
 */
export interface DigitLimit {
  readonly option: string;
  readonly value: number;
}

/** Where in an input a problem sits. Lines and columns count from 1. */
export interface DigitInputLocation {
  /** File path, archive member (`zip:member`) or a name for in-memory input. */
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * Thrown for malformed or missing input data. The message reads
 * `file:line:column: problem`, like a compiler diagnostic.
 */
export class DigitInputError extends Error {
  override readonly name = 'DigitInputError';
  readonly code: DigitInputErrorCode;
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** The problem alone, without the location prefix. */
  readonly problem: string;
  /** For `TOO_LARGE`: the limit that refused the input. */
  readonly limit: DigitLimit | undefined;

  constructor(
    code: DigitInputErrorCode,
    location: DigitInputLocation,
    problem: string,
    options?: { cause?: unknown; limit?: DigitLimit },
  ) {
    super(`${formatLocation(location)}: ${problem}`, options);
    this.code = code;
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.problem = problem;
    this.limit = options?.limit;
  }
}

/** What went wrong with a saved model. */
export type DigitModelErrorCode =
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
  | 'MNIST_TRAINED';

/** Thrown when a model cannot be built, loaded or is not a digit classifier. */
export class DigitModelError extends Error {
  override readonly name = 'DigitModelError';
  readonly code: DigitModelErrorCode;
  /** The model folder, URL or architecture name concerned. */
  readonly target: string;
  /** For `TOO_LARGE`: the limit that refused the model. */
  readonly limit: DigitLimit | undefined;

  constructor(
    code: DigitModelErrorCode,
    target: string,
    problem: string,
    options?: { cause?: unknown; limit?: DigitLimit },
  ) {
    super(`${target}: ${problem}`, options);
    this.code = code;
    this.target = target;
    this.limit = options?.limit;
  }
}

/** What went wrong writing an output. */
export type DigitOutputErrorCode =
  'NOT_WRITABLE' | 'IS_DIRECTORY' | 'NO_DIRECTORY' | 'NO_SPACE' | 'BAD_PREDICTIONS' | 'UNSUPPORTED';

/** Thrown when an output (submission, checkpoint, picture) cannot be written. Nothing partial is left behind. */
export class DigitOutputError extends Error {
  override readonly name = 'DigitOutputError';
  readonly code: DigitOutputErrorCode;
  readonly path: string;

  constructor(code: DigitOutputErrorCode, path: string, problem: string, options?: { cause?: unknown }) {
    super(`${path}: ${problem}`, options);
    this.code = code;
    this.path = path;
  }
}

/** Who holds a folder's lock (see `lockFolder`), as its lock file records it. */
export interface FolderLockHolder {
  /** The holder's process id. */
  readonly pid: number;
  /** Its command line, for messages. */
  readonly command: string;
  readonly hostname: string;
  /** When it took the lock (ISO 8601). */
  readonly since: string;
}

/**
 * Thrown when a folder is locked by a live run (another process, or another use in this one):
 * a training state or an output folder has one user at a time. The message names the holder.
 */
export class DigitLockError extends Error {
  override readonly name = 'DigitLockError';
  /** The locked folder. */
  readonly directory: string;
  readonly holder: FolderLockHolder;

  /**
   * `otherHost`: the holder runs on another machine (a shared folder), so whether it still runs
   * cannot be checked here and the message says which lock file to delete once it is gone.
   */
  constructor(
    directory: string,
    holder: FolderLockHolder,
    options?: { cause?: unknown; otherHost?: boolean; lockFile?: string },
  ) {
    const where = options?.otherHost === true ? ` on ${holder.hostname}` : '';
    const how =
      where === ''
        ? 'wait for it to end or stop it'
        : `if it is no longer running there, delete ${options?.lockFile ?? 'its lock file'}`;
    super(`${directory}: in use by process ${holder.pid}${where} (${holder.command}) since ${holder.since}; ${how}`, {
      cause: options?.cause,
    });
    this.directory = directory;
    this.holder = holder;
  }
}

/** True for the errors this library throws for a caller's mistake (scripts print these as one line). */
export function isDigitUserError(
  error: unknown,
): error is DigitInputError | DigitModelError | DigitOutputError | DigitLockError {
  return (
    error instanceof DigitInputError ||
    error instanceof DigitModelError ||
    error instanceof DigitOutputError ||
    error instanceof DigitLockError
  );
}

function formatLocation({ file, line, column }: DigitInputLocation): string {
  if (line === undefined) return file;
  if (column === undefined) return `${file}:${line}`;
  return `${file}:${line}:${column}`;
}
