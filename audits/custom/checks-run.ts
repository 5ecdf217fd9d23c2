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
import { escapeRegExp } from '../../core/regexp.ts';

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

/** What a check's test title ends with, after " · ": its host, or its fleet for a fleet-wide check. */
export const subjectOf = (c: OwedCustomCheck): string => c.host ?? `fleet ${c.fleet}`;

/**
 * Playwright projects of one worker each, over which the hosts are dealt in plan order: every
 * check of a host runs in the same worker, so a host is logged into once per run (not once per
 * worker: each worker would otherwise reach nearly every host, and its logins cost more than
 * the checks). Like the built-in suites, a host's checks then run one after another. A test
 * whose title no project matches does not run, and its check is broken: never a pass.
 */
export function lanes(run: Pick<ChecksRun, 'owed' | 'workers'>): Array<{ name: string; workers: 1; grep: RegExp; checks: number }> {
  const subjects = [...new Set(run.owed.map(subjectOf))];
  const n = Math.max(1, Math.min(run.workers, subjects.length));
  return Array.from({ length: n }, (_, i) => {
    const mine = new Set(subjects.filter((_, k) => k % n === i));
    return {
      name: `hosts-${i + 1}`,
      workers: 1 as const,
      // The title ends with " · <subject>" (tags, if any, follow it after a space).
      grep: new RegExp(` · (?:${[...mine].map(escapeRegExp).join('|')})(?= |$)`),
      /** How many owed checks the lane runs, one after another (the run's deadline allows for the longest lane). */
      checks: run.owed.filter((c) => mine.has(subjectOf(c))).length,
    };
  });
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
