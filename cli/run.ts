/**
 * `driftless run`: validate the config (exit 2 before touching anything), snapshot the fleets,
 * run the audit suites, then chaos, then compute the verdict and exit code.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../fixtures/config/load.ts';
import { snapshotFleets } from '../fixtures/inventory.ts';
import { REPO_ROOT } from '../fixtures/lab/plan.ts';
import { imageAuditOfRun, sshAuditOfRun } from '../fixtures/run-audits.ts';
import { ensureRunEnv, REPORTS_DIR } from '../fixtures/run-context.ts';
import { harnessVersion, writeRunMetadata } from '../reports/report.ts';
import { normalizeResults, readResults, verdictOf, writeVerdict } from '../reports/verdict.ts';
import { UsageError } from '../probes/errors.ts';

const SUITES = { 'ssh-edits': 'audit', 'image-integrity': 'audit', 'chaos-kill': 'chaos' } as const;

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
  const suites = values.suite ?? Object.keys(SUITES);
  for (const s of suites) if (!(s in SUITES)) throw new UsageError(`--suite ${s}: no such suite (one of ${Object.keys(SUITES).join(', ')})`);
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) throw new UsageError(`--seed ${values.seed}: must be a non-negative integer`);
  if (values.shard !== undefined && !/^\d+\/\d+$/.test(values.shard)) throw new UsageError(`--shard ${values.shard}: must look like 1/3`);

  process.env.DRIFTLESS_CONFIG = config.source.file;
  if (values.seed) process.env.DRIFTLESS_SEED = values.seed;
  const run = ensureRunEnv();
  const resultsDir = path.resolve(values['results-dir'] ?? path.join(REPORTS_DIR, 'allure-results'));
  process.env.DRIFTLESS_RESULTS_DIR = resultsDir;
  if (!values['keep-results']) fs.rmSync(resultsDir, { recursive: true, force: true });
  fs.mkdirSync(run.runDir, { recursive: true });

  process.stdout.write(`driftless run ${run.runId} (seed ${run.seed}) with ${config.source.file}\n`);
  const snap = await snapshotFleets(config);
  fs.writeFileSync(path.join(run.runDir, 'inventory.json'), JSON.stringify(snap, null, 2));
  for (const f of snap) process.stdout.write(`  fleet ${f.target} (${f.provider}): ${f.error ? `cannot list: ${f.error}` : `${f.hosts.length} hosts`}\n`);
  writeRunMetadata(resultsDir, {
    runId: run.runId,
    seed: run.seed,
    startedAt: run.startedAt,
    harnessVersion: harnessVersion(),
    config: config.source,
    fleets: snap.map((f) => ({ name: f.target, provider: f.provider, hosts: f.hosts.length })),
    release: Object.fromEntries(Object.entries(config.release.services).map(([k, v]) => [k, { ...(v.digest ? { digest: v.digest } : {}), ...(v.ami ? { ami: v.ami } : {}) }])),
  });

  const pw = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  for (const project of ['audit', 'chaos'] as const) {
    const files = suites.filter((s) => SUITES[s as keyof typeof SUITES] === project).map((s) => `${s}.spec.ts`);
    if (files.length === 0) continue;
    process.stdout.write(`\n== ${project}: ${files.join(', ')}\n`);
    const args = [pw, 'test', '-c', path.join(REPO_ROOT, 'playwright.config.ts'), ...files, `--project=${project}`, ...(values.shard ? ['--shard', values.shard] : [])];
    // The audits' probing starts here, in this process, while Playwright starts its runner and
    // workers; the workers then read the run's cached results. A probe failure is not fatal
    // here: the workers retry it and report it per check.
    const probing = project === 'audit' ? prefetchAudits(suites) : Promise.resolve();
    const [status] = await Promise.all([playwright(args), probing]);
    if (status !== 0 && status !== 1) process.stderr.write(`driftless: playwright exited ${status} for ${project}\n`);
  }

  const rewritten = normalizeResults(resultsDir);
  const v = verdictOf(readResults(resultsDir), { runId: run.runId, seed: run.seed, config: config.source });
  for (const file of [path.join(run.runDir, 'verdict.json'), path.join(REPORTS_DIR, 'verdict.json')]) writeVerdict(file, v);
  const c = v.counts;
  process.stdout.write(
    `\nverdict: ${v.verdict} — ${c.passed} passed, ${c.failed} failed (violations), ${c.broken} broken (could not tell), ${c.skipped} skipped; exit ${v.exitCode}` +
      ` (${rewritten} results categorised; reports/verdict.json; build the report with \`driftless report\`)\n`,
  );
  return v.exitCode;
}

function playwright(args: string[]): Promise<number | string | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'inherit', env: process.env });
    child.on('error', (err) => {
      process.stderr.write(`driftless: could not start playwright: ${err.message}\n`);
      resolve(null);
    });
    child.on('close', (code, signal) => resolve(code ?? signal));
  });
}

async function prefetchAudits(suites: string[]): Promise<void> {
  const work: Array<Promise<unknown>> = [];
  if (suites.includes('ssh-edits')) work.push(sshAuditOfRun());
  if (suites.includes('image-integrity')) work.push(imageAuditOfRun());
  await Promise.all(work.map((p) => p.catch(() => undefined)));
}
