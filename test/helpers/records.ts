/** The typed results of a results folder, as the tests read them: each record with its evidence bodies. */
import fs from 'node:fs';
import path from 'node:path';
import type { CheckRecord } from '../../core/check-record.ts';
import { readChecks } from '../../core/results-folder.ts';

export interface Rec extends CheckRecord {
  /** The evidence with its bodies, read from the folder. */
  attachments: Array<{ name: string; contentType: string; body: string }>;
}

export function readRecords(dir: string): Rec[] {
  const read = readChecks(dir);
  if (read.problems.length) throw new Error(`typed results of ${dir} cannot be read: ${read.problems.join('; ')}`);
  return read.records.map((r) => ({
    ...r,
    attachments: r.evidence.map((e) => ({ name: e.name, contentType: e.contentType, body: fs.readFileSync(path.join(dir, e.file), 'utf8') })),
  }));
}

/** The body of a record's attachment by name (JSON parsed), or undefined. */
export function evidence<T = unknown>(r: Rec, name: string): T | undefined {
  const a = r.attachments.find((x) => x.name === name);
  return a ? (JSON.parse(a.body) as T) : undefined;
}
