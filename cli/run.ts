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
import { KillBudget } from '../audits/chaos/budget.ts';
import { gatherSuite } from '../audits/gather.ts';
import { computePlan, shardChecks } from '../audits/plan.ts';
import { loadConfig } from '../config/load.ts';
import { SUITES, type SuiteName } from '../core/controls.ts';
import type { CheckResult } from '../core/check-result.ts';
import { errorMessage, InternalError, UsageError } from '../core/errors.ts';
import { schemaProblems } from '../core/schema-check.ts';
import { harnessVersion, REPO_ROOT, reportsDir } from '../core/paths.ts';
import { type PlannedCheck, planHash } from '../core/plan.ts';
import { type DeploySnapshot, newRunId, RUN_FILE_ENV, type RunContext, writeRunContext } from '../core/run.ts';
import { newSeed } from '../core/seed.ts';
import { snapshotFleets } from '../providers/snapshot.ts';
import { type Timing, writeCheckResults } from '../reports/check-results.ts';
import { writeRunMetadata } from '../reports/report.ts';
import { normalizeResults, readResults } from '../reports/results.ts';
import { mergeRecords, type PhaseEnd, readRunRecord, type RunRecord, writeRunRecord } from '../reports/run-record.ts';
import { EVIDENCE_FILE, fileSha256, inputsOf, writeEvidence } from '../reports/evidence.ts';
import { verdictOf, writeVerdict } from '../reports/verdict.ts';

/**
 * The phases of a run: audits read, chaos kills, a deploy replaces; never at once. The audits
 * (one result per host and control, thousands on a large fleet) write their Allure results
 * directly; chaos and deploy (a few fleet-wide checks each) report through Playwright's project.
 */
