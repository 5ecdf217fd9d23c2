/**
 * The run context: one run.json, written by `driftless run` before any suite starts, read by the
 * Playwright runner and its workers (fixtures/), the audits and the report. It holds the run id,
 * the seed, the resolved config, the inventory snapshot and the plan: the only way data reaches
 * the workers. Its path travels in DRIFTLESS_RUN_FILE, set by the CLI for its own children only.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { RunContextError } from './errors.ts';
import type { FleetSnapshot } from './inventory.ts';
import type { RunPlan } from './plan.ts';

export const RUN_FILE_ENV = 'DRIFTLESS_RUN_FILE';

export interface RunContext {
  version: 1;
  runId: string;
  seed: number;
  startedAt: string;
  harnessVersion: string;
  /** Where the run keeps its snapshot, results and verdict. */
  runDir: string;
  /** Where Playwright writes the Allure results. */
  resultsDir: string;
  /** The process that owns the run; workers stop waiting for results when it is gone. */
  ownerPid: number;
  config: Config;
  inventory: FleetSnapshot[];
  /** Every check the run owes, all shards together. */
  plan: RunPlan;
  /** This process's share of the plan: all of it unless the run is sharded. */
  shard: { index: number; total: number } | null;
  owed: string[];
  /** `--before snapshot.json`: the deploy suite judges a deploy that ran elsewhere (observed mode). */
  deployBefore?: DeploySnapshot;
}

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

export function writeRunContext(run: RunContext): string {
  const file = path.join(run.runDir, 'run.json');
  fs.mkdirSync(run.runDir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(run, null, 2));
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

export function readRunContext(file: string): RunContext {
  let run: RunContext;
  try {
    run = JSON.parse(fs.readFileSync(file, 'utf8')) as RunContext;
  } catch (err) {
    throw new RunContextError(`cannot read the run context ${file}: ${(err as Error).message}; start runs with \`driftless run\``);
  }
  if (run.version !== 1 || !run.runId || !run.plan) throw new RunContextError(`${file} is not a driftless run context: start runs with \`driftless run\``);
  return run;
}

let current: RunContext | undefined;

/** The run this process belongs to (a Playwright runner or worker started by `driftless run`). */
export function currentRun(): RunContext {
  if (current) return current;
  const file = process.env[RUN_FILE_ENV];
  if (!file) throw new RunContextError(`${RUN_FILE_ENV} is not set: the suites run only under \`driftless run\`, which writes the run context first`);
  current = readRunContext(file);
  return current;
}

/** Where the audits of a suite leave their results for the workers. */
export function suiteResultsFile(run: Pick<RunContext, 'runDir'>, suite: string): string {
  return path.join(run.runDir, 'results', `${suite}.json`);
}

/** Live progress on stderr, so long runs show where they are, not only the end. */
export function progress(suite: string, line: string): void {
  process.stderr.write(`[driftless ${suite}] ${line}\n`);
}
