/**
 * Preloaded into a child process (`node --import tsx --import ./test/hostile/report_peak_rss.ts ...`):
 * on exit, however the process ends short of a kill, writes its peak resident
 * memory in bytes, as the child itself reads it, to the file named by PEAK_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env['PEAK_RSS_FILE'];
if (file !== undefined && file !== '') {
  // maxRSS is in kilobytes.
  process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
}