const PHASES: Array<{ project: 'audit' | 'chaos' | 'deploy'; suites: SuiteName[]; writer: 'direct' | 'playwright' }> = [
  { project: 'audit', suites: ['ssh-edits', 'image-integrity'], writer: 'direct' },
  { project: 'chaos', suites: ['chaos'], writer: 'playwright' },
  // Last: a deploy replaces the fleet the other suites audit.
  { project: 'deploy', suites: ['deploy'], writer: 'playwright' },
];

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      suite: { type: 'string', multiple: true },
      shard: { type: 'string' },
      seed: { type: 'string' },
      'run-id': { type: 'string' },
      'results-dir': { type: 'string' },
      before: { type: 'string' },
    },
  });
  const config = loadConfig(values.config); // invalid config: exit 2, nothing touched
  // chaos-kill: the suite's name before it was renamed chaos; still accepted
  const suites = (values.suite ?? [...SUITES]).map((s) => (s === 'chaos-kill' ? 'chaos' : s));
  for (const s of suites) if (!(SUITES as readonly string[]).includes(s)) throw new UsageError(`--suite ${s}: no such suite (one of ${SUITES.join(', ')})`);
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) throw new UsageError(`--seed ${values.seed}: must be a non-negative integer`);
  const shard = values.shard === undefined ? null : parseShard(values.shard);
  if (values['run-id'] !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(values['run-id'])) {
    throw new UsageError(`--run-id ${values['run-id']}: use 1 to 100 letters, digits, '.', '_' or '-' (e.g. nightly-$GITHUB_RUN_ID)`);
  }
  if (shard && !values['run-id'])
    throw new UsageError(`--shard ${values.shard} needs --run-id: every shard of one run must carry the same id, so the report can merge them`);

  if (values.before !== undefined && !suites.includes('deploy'))
    throw new UsageError(`--before ${values.before}: judges a deploy, so it needs the deploy suite (--suite deploy, or no --suite)`);
  const deployBefore = values.before !== undefined ? readSnapshot(values.before, config.source.file) : undefined;

  // The run's identity comes from this command only, never from the environment.
  const runId = values['run-id'] ?? newRunId();
  const seedFrom = values.seed !== undefined ? 'cli' : config.chaos.seed !== undefined ? 'config' : 'random';
  const seed = values.seed !== undefined ? Number(values.seed) : (config.chaos.seed ?? newSeed());
  if (!Number.isSafeInteger(seed) || seed > 0xffffffff) throw new UsageError(`--seed ${values.seed}: must be a 32-bit unsigned integer (0 to 4294967295)`);
  const startedAt = new Date().toISOString();
  const runDir = path.join(reportsDir(), 'run', runId);
  const resultsDir = path.resolve(values['results-dir'] ?? path.join(reportsDir(), 'allure-results'));
  fs.rmSync(resultsDir, { recursive: true, force: true }); // results of an earlier run never mix with this one's
  fs.mkdirSync(runDir, { recursive: true });

  process.stdout.write(
    `driftless run ${runId} (seed ${seed}, ${seedFrom === 'cli' ? 'from --seed' : seedFrom === 'config' ? 'from chaos.seed' : 'drawn'}) with ${config.source.file}\n`,
  );
  const inventory = await snapshotFleets(config);
  fs.writeFileSync(path.join(runDir, 'inventory.json'), JSON.stringify(inventory, null, 2));
  for (const f of inventory) process.stdout.write(`  fleet ${f.target} (${f.provider}): ${f.error ? `cannot list: ${f.error}` : `${f.hosts.length} hosts`}\n`);
  const selected = SUITES.filter((s) => suites.includes(s));
  const plan = computePlan(config, inventory, selected, deployBefore ? { deployBefore: values.before! } : {});
  const planProblems = schemaProblems('plan', plan);
  if (planProblems.length) throw new InternalError(`internal: the run plan does not match schemas/plan.schema.json: ${planProblems.slice(0, 5).join('; ')}`);
  const owed = shardChecks(plan, shard).map((c) => c.id);
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
    shard,
    owed,
    ...(deployBefore ? { deployBefore } : {}),
  };
  const runFile = writeRunContext(run);
  const record: RunRecord = {
    runId,
    seed,
    seedFrom,
    ...(config.chaos.seed !== undefined ? { configSeed: config.chaos.seed } : {}),
    startedAt,
    harnessVersion: run.harnessVersion,
    config: config.source,
    fleets: inventory.map((f) => ({ name: f.target, provider: f.provider, hosts: f.hosts.length })),
    release: Object.fromEntries(
      Object.entries(config.release.services).map(([k, v]) => [k, { ...(v.digest ? { digest: v.digest } : {}), ...(v.ami ? { ami: v.ami } : {}) }]),
    ),
    planHash: planHash(plan),
    plan,
    shard,
    owed,
    dryRun: config.chaos.dryRun && selected.includes('chaos'),
  };
  writeRunMetadata(resultsDir, record, config.report?.signingKey);
  process.stdout.write(
    `  plan: ${plan.checks.length} checks owed${shard ? `, ${owed.length} of them by shard ${shard.index}/${shard.total}` : ''}; ` +
      `${plan.notApplicable.length} not applicable (reasons below and in verdict.json)\n`,
  );
  for (const n of plan.notApplicable)
    process.stdout.write(`    not applicable: ${n.fleet}${n.host ? `/${n.host}` : ''} ${n.control ?? n.suite}: ${n.reason}\n`);

  const phases: PhaseEnd[] = [];
  // One kill budget for the whole run, across all fleets (safety.maxKills).
  const budget = new KillBudget(config.safety.maxKills);
  const pw = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  for (const phase of PHASES) {
    const mine = phase.suites.filter((s) => selected.includes(s));
    if (mine.length === 0) continue;
    // A phase that owes nothing (every check not applicable, with its reason in the plan) is not started.
    const owedHere = new Set(owed);
    if (!plan.checks.some((c) => mine.includes(c.suite) && owedHere.has(c.id))) {
      process.stdout.write(`\n== ${phase.project}: nothing owed (see "not applicable" above)\n`);
      continue;
    }
    const reloadRelease = () => loadConfig(values.config).release;
    let status: number | string | null;
    let audits: Array<{ error?: string }>;
    if (phase.writer === 'direct') {
      process.stdout.write(`\n== ${phase.project}: ${mine.join(', ')}\n`);
      const start = Date.now();
      // Each suite's results are written as soon as it is judged, while the other still probes.
      const done = await Promise.all(
        mine.map(async (s) => {
          const g = await gatherSuite(run, s, budget, { reloadRelease });
          return { ...g, written: await writeDirect(resultsDir, run, s, g, { start, stop: Date.now() }) };
        }),
      );
      audits = done;
      status = done.find((d) => d.written !== 0)?.written ?? 0;
    } else {
      const files = mine.map((s) => `${s}.spec.ts`);
      process.stdout.write(`\n== ${phase.project}: ${files.join(', ')}\n`);
      const args = [pw, 'test', '-c', path.join(REPO_ROOT, 'playwright.config.ts'), ...files, `--project=${phase.project}`];
      // The audits run here, in this process, while Playwright starts its runner and workers;
      // the workers wait for the results the audits write into the run directory.
      [status, audits] = await Promise.all([playwright(args, runFile), Promise.all(mine.map((s) => gatherSuite(run, s, budget, { reloadRelease })))]);
      if (status !== 0 && status !== 1) process.stderr.write(`driftless: playwright exited ${status} for ${phase.project}: its tests did not run as planned\n`);
    }
    const failed = audits.map((a) => a.error).filter(Boolean);
    phases.push({ project: phase.project, runner: status, audits: failed.length ? failed.join('; ') : 'ok' });
  }
  writeRunRecord(resultsDir, {
    ...record,
    finished: {
      at: new Date().toISOString(),
      phases,
      ...(selected.includes('chaos')
        ? { kills: { maxKills: budget.max, spent: budget.spent, ...(config.chaos.dryRun ? { wouldKill: budget.wouldKill } : {}) } }
        : {}),
    },
  });

  const rewritten = normalizeResults(resultsDir);
  const v = verdictOf(readResults(resultsDir), mergeRecords([readRunRecord(resultsDir)], false));
  for (const file of [path.join(runDir, 'verdict.json'), path.join(reportsDir(), 'verdict.json')]) writeVerdict(file, v);
  // Last: the evidence bundle over every file of the results (signed when the config has a key).
  const bundle = writeEvidence(resultsDir, {
    kind: 'results',
    runIds: [runId],
    harness: { version: run.harnessVersion, lockfileSha256: fileSha256(path.join(REPO_ROOT, 'package-lock.json')) },
    inputs: inputsOf(config, path.join(REPO_ROOT, 'package-lock.json')),
    planHashes: [record.planHash],
    verdict: { verdict: v.verdict, exitCode: v.exitCode },
    ...(config.report?.signingKey ? { signingKey: config.report.signingKey } : {}),
  });
  const c = v.coverage.total;
  process.stdout.write(
    `\nverdict${shard ? ` of shard ${shard.index}/${shard.total} (merge the shards with \`driftless report\`)` : ''}: ${v.verdict} — ${c.owed} owed: ${c.passed} passed, ${c.failed} failed (violations), ` +
      `${c.broken} broken (could not tell), ${c.waived} waived, ${c.notApplicable} not applicable, ${c.skipped} skipped, ${c.missing} not run; exit ${v.exitCode}` +
      ` (${rewritten} results categorised; reports/verdict.json; build the report with \`driftless report\`)\n`,
  );
  process.stdout.write(
    `  evidence: ${path.join(resultsDir, EVIDENCE_FILE)} (${bundle.files.length} files, ${bundle.signature ? `signed by ${bundle.signature.keyFingerprint}` : 'UNSIGNED: set report.signingKey'})\n`,
  );
  for (const why of v.incomplete) process.stdout.write(`  not fully checked: ${why}\n`);
  for (const n of v.notRun.slice(0, 20)) process.stdout.write(`  not run: ${n.check}: ${n.reason}\n`);
  if (v.notRun.length > 20) process.stdout.write(`  … ${v.notRun.length - 20} more not run (verdict.json, notRun)\n`);
  return v.exitCode;
}

