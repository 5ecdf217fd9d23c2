/** What `run` and `report` print about their outputs, and the job summary appended to $GITHUB_STEP_SUMMARY. */
import fs from 'node:fs';
import path from 'node:path';
import type { WrittenOutputs } from '../reports/outputs.ts';

/** Appends the summary to the CI job's page when the CI names one (GitHub Actions); says where else it is. */
export function publishOutputs(dir: string, outputs: WrittenOutputs, say: (s: string) => void): void {
  if (!outputs.files.length) return;
  const rel = path.relative(process.cwd(), dir) || '.';
  say(`  outputs: ${outputs.files.map((f) => path.join(rel, f)).join(', ')}`);
  const page = process.env.GITHUB_STEP_SUMMARY;
  if (outputs.summary !== undefined && page) {
    try {
      fs.appendFileSync(page, outputs.summary + '\n');
      say('  job summary: appended to $GITHUB_STEP_SUMMARY');
    } catch (err) {
      say(`  job summary: could not append to $GITHUB_STEP_SUMMARY (${(err as Error).message}); it is in outputs/summary.md`);
    }
  }
}
