/**
 * A child process for the memory-bound tests: loads (or streams) one CSV with
 * the library's default limits and prints one JSON line: the row count, or the
 * DigitInputError's code, message, line and limit. Usage: load_csv_child.ts load|stream PATH [MEMBER]
 */
import { DigitInputError, loadDigitCsv, streamDigitCsv } from 'digit-recognizer';

const [mode, path, member] = process.argv.slice(2) as [string, string, string | undefined];
const options = member === undefined ? {} : { member };
try {
  let rows = 0;
  if (mode === 'stream') for await (const chunk of streamDigitCsv(path, options)) rows += chunk.count;
  else rows = (await loadDigitCsv(path, options)).count;
  process.stdout.write(`${JSON.stringify({ rows })}\n`);
} catch (error) {
  if (!(error instanceof DigitInputError)) throw error;
  const { code, message, line, limit } = error;
  process.stdout.write(`${JSON.stringify({ code, message, line, limit })}\n`);
}