/** The --before snapshot (driftless snapshot -o file): refused with the reason if it is not one. */
function readSnapshot(file: string, configFile: string): DeploySnapshot {
  let snap: DeploySnapshot;
  try {
    snap = JSON.parse(fs.readFileSync(file, 'utf8')) as DeploySnapshot;
  } catch (err) {
    throw new UsageError(`--before ${file}: cannot read it as a snapshot (${(err as Error).message}); take one with driftless snapshot -o ${file}`);
  }
  if (snap?.version !== 1 || !Array.isArray(snap.fleets) || Number.isNaN(Date.parse(snap.takenAt))) {
    throw new UsageError(`--before ${file}: not a driftless snapshot (version, takenAt, fleets); take one with driftless snapshot -o ${file}`);
  }
  if (snap.config?.file !== configFile)
    process.stderr.write(`driftless: note: --before ${file} was taken with ${snap.config?.file}, this run uses ${configFile}\n`);
  return snap;
}

function parseShard(text: string): { index: number; total: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || total < 1 || index < 1 || index > total) throw new UsageError(`--shard ${text}: must look like 1/3 (a shard from 1 to the number of shards)`);
  return { index, total };
}

/** Writes the Allure results of a directly written suite: 0, or why they could not all be written (the run is then incomplete). */
async function writeDirect(
  dir: string,
  run: RunContext,
  suite: SuiteName,
  g: { checks: PlannedCheck[]; results: CheckResult[] },
  timing: Timing,
): Promise<number | string> {
  try {
    const n = await writeCheckResults(dir, run, g.checks, g.results, timing);
    process.stdout.write(`  ${suite}: ${n} results written\n`);
    return 0;
  } catch (err) {
    const why = `could not write the ${suite} results: ${errorMessage(err)}`;
    process.stderr.write(`driftless: ${why}\n`);
    return why;
  }
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
