/**
 * Runs a suite's audits for a run and leaves one result per planned check in the run directory
 * (results/<suite>.json), where the Playwright suites' tests read them, and returns them for the
 * suites whose Allure results the CLI writes itself. The CLI calls this while Playwright
 * starts; a crash of the audit still writes a result for every planned check (broken, with the
 * error), so no test waits for ever and nothing owed is silently missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../core/check-result.ts';
import type { Config, Release, Target } from '../core/config.ts';
import type { SuiteName } from '../core/controls.ts';
import { errorMessage, InternalError } from '../core/errors.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { PlannedCheck } from '../core/plan.ts';
import { progress, type RunContext, suiteResultsFile } from '../core/run.ts';
import type { Provider } from '../providers/provider.ts';
import { providerFor } from '../providers/registry.ts';
import type { KillBudget } from './chaos/budget.ts';
import { sshTargets } from './ssh-edits/plan.ts';

export interface SuiteResults {
  runId: string;
  suite: SuiteName;
  results: CheckResult[];
}

function writeResults(run: RunContext, suite: SuiteName, results: CheckResult[]): void {
  const file = suiteResultsFile(run, suite);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const body: SuiteResults = { runId: run.runId, suite, results };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(body));
  fs.renameSync(`${file}.tmp`, file);
}

const owed = (run: RunContext, suite: SuiteName): PlannedCheck[] => {
  const mine = new Set(run.owed);
  return run.plan.checks.filter((c) => c.suite === suite && mine.has(c.id));
};

/** The fleets of a suite, with only the hosts this run (or shard) owes checks of: nobody else is touched. */
async function listedFleets(
  run: RunContext,
  suite: SuiteName,
  keep: (t: Target) => boolean,
): Promise<Array<{ snapshot: FleetSnapshot; target: Target; provider: Provider }>> {
  const hosts = new Set(owed(run, suite).map((c) => `${c.fleet}/${c.host}`));
  const out = [];
  for (const snapshot of run.inventory.filter((s) => !s.error)) {
    const target = run.config.targets.find((t) => t.name === snapshot.target)!;
    const mine = { ...snapshot, hosts: snapshot.hosts.filter((h) => hosts.has(`${snapshot.target}/${h.id}`)) };
    if (keep(target) && mine.hosts.length) out.push({ snapshot: mine, target, provider: await providerFor(target, run.config) });
  }
  return out;
}
const hosts = (fleets: Array<{ snapshot: FleetSnapshot }>) => fleets.reduce((n, f) => n + f.snapshot.hosts.length, 0);

