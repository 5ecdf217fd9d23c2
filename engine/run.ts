/**
 * A run, as a sequence of steps: config (invalid: exit 2, nothing touched), identity and
 * folders, snapshot, plan, phases (audits, which only read; chaos, which kills; deploy, which
 * replaces; never at once), record, verdict, evidence. Each suite's judgements become typed
 * results in the results folder as soon as it is judged; the verdict is computed from those and
 * the plan alone. The CLI (cli/run.ts) parses options and prints; nothing here parses argv.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KillBudget } from '../audits/chaos/budget.ts';
import { computePlan, shardChecks } from '../audits/plan-run.ts';
import { runSuite, type SuiteModule } from '../audits/suite.ts';
import { SUITE_MODULES } from '../audits/suites.ts';
import { loadConfig } from '../config/load.ts';
import type { CheckRecord } from '../core/check-record.ts';
import { controlsOf } from '../core/controls.ts';
import type { Config } from '../core/config.ts';
import { errorMessage, InternalError, UsageError } from '../core/errors.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import { ensureOwnedParent, prepareOwnedDirs } from '../core/owned-dir.ts';
import { harnessVersion, OUTPUT, REPO_ROOT } from '../core/paths.ts';
import { type PlannedCheck, planHash, type RunPlan } from '../core/run-plan.ts';
import { type DeploySnapshot, newRunId, progress } from '../core/run.ts';
import { schemaProblems } from '../core/schema-check.ts';
import { newSeed } from '../core/seed.ts';
import { leaderOf, type Phase, PHASES, phaseOf, type SuiteName, withFollowers } from '../core/suites.ts';
import { snapshotFleets } from '../providers/snapshot.ts';
import { type BaselineVerdict, changesOf, readBaseline, sharesRun } from '../reports/baseline.ts';
import { type EvidenceBundle, evidenceState, fileSha256, inputsOf, keyFingerprint, publicKeyOf, writeEvidence } from '../reports/evidence.ts';
import { OUTPUT_KINDS, type OutputKind, type WrittenOutputs, writeOutputs } from '../reports/outputs.ts';
import { mergeRecords, type PhaseEnd, type RunRecord, type Shard, writeRunRecord } from '../reports/run-record.ts';
import { answersOf, type Verdict, verdictOf, writeVerdict } from '../reports/verdict.ts';
import { recordSuite } from './record.ts';

export interface RunRequest {
  configFile?: string;
  /**
   * A config already loaded and validated (config/load.ts: builtInConfig for `driftless
   * plan-check` without --config, or loadConfig with the command line's plan files), instead of
   * configFile. It is never re-read: a deploy's release comes from configFile only.
   */
  config?: Config;
  suites: readonly SuiteName[];
  /** --seed wins over chaos.seed; without either a seed is drawn. */
  seed?: number;
  runId?: string;
  shard: Shard | null;
  resultsDir?: string;
  /** A `driftless snapshot` file: the deploy is judged from it (observed mode). */
  before?: string;
  /** The suites' modules (tests run a suite of their own through the whole engine). */
  modules?: Readonly<Record<string, SuiteModule>>;
  /** Overrides run.deadlineMinutes (tests). */
  deadlineMs?: number;
  /** The outputs to write into <results>/outputs/ (--output); default report.outputs, else all of them. */
  outputs?: readonly OutputKind[];
  /** A verdict.json to compare with (--baseline); default the previous verdict of the output folder. */
  baseline?: string;
}

/** What the run tells the person at the terminal, step by step (cli/run.ts prints it). */
export interface RunObserver {
  /** The team's check files were loaded: the controls they declare. */
  checks?(o: { files: number; controls: Array<{ id: string; scope: string; tests: number; file: string }> }): void;
  started(o: { runId: string; seed: number; seedFrom: RunRecord['seedFrom']; configFile: string }): void;
  snapshot(inventory: FleetSnapshot[]): void;
  planned(o: { plan: RunPlan; owed: number; shard: Shard | null }): void;
  phase(o: { phase: Phase; suites: SuiteName[] | null }): void;
  recorded(o: { suite: SuiteName; records: number; error?: string }): void;
}

