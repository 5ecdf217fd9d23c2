/**
 * The suites run under Playwright Test with allure-playwright, started only by `driftless run`:
 * it writes the run context (run.json) first and names it in DRIFTLESS_RUN_FILE. `driftless run`
 * runs the audits (they read; their results it writes itself) before the "chaos" project (it
 * kills), so no audit ever races a kill, then "deploy"; a project dependency would skip chaos
 * whenever an audit found a violation.
 */
import { defineConfig } from '@playwright/test';
import path from 'node:path';
import { currentRun } from './core/run.ts';

const run = currentRun();

export default defineConfig({
  testDir: './suites',
  outputDir: path.join(run.runDir, 'test-output'),
  timeout: 120_000,
  workers: 2,
  // Tests only read the audits' results, so they can spread over workers; a failed test
  // (a violation) costs a worker restart, which two workers halve.
  fullyParallel: true,
  retries: 0,
  reporter: [['list'], ['allure-playwright', { resultsDir: run.resultsDir, detail: false, suiteTitle: true }]],
  projects: [
    { name: 'chaos', testMatch: ['chaos.spec.ts'] },
    { name: 'deploy', testMatch: ['deploy.spec.ts'] },
  ],
});
