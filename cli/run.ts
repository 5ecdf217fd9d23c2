/**
 * `driftless run`: validate the config (exit 2 before touching anything), snapshot the fleets,
 * plan every owed check, write the run context (run.json), then per phase (audits, which only
 * read, then chaos, which kills) audit the targets in this process while Playwright reports the
 * results, and finally compute the verdict and exit code.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gatherSuite } from '../audits/gather.ts';
import { computePlan } from '../audits/plan.ts';
import { loadConfig } from '../config/load.ts';
import { SUITES, type SuiteName } from '../core/controls.ts';
import { UsageError } from '../core/errors.ts';
import { harnessVersion, REPO_ROOT, reportsDir } from '../core/paths.ts';
import { newRunId, RUN_FILE_ENV, type RunContext, writeRunContext } from '../core/run.ts';
import { newSeed } from '../core/seed.ts';
import { snapshotFleets } from '../providers/snapshot.ts';
import { writeRunMetadata } from '../reports/report.ts';
import { normalizeResults, readResults, verdictOf, writeVerdict } from '../reports/verdict.ts';

/** Which Playwright project runs each suite: audits read, chaos kills, and never at once. */
const PHASES: Array<{ project: 'audit' | 'chaos'; suites: SuiteName[] }> = [
  { project: 'audit', suites: ['ssh-edits', 'image-integrity'] },
  { project: 'chaos', suites: ['chaos-kill'] },
];

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      suite: { type: 'string', multiple: true },
      shard: { type: 'string' },
      seed: { type: 'string' },
      'results-dir': { type: 'string' },
      'keep-results': { type: 'boolean' },
    },
  });
  const config = loadConfig(values.config); // invalid config: exit 2, nothing touched
  const suites = values.suite ?? [...SUITES];
  for (const s of suites) if (!(SUITES as readonly string[]).includes(s)) throw new UsageError(`--suite ${s}: no such suite (one of ${SUITES.join(', ')})`);
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) throw new UsageError(`--seed ${values.seed}: must be a non-negative integer`);
  if (values.shard !== undefined && !/^\d+\/\d+$/.test(values.shard)) throw new UsageError(`--shard ${values.shard}: must look like 1/3`);

  // The run's identity comes from this command only, never from the environment.
  const runId = newRunId();
  const seed = values.seed !== undefined ? Number(values.seed) : newSeed();
  const startedAt = new Date().toISOString();
  const runDir = path.join(reportsDir(), 'run', runId);
  const resultsDir = path.resolve(values['results-dir'] ?? path.join(reportsDir(), 'allure-results'));
  if (!values['keep-results']) fs.rmSync(resultsDir, { recursive: true, force: true });
  fs.mkdirSync(runDir, { recursive: true });

  process.stdout.write(`driftless run ${runId} (seed ${seed}) with ${config.source.file}\n`);
  const inventory = await snapshotFleets(config);
  fs.writeFileSync(path.join(runDir, 'inventory.json'), JSON.stringify(inventory, null, 2));
  for (const f of inventory) process.stdout.write(`  fleet ${f.target} (${f.provider}): ${f.error ? `cannot list: ${f.error}` : `${f.hosts.length} hosts`}\n`);
  const selected = SUITES.filter((s) => suites.includes(s));
  const plan = computePlan(config, inventory, selected);
  const run: RunContext = {
    version: 1,
    runId,
    seed,
    startedAt,
    harnessVersion: harnessVersion(),
    runDir,
    resultsDir,
    ownerPid: process.pid,
    config,
    inventory,
    plan,
  };
  const runFile = writeRunContext(run);
  writeRunMetadata(resultsDir, {
    runId,
    seed,
    startedAt,
    harnessVersion: run.harnessVersion,
    config: config.source,
    fleets: inventory.map((f) => ({ name: f.target, provider: f.provider, hosts: f.hosts.length })),
    release: Object.fromEntries(
      Object.entries(config.release.services).map(([k, v]) => [k, { ...(v.digest ? { digest: v.digest } : {}), ...(v.ami ? { ami: v.ami } : {}) }]),
    ),
  });

  const pw = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  for (const phase of PHASES) {
    const mine = phase.suites.filter((s) => selected.includes(s));
    if (mine.length === 0) continue;
    const files = mine.map((s) => `${s}.spec.ts`);
    process.stdout.write(`\n== ${phase.project}: ${files.join(', ')}\n`);
    const args = [
      pw,
      'test',
      '-c',
      path.join(REPO_ROOT, 'playwright.config.ts'),
      ...files,
      `--project=${phase.project}`,
      ...(values.shard ? ['--shard', values.shard] : []),
    ];
    // The audits run here, in this process, while Playwright starts its runner and workers;
    // the workers wait for the results the audits write into the run directory.
    const [status] = await Promise.all([playwright(args, runFile), Promise.all(mine.map((s) => gatherSuite(run, s)))]);
    if (status !== 0 && status !== 1) process.stderr.write(`driftless: playwright exited ${status} for ${phase.project}\n`);
  }

  const rewritten = normalizeResults(resultsDir);
  const v = verdictOf(readResults(resultsDir), { runId, seed, config: config.source });
  for (const file of [path.join(runDir, 'verdict.json'), path.join(reportsDir(), 'verdict.json')]) writeVerdict(file, v);
  const c = v.counts;
  process.stdout.write(
    `\nverdict: ${v.verdict} — ${c.passed} passed, ${c.failed} failed (violations), ${c.broken} broken (could not tell), ${c.skipped} skipped; exit ${v.exitCode}` +
      ` (${rewritten} results categorised; reports/verdict.json; build the report with \`driftless report\`)\n`,
  );
  return v.exitCode;
}

function playwright(args: string[], runFile: string): Promise<number | string | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, [RUN_FILE_ENV]: runFile } });
    child.on('error', (err) => {
      process.stderr.write(`driftless: could not start playwright: ${err.message}\n`);
      resolve(null);
    });
    child.on('close', (code, signal) => resolve(code ?? signal));
  });
}
