/**
 * The suites run under Playwright Test with allure-playwright. `driftless run` runs the "audit"
 * project (it reads) before the "chaos" project (it kills), so no audit ever races a kill; a
 * project dependency would skip chaos whenever an audit found a violation.
 */
import { defineConfig } from '@playwright/test';
import path from 'node:path';
import { ensureRunEnv, REPORTS_DIR } from './fixtures/run-context.ts';

const run = ensureRunEnv();

export default defineConfig({
  testDir: './suites',
  outputDir: path.join(run.runDir, 'test-output'),
  timeout: 120_000,
  workers: 2,
  // Tests only read cached probe results, so they can spread over workers; a failed test
  // (a violation) costs a worker restart, which two workers halve.
  fullyParallel: true,
  retries: 0,
  reporter: [
    ['list'],
    ['allure-playwright', { resultsDir: process.env.DRIFTLESS_RESULTS_DIR ?? path.join(REPORTS_DIR, 'allure-results'), detail: false, suiteTitle: true }],
  ],
  projects: [
    { name: 'audit', testMatch: ['ssh-edits.spec.ts', 'image-integrity.spec.ts'] },
    { name: 'chaos', testMatch: ['chaos-kill.spec.ts'] },
  ],
});