export interface RunOutcome {
  runId: string;
  resultsDir: string;
  shard: Shard | null;
  records: CheckRecord[];
  verdict: Verdict;
  evidence: EvidenceBundle;
  verdictFile: string;
  /** The outputs written (relative to the results folder) and the job summary's Markdown. */
  outputs: WrittenOutputs;
  /** The baseline compared with, or why the previous verdict was not used. */
  baseline: { file?: string; runId?: string; skipped?: string };
}

export async function runEngine(req: RunRequest, observe: RunObserver): Promise<RunOutcome> {
  // 1. config: an invalid one is exit 2 before anything is touched.
  if (req.config && req.configFile !== undefined) throw new InternalError('internal: a run takes a config or a config file, not both');
  const config = req.config ?? loadConfig(req.configFile);
  if (req.before !== undefined && !req.suites.includes('deploy'))
    throw new UsageError(`--before ${req.before}: judges a deploy, so it needs the deploy suite (--suite deploy, or no --suite)`);
  const deployBefore = req.before !== undefined ? readSnapshot(req.before, config.source.file) : undefined;
  // The baseline is read before anything is written: this run overwrites the output folder's verdict.json.
  const base = req.baseline !== undefined ? readBaseline(req.baseline, true) : fs.existsSync(OUTPUT.verdict()) ? readBaseline(OUTPUT.verdict(), false) : {};
  const outputKinds = req.outputs ?? config.report?.outputs ?? OUTPUT_KINDS;
  // A suite that audits what another brings up runs with it, never without it.
  for (const s of req.suites) {
    const leader = leaderOf(s);
    if (leader && !req.suites.includes(leader))
      throw new UsageError(`--suite ${s} audits what the ${leader} suite brings up, and runs with it: select --suite ${leader}`);
  }
  const selected = withFollowers(req.suites);
  const modules = req.modules ?? SUITE_MODULES;
  // The suites' own inputs (a plan file, say) are the config's too: exit 2 before anything is touched.
  for (const s of selected) modules[s]!.check?.(config);
  refuseShardedExperiments(req, config, selected, modules);
  // The team's checks are loaded before anything is touched: a file that does not load is exit 2.
  const custom =
    selected.includes('custom') && config.checks?.length ? await (await import('../audits/custom/custom-controls.ts')).loadCustomControls(config) : undefined;
  const deadlineMinutes = config.run?.deadlineMinutes ?? 120;
  const deadlineAt = Date.now() + (req.deadlineMs ?? deadlineMinutes * 60_000);
  const deadlineWhy = `the run's deadline passed (run.deadlineMinutes ${deadlineMinutes}; what had not finished was not run)`;

  // 2. identity and folders: from this command only, never from the environment.
  const runId = req.runId ?? newRunId();
  let baseline: BaselineVerdict | undefined = base.baseline;
  let baselineSkipped = base.skipped;
  if (baseline && req.baseline === undefined && sharesRun(baseline, [runId])) {
    // Another shard of this very run wrote it: no baseline, not a comparison with itself.
    baselineSkipped = `the previous verdict ${baseline.file} is of this run (${runId}): no comparison`;
    baseline = undefined;
  }
  const seedFrom: RunRecord['seedFrom'] = req.seed !== undefined ? 'cli' : config.chaos.seed !== undefined ? 'config' : 'random';
  const seed = req.seed ?? config.chaos.seed ?? newSeed();
  const startedAt = new Date().toISOString();
  const resultsDir = path.resolve(req.resultsDir ?? OUTPUT.results());
  // Results of an earlier run never mix with this one's; only a folder driftless made is emptied.
  prepareOwnedDirs([{ dir: req.resultsDir ?? resultsDir, what: 'the results folder', option: '--results-dir' }]);
  observe.started({ runId, seed, seedFrom, configFile: config.source.file });
  if (custom)
    observe.checks?.({
      files: custom.files.length,
      controls: custom.declared.flatMap((f) =>
        f.controls.map((c) => ({ id: c.declaration.id, scope: c.declaration.scope, tests: c.tests.length, file: f.file })),
      ),
    });

  // 3. snapshot, 4. plan: every owed check, before anything is probed.
  const inventory = await snapshotFleets(config);
  observe.snapshot(inventory);
  const plan = computePlan({ config, inventory, ...(req.before ? { deployBefore: req.before } : {}) }, selected, modules);
  const planProblems = schemaProblems('plan', plan);
  if (planProblems.length) throw new InternalError(`internal: the run plan does not match schemas/plan.schema.json: ${planProblems.slice(0, 5).join('; ')}`);
  const owedChecks = shardChecks(plan, req.shard);
  observe.planned({ plan, owed: owedChecks.length, shard: req.shard });
  const record: RunRecord = {
    runId,
    seed,
    seedFrom,
    ...(config.chaos.seed !== undefined ? { configSeed: config.chaos.seed } : {}),
    startedAt,
    harnessVersion: harnessVersion(),
    config: config.source,
    fleets: inventory.map((f) => ({ name: f.target, provider: f.provider, hosts: f.hosts.length })),
    inventory,
    release: Object.fromEntries(
      Object.entries(config.release.services).map(([k, v]) => [k, { ...(v.digest ? { digest: v.digest } : {}), ...(v.ami ? { ami: v.ami } : {}) }]),
    ),
    planHash: planHash(plan),
    plan,
    shard: req.shard,
    owed: owedChecks.map((c) => c.id),
    dryRun: config.chaos.dryRun && selected.includes('chaos'),
    inputs: inputHashes(config),
    ...(controlsOf('custom').length ? { customControls: controlsOf('custom') } : {}),
  };
  writeRunRecord(resultsDir, record);

  // 5. phases, each suite recorded as soon as it is judged.
  const budget = new KillBudget(config.safety.maxKills);
  const records: CheckRecord[] = [];
  const phases: PhaseEnd[] = [];
  // What each suite gathered: the suites of later phases that follow it read it.
  const earlier = new Map<SuiteName, unknown>();
  for (const phase of PHASES) {
    const mine = selected.filter((s) => phaseOf(s) === phase);
    if (mine.length === 0) continue;
    // A phase that owes nothing (every check not applicable, with its reason in the plan) is not started.
    const owed = (s: SuiteName) => owedChecks.filter((c) => c.suite === s);
    const active = mine.filter((s) => owed(s).length > 0);
    // A phase that owes nothing and has nothing to say (no not-applicable reason either) stays quiet.
    if (active.length || plan.notApplicable.some((n) => mine.includes(n.suite))) observe.phase({ phase, suites: active.length ? active : null });
    if (!active.length) continue;
    if (Date.now() >= deadlineAt) {
      // Never started: its checks have no result, so the verdict names each as not run.
      phases.push({ phase, recorded: `not started: ${deadlineWhy}`, audits: 'ok' });
      continue;
    }
    const done = await Promise.all(
      active.map(async (s) => {
        const t0 = new Date().toISOString();
        const outcome = await beforeDeadline(
          deadlineAt,
          runSuite(modules[s]!, {
            runId,
            seed,
            startedAt,
            config,
            inventory,
            owed: owed(s),
            budget,
            reloadRelease: () => (req.config ? req.config.release : loadConfig(req.configFile).release),
            ...(deployBefore ? { deployBefore } : {}),
            earlier,
            progress: (line) => progress(s, line),
          }),
        );
        if (outcome !== 'deadline' && outcome.facts !== undefined) earlier.set(s, outcome.facts);
        if (outcome === 'deadline') {
          progress(s, `stopped waiting: ${deadlineWhy}`);
          observe.recorded({ suite: s, records: 0, error: deadlineWhy });
          return { error: undefined, recorded: `the ${s} suite had not finished: ${deadlineWhy}` };
        }
        try {
          const written = await recordSuite({ runId, startedAt, config, resultsDir }, s, owed(s), outcome.results, {
            startedAt: t0,
            finishedAt: new Date().toISOString(),
          });
          records.push(...written);
          observe.recorded({ suite: s, records: written.length });
          return { error: outcome.error, recorded: 'ok' };
        } catch (err) {
          const why = `could not write the ${s} results: ${errorMessage(err)}`;
          observe.recorded({ suite: s, records: 0, error: why });
          return { error: outcome.error, recorded: why };
        }
      }),
    );
    const failed = done.map((d) => d.error).filter(Boolean);
    const notRecorded = done.map((d) => d.recorded).filter((r) => r !== 'ok');
    phases.push({ phase, recorded: notRecorded.length ? notRecorded.join('; ') : 'ok', audits: failed.length ? failed.join('; ') : 'ok' });
  }

  // 6. record the end, 7. the verdict from the typed results and the plan (and the changes since the baseline), 8. the evidence.
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
  const finished = JSON.parse(fs.readFileSync(path.join(resultsDir, 'driftless-run.json'), 'utf8')) as RunRecord;
  const signingKey = config.report?.signingKey;
  const merged = mergeRecords([{ dir: resultsDir, record: finished }], false);
  const { owed, byCheck } = answersOf(records, merged);
  const verdict: Verdict = {
    ...verdictOf(records, merged),
    evidence: evidenceState(signingKey ? { signed: true, keyFingerprint: keyFingerprint(publicKeyOf(signingKey)) } : { signed: false }),
    ...(baseline ? { changes: changesOf(baseline, owed, byCheck) } : {}),
  };
  writeVerdict(path.join(resultsDir, 'verdict.json'), verdict);
  // 9. the outputs, renderers of the same records, before the bundle so that it lists them.
  const outputs = writeOutputs(resultsDir, outputKinds, {
    owed,
    byCheck,
    verdict,
    runs: merged.runs,
    evidencePath: (_r, e) => path.posix.join('..', e.file),
  });
  ensureOwnedParent(path.dirname(OUTPUT.verdict()));
  writeVerdict(OUTPUT.verdict(), verdict);
  const evidence = sealResults(resultsDir, config, runId, record.planHash, verdict);
  return {
    runId,
    resultsDir,
    shard: req.shard,
    records,
    verdict,
    evidence,
    verdictFile: OUTPUT.verdict(),
    outputs,
    baseline: baseline ? { file: baseline.file, runId: baseline.runId } : baselineSkipped ? { skipped: baselineSkipped } : {},
  };
}

