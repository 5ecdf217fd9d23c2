/**
 * The team's own checks (config `checks`): discovered before the plan (audits/custom/discover.ts),
 * owed per host or fleet like any built-in control, run by Playwright Test in its own processes,
 * and judged here from each test's outcome. Their results go through the same typed pipeline:
 * verdict, matrix, waivers, evidence, every output.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Control, ControlId } from '../../core/controls.ts';
import { control as controlOf, controlsOf } from '../../core/controls.ts';
import { REPO_ROOT } from '../../core/paths.ts';
import { type NotApplicable, type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import { globMatch } from '../../core/waivers.ts';
import { listingCheck, planEmptyFleet } from '../per-host.ts';
import { defineSuite, type PlanInput, type SuitePlan, type SuiteRun } from '../suite.ts';
import { CHECKS_RUN_ENV, type ChecksRun, lanes, type TestOutcome } from './checks-run.ts';
import { judgeCustom } from './custom-outcome.ts';

const suite = 'custom' as const;

export function planCustom({ config, inventory }: PlanInput): SuitePlan {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  const controls = controlsOf(suite);
  if (controls.length === 0) {
    for (const t of config.targets)
      notApplicable.push({
        fleet: t.name,
        suite,
        reason: config.checks?.length ? 'the check files declare no control' : 'no checks in the config (`checks`): no custom control to run',
      });
    return { checks, notApplicable };
  }
  for (const c of controls) {
    const id = c.id as ControlId;
    for (const snap of inventory) {
      const target = config.targets.find((t) => t.name === snap.target)!;
      if (c.custom?.fleets && !globMatch(c.custom.fleets, snap.target)) continue;
      if (c.scope === 'fleet') {
        checks.push(plannedCheck(id, { fleet: snap.target }));
        continue;
      }
      if (snap.error) checks.push(listingCheck(snap.target, id));
      else if (snap.hosts.length === 0) {
        const empty = planEmptyFleet(suite, target, id);
        if (empty.check) checks.push(empty.check);
        if (empty.notApplicable) notApplicable.push({ ...empty.notApplicable, control: id });
      } else for (const h of snap.hosts) checks.push(plannedCheck(id, { fleet: snap.target, host: h.id }));
    }
  }
  return { checks, notApplicable };
}

interface CustomFacts {
  byCheck: Map<string, TestOutcome[]>;
  /** Why checks without an outcome did not run (the runner ended early, a file failed to load). */
  notRun?: string;
}

/** Runs the owed checks under Playwright Test and collects each test's outcome. */
async function runChecks(run: SuiteRun): Promise<CustomFacts> {
  const controls = new Map(controlsOf(suite).map((c) => [c.id, c]));
  const files = [...new Set([...controls.values()].map((c) => c.custom!.file))];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-checks-'));
  try {
    const hosts = new Set(run.owed.map((c) => `${c.fleet}/${c.host ?? ''}`)).size;
    const spec: ChecksRun = {
      version: 1,
      runId: run.runId,
      config: run.config,
      inventory: run.inventory,
      owed: run.owed.map((c) => ({ id: c.id, control: c.control, fleet: c.fleet, ...(c.host ? { host: c.host } : {}) })),
      files,
      root: commonRoot(files),
      outcomesFile: path.join(dir, 'outcomes.jsonl'),
      // Workers follow the SSH concurrency, and never outnumber the hosts they check.
      workers: Math.max(1, Math.min(run.config.policy.ssh.concurrency, hosts)),
    };
    const specFile = path.join(dir, 'run.json');
    fs.writeFileSync(specFile, JSON.stringify(spec), { mode: 0o600 });
    fs.writeFileSync(spec.outcomesFile, '');
    const longest = Math.max(...[...controls.values()].map((c) => c.custom!.timeoutSeconds));
    // Each lane of hosts runs its checks one after another (checks-run.ts, lanes): the longest lane bounds the run.
    const deadlineMs = (Math.max(...lanes(spec).map((l) => l.checks)) * longest + 120) * 1000;
    run.progress(`running ${run.owed.length} checks of ${controls.size} controls from ${files.length} files, ${spec.workers} workers`);
    const t0 = Date.now();
    const exit = await playwright(specFile, deadlineMs, run.progress);
    run.progress(`audit finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const byCheck = new Map<string, TestOutcome[]>();
    const errors: string[] = [];
    let end: string | undefined;
    for (const line of fs.readFileSync(spec.outcomesFile, 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(line) as TestOutcome & { error?: string; end?: string };
      if (o.error) errors.push(o.error.split('\n')[0]!);
      else if (o.end) end = o.end;
      else byCheck.set(o.check, [...(byCheck.get(o.check) ?? []), o]);
    }
    const notRun =
      errors.length > 0
        ? `Playwright reported: ${errors.slice(0, 3).join('; ')}`
        : end === undefined || (exit !== 0 && exit !== 1)
          ? `the checks' runner ended without finishing (${exit === 'deadline' ? `stopped after ${Math.round(deadlineMs / 1000)} s` : `exit ${exit}`})`
          : undefined;
    return { byCheck, ...(notRun ? { notRun } : {}) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function commonRoot(files: string[]): string {
  let root = path.dirname(files[0]!);
  for (const f of files) while (!f.startsWith(root + path.sep) && root !== path.dirname(root)) root = path.dirname(root);
  return root;
}

function playwright(specFile: string, deadlineMs: number, progress: (l: string) => void): Promise<number | string> {
  const cli = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'test', '-c', path.join(REPO_ROOT, 'playwright.config.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, [CHECKS_RUN_ENV]: specFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = (b: Buffer) =>
      b
        .toString()
        .split('\n')
        .filter((l) => l.trim())
        .forEach((l) => progress(l.replace(/^\[driftless custom\] /, '')));
    child.stdout.on('data', lines);
    child.stderr.on('data', lines);
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      resolve('deadline');
    }, deadlineMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(`could not start: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? 'unknown');
    });
  });
}

function testsOf(c: Control): number {
  return c.custom ? (declaredTests.get(c.id) ?? 0) : 0;
}

/** How many tests each discovered control has (set by the engine after discovery). */
const declaredTests = new Map<string, number>();
export function setDeclaredTests(counts: ReadonlyMap<string, number>): void {
  declaredTests.clear();
  for (const [id, n] of counts) declaredTests.set(id, n);
}

export const customSuite = defineSuite({
  name: suite,
  plan: planCustom,
  gather: runChecks,
  // The test outcomes are the judgement: every check is answered here (no per-id judges).
  unitOf: (facts: CustomFacts, check, j) => {
    const c = controlOf(check.control);
    if (check.item === 'inventory' || check.item === 'empty')
      return { result: j.broken(`fleet ${check.fleet} ${check.item === 'empty' ? 'has no hosts' : 'could not be listed'}: nothing of it was checked`) };
    return { result: judgeCustom(j, c, facts.byCheck.get(check.id) ?? [], testsOf(c), facts.notRun) };
  },
  judges: {},
});