async function sshEdits(run: RunContext, config: Config): Promise<CheckResult[]> {
  const [{ auditFleets }, { judgeSshEdits }] = await Promise.all([import('./ssh-edits/audit.ts'), import('./ssh-edits/judge.ts')]);
  const fleets = await listedFleets(run, 'ssh-edits', sshTargets);
  const t0 = Date.now();
  progress('ssh-edits', `auditing ${hosts(fleets)} hosts over SSH, ${config.policy.ssh.concurrency} at a time (mode ${config.policy.ssh.mode})`);
  const audits = await auditFleets(fleets, config.policy.ssh, run.runId, (done, all, violations, last) =>
    progress(
      'ssh-edits',
      `${done}/${all} hosts done, ${violations} violations so far (last: ${last.host}${last.login.ok ? '' : `, login failed: ${last.login.kind}`}${last.tainted ? ', TAINTED' : ''})`,
    ),
  );
  progress('ssh-edits', `audit finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return judgeSshEdits(owed(run, 'ssh-edits'), audits, run.inventory, config.policy.ssh);
}

async function imageIntegrity(run: RunContext, config: Config): Promise<CheckResult[]> {
  const [{ auditImages }, { judgeImages }] = await Promise.all([import('./image/audit.ts'), import('./image/judge.ts')]);
  const fleets = await listedFleets(run, 'image-integrity', () => true);
  const t0 = Date.now();
  progress('image-integrity', `auditing the images of ${hosts(fleets)} hosts, ${config.policy.ssh.concurrency} at a time`);
  const audits = await auditImages(fleets, config, (done, all, last) =>
    progress(
      'image-integrity',
      `${done}/${all} hosts done (last: ${last.host}${last.manifest?.result ? `, ${last.manifest.result.driftCount} manifest drifts` : ''})`,
    ),
  );
  progress('image-integrity', `audit finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return judgeImages(
    owed(run, 'image-integrity'),
    audits,
    run.inventory,
    config.release.name,
    config.policy.manifest.metadataOnly,
    config.policy.ssh.writablePaths,
  );
}

async function chaos(run: RunContext, config: Config, budget: KillBudget): Promise<CheckResult[]> {
  const [{ runChaos }, { judgeChaos }] = await Promise.all([import('./chaos/experiment.ts'), import('./chaos/judge.ts')]);
  const results: CheckResult[] = [];
  const checks = owed(run, 'chaos');
  for (const fleet of [...new Set(checks.map((c) => c.fleet))]) {
    const target = config.targets.find((t) => t.name === fleet)!;
    const mine = checks.filter((c) => c.fleet === fleet);
    try {
      results.push(...judgeChaos(mine, await runChaos(target, config, run.seed, run.runId, budget), config));
    } catch (err) {
      const why = `the chaos experiment on fleet ${fleet} failed: ${errorMessage(err)}`;
      progress('chaos', why);
      results.push(...mine.map((c): CheckResult => ({ check: c.id, status: 'broken', message: why, evidence: [] })));
    }
  }
  return results;
}

/** What only the CLI can do for an audit: re-read the release once a deploy command has run. */
export interface GatherHooks {
  reloadRelease?: () => Release;
}

async function deploy(run: RunContext, config: Config, _budget: KillBudget, hooks: GatherHooks): Promise<CheckResult[]> {
  const checks = owed(run, 'deploy');
  const fleets = [...new Set(checks.map((c) => c.fleet))];
  if (fleets.length === 0) return [];
  const [{ judgeDeploy }, { judgeObserved, watchDeploy }] = await Promise.all([import('./deploy/judge.ts'), import('./deploy/watch.ts')]);
  const outcome = run.deployBefore
    ? await judgeObserved(config, fleets, run.deployBefore, run.inventory)
    : await watchDeploy(config, fleets, run.runId, hooks.reloadRelease ?? noReload);
  return judgeDeploy(checks, outcome, config);
}

/** Judging against the release read before the deploy would pass a deploy of the old one: refuse. */
const noReload = (): Release => {
  throw new InternalError('internal: the deploy audit was started without a way to re-read the release after the deploy');
};

type Audit = (run: RunContext, config: Config, budget: KillBudget, hooks: GatherHooks) => Promise<CheckResult[]>;
// Each suite's modules are loaded when it runs: an SSH-only audit never loads the Docker client or the load generator.
const AUDITS: Record<SuiteName, Audit> = {
  'ssh-edits': sshEdits,
  'image-integrity': imageIntegrity,
  chaos: chaos,
  deploy,
};

/** Audits one suite and writes its results; never throws for what happens on the targets. */
export async function gatherSuite(
  run: RunContext,
  suite: SuiteName,
  budget: KillBudget,
  hooks: GatherHooks = {},
): Promise<{ ok: boolean; error?: string; checks: PlannedCheck[]; results: CheckResult[] }> {
  let results: CheckResult[];
  let error: string | undefined;
  try {
    results = await AUDITS[suite](run, run.config, budget, hooks);
  } catch (err) {
    error = `the ${suite} audit failed: ${errorMessage(err)}`;
    progress(suite, error);
    results = owed(run, suite).map((c) => ({ check: c.id, status: 'broken', message: `${error}; so this check was not judged`, evidence: [] }));
  }
  writeResults(run, suite, results);
  const checks = owed(run, suite);
  return error ? { ok: false, error, checks, results } : { ok: true, checks, results };
}