/** Resolves to the promise's value, or 'deadline' once the run's deadline has passed (the work is abandoned). */
function beforeDeadline<T>(at: number, work: Promise<T>): Promise<T | 'deadline'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), Math.max(0, at - Date.now()))));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * A sharded run never kills or deploys: several shards would each spend safety.maxKills and each
 * run deploy.command. Chaos and deploy run once, unsharded, after the audit shards; refused here,
 * before anything is listed or touched.
 */
function refuseShardedExperiments(req: RunRequest, config: Config, selected: SuiteName[], modules: Readonly<Record<string, SuiteModule>>): void {
  if (!req.shard) return;
  const experiments = selected.filter(
    (s) => (phaseOf(s) === 'chaos' || phaseOf(s) === 'deploy') && modules[s]!.plan({ config, inventory: [] }).checks.length > 0,
  );
  if (experiments.length === 0) return;
  throw new UsageError(
    `--shard ${req.shard.index}/${req.shard.total} with ${experiments.join(' and ')}: every shard would spend its own safety.maxKills and run the deploy again. ` +
      'Shard the audits only (--suite ssh-edits --suite image-integrity), and run chaos and deploy once, unsharded, after them (examples/ci/nightly.yml)',
  );
}

/** The hashes of the release and waiver files: runs merged into one report must share them. */
function inputHashes(config: Config): RunRecord['inputs'] {
  const waivers = config.waivers ? path.resolve(path.dirname(config.source.file), config.waivers) : undefined;
  return {
    release: config.release.file ? fileSha256(config.release.file) : null,
    waivers: waivers ? fileSha256(waivers) : null,
  };
}

/** Last: the evidence bundle over every file of the results folder (signed when the config has a key). */
function sealResults(resultsDir: string, config: Config, runId: string, hash: string, verdict: Verdict): EvidenceBundle {
  const lockfile = path.join(REPO_ROOT, 'package-lock.json');
  return writeEvidence(resultsDir, {
    kind: 'results',
    runIds: [runId],
    harness: { version: harnessVersion(), lockfileSha256: fileSha256(lockfile) },
    // the attestations DL-IMG-020 verified, as the verdict's provenance chain names them
    inputs: inputsOf(
      config,
      lockfile,
      (verdict.provenance ?? []).flatMap((p) => (p.attestation ? [p.attestation.file] : [])),
    ),
    planHashes: [hash],
    verdict: { verdict: verdict.verdict, exitCode: verdict.exitCode },
    ...(config.report?.signingKey ? { signingKey: config.report.signingKey } : {}),
  });
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

export type { PlannedCheck };
