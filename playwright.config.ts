/**
 * Playwright Test runs the team's own checks (config `checks`), started only by `driftless run`,
 * which discovers them, plans their checks and names the run in DRIFTLESS_CHECKS_RUN. The built-in
 * suites do not run here (they run in the driftless process and write typed results directly).
 */
import { defineConfig } from '@playwright/test';
import path from 'node:path';
import { checksRun, lanes } from './audits/custom/checks-run.ts';
import { REPO_ROOT } from './core/paths.ts';
import { escapeRegExp } from './core/regexp.ts';

const run = checksRun();
const exact = (f: string) => new RegExp(`^${escapeRegExp(f)}$`);

export default defineConfig({
  testDir: run.root,
  testMatch: run.files.map(exact),
  outputDir: path.join(path.dirname(run.outcomesFile), 'test-output'),
  workers: run.workers,
  fullyParallel: true,
  retries: 0,
  // Each check sets its own timeout (control({ timeoutSeconds })); this is only the ceiling.
  timeout: 600_000,
  reporter: [[path.join(REPO_ROOT, 'fixtures', 'driftless-reporter.ts')]],
  // One project (of one worker) per lane of hosts: a host's checks all run in one worker.
  projects: lanes(run).map(({ name, workers, grep }) => ({ name, workers, grep })),
});
