/**
 * What `driftless run` hands Playwright Test when it runs the team's checks: the run's id, the
 * resolved config, the inventory, the checks owed (per host or fleet), the check files, and where
 * the reporter writes each test's outcome. Written to a private temp file named in
 * DRIFTLESS_CHECKS_RUN for the runner and its workers only; never part of the results folder.
 */
import fs from 'node:fs';
import type { Config } from '../../core/config.ts';
import { RunContextError } from '../../core/errors.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';

export const CHECKS_RUN_ENV = 'DRIFTLESS_CHECKS_RUN';

export interface OwedCustomCheck {
  id: string;
  control: string;
  fleet: string;
  host?: string;
}

export interface ChecksRun {
  version: 1;
  runId: string;
  config: Config;
  inventory: FleetSnapshot[];
  owed: OwedCustomCheck[];
  /** The check files (absolute), and the folder they share (Playwright's testDir). */
  files: string[];
  root: string;
  /** One JSON line per finished test (fixtures/driftless-reporter.ts). */
  outcomesFile: string;
  workers: number;
}

let current: ChecksRun | undefined;

/** The run this Playwright runner or worker belongs to. */
export function checksRun(): ChecksRun {
  if (current) return current;
  const file = process.env[CHECKS_RUN_ENV];
  if (!file)
    throw new RunContextError(`${CHECKS_RUN_ENV} is not set: check files run under \`driftless run\` (which plans their checks first), not on their own`);
  try {
    current = JSON.parse(fs.readFileSync(file, 'utf8')) as ChecksRun;
  } catch (err) {
    throw new RunContextError(`cannot read the checks run ${file}: ${(err as Error).message}`);
  }
  return current;
}

/** One finished test, as the reporter writes it and the custom suite reads it. */
export interface TestOutcome {
  check: string;
  title: string;
  file: string;
  /** Playwright's status. */
  status: 'passed' | 'failed' | 'timedOut' | 'skipped' | 'interrupted';
  /** failed: an expect() that did not hold (a violation), or anything else thrown (the check crashed). */
  failure?: 'expect' | 'crash';
  message?: string;
  durationMs: number;
  attachments: Array<{ name: string; contentType: string; body: string }>;
}
