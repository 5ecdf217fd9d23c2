/**
 * What a run is known by, before and after: its id (from `driftless run` only, never from the
 * environment), the deploy snapshot format (`driftless snapshot`), and live progress on stderr.
 */
import { randomBytes } from 'node:crypto';
import type { FleetSnapshot } from './inventory.ts';

/** `driftless snapshot -o file`: the fleets as they were, for the deploy suite's observed mode. */
export interface DeploySnapshot {
  version: 1;
  takenAt: string;
  config: { file: string; sha256: string };
  fleets: FleetSnapshot[];
}

export function newRunId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Run ids: safe in file names and CI variables. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

/** Live progress on stderr, so long runs show where they are, not only the end. */
export function progress(suite: string, line: string): void {
  process.stderr.write(`[driftless ${suite}] ${line}\n`);
}
