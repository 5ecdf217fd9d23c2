/**
 * The cost of the team's own checks (`--only custom`, issue 26), measured side by side on the
 * same bench hosts in one run (the checks: bench/custom-checks.ts; (c): bench/custom-judge.ts):
 *
 *   (a) `driftless run --suite custom` with K generated host checks (one control and one test per
 *       file, each one small command over SSH and an expect), as the product runs them: Playwright
 *       Test, its workers = policy.ssh.concurrency (never more than the hosts);
 *   (b) as many EMPTY Playwright tests in as many files, same workers, run by Playwright Test
 *       directly: what a test costs the runner on this machine when it does nothing;
 *   (c) the same K checks as one built-in-style suite run through the engine in one process: one
 *       SSH session per host gathering the K outputs, judges keyed by control id, the same typed
 *       results with the same evidence (every command with its output).
 *
 * Harness CPU per check = (CPU of (a) − CPU of (c)) / (hosts × K). Both start Node, load the config,
 * list the fleet, plan, log in to each host once and run the same commands on it, record the same
 * results and evidence, write the verdict, the outputs and the evidence bundle; what (a) adds is
 * running each check as a Playwright test (runner, workers, fixtures, reporter). A run with no
 * check would not do: it would leave the probing in, which is not the harness's. The goal
 * (issue 26) is at most 1.5× of (b)'s CPU per empty test.
 */
import type Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../core/errors.ts';
import { REPO_ROOT } from '../core/paths.ts';
import { benchChecks, writeCheckFiles, writeCustomConfig, writeEmptySuite } from './custom-checks.ts';
import { type BenchFleet, startFleet, stopFleet } from './fleet.ts';
import { runMeasured, type TreePeak } from './proc-tree.ts';
import { freshRunEnv, runDriftless, type ScaleRun } from './scale.ts';
import { log, round } from './stats.ts';

/** The issue's goal: a check's harness CPU at most this many times an empty Playwright test's. */
export const GOAL = 1.5;

export interface MeasuredStep {
  command: string;
  wallSeconds: number;
  /** User + system CPU seconds of the whole process tree. */
  cpuSeconds: number;
  memory: TreePeak;
  exitCode: number | null;
}

export interface CustomBenchResult {
  hosts: number;
  checks: number;
  concurrency: number;
  /** Playwright workers of (a) and (b): the SSH concurrency, never more than the hosts. */
  workers: number;
  playwrightVersion: string;
  /** (a) `driftless run --suite custom`; its auditSeconds is the Playwright run. */
  custom?: ScaleRun;
  /** (b) empty Playwright tests, as many as (a) runs, in as many files. */
  empty?: MeasuredStep & { tests: number; files: number; passed: number; msPerTest: number };
  /** (c) the same checks as one built-in-style suite, in one process. */
  judgement?: MeasuredStep & { auditSeconds?: number; counts?: ScaleRun['counts']; valid: boolean; problem?: string };
  /** (CPU of (a) − CPU of (c)) / (hosts × checks), ms. */
  harnessMsPerCheck?: number;
  /** harnessMsPerCheck / empty.msPerTest: at most `goal` is the issue's goal. */
  ratioToEmptyTest?: number;
  goal: number;
  withinGoal?: boolean;
  valid: boolean;
  error?: string;
}

const measuredStep = (command: string, r: Awaited<ReturnType<typeof runMeasured>>): MeasuredStep => ({
  command,
  wallSeconds: r.wallSeconds,
  cpuSeconds: r.cpuSeconds,
  memory: r.memory,
  exitCode: r.exitCode,
});

const rel = (p: string) => path.relative(REPO_ROOT, p);

/** (b), (c) and (a) on one fleet, back to back. */
export async function benchCustom(opts: { fleet: BenchFleet; checks: number; concurrency: number; workDir: string }): Promise<CustomBenchResult> {
  const { fleet, workDir } = opts;
  const n = fleet.hosts.length;
  const k = opts.checks;
  const workers = Math.max(1, Math.min(opts.concurrency, n));
  const pw = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test');
  const version = (JSON.parse(fs.readFileSync(path.join(pw, 'package.json'), 'utf8')) as { version: string }).version;
  const result: CustomBenchResult = { hosts: n, checks: k, concurrency: opts.concurrency, workers, playwrightVersion: version, goal: GOAL, valid: false };
  const checks = benchChecks(k);

  // (b) empty tests: one file per check, a test per host.
  const emptyDir = path.join(workDir, 'custom-empty');
  const pwArgs = [path.join(pw, 'cli.js'), 'test', '-c', writeEmptySuite(emptyDir, k, n, workers)];
  log(`custom (b): ${n * k} empty Playwright tests in ${k} files, ${workers} workers`);
  const b = await runMeasured(process.execPath, pwArgs, { cwd: emptyDir, env: freshRunEnv(path.join(workDir, 'reports-custom-empty')) });
  const passed = Number(/empty tests passed: (\d+)/.exec(b.stdout)?.[1] ?? 0);
  const emptyOk = b.exitCode === 0 && passed === n * k;
  result.empty = {
    ...measuredStep(`npx playwright ${pwArgs.slice(1).map(rel).join(' ')}`, b),
    tests: n * k,
    files: k,
    passed,
    msPerTest: round((b.cpuSeconds * 1000) / (n * k), 2),
  };
  log(`  ${b.wallSeconds} s wall, ${b.cpuSeconds} CPU s (${result.empty.msPerTest} ms a test), peak ${b.memory.peakTreeMiB} MiB, ${passed} passed`);

  // (c) the same checks as one built-in-style suite, in one process.
  const judgeConfig = writeCustomConfig(fleet, opts.concurrency, workDir);
  const judgeReports = path.join(workDir, `reports-custom-judgement-n${n}-k${k}-c${opts.concurrency}`);
  fs.rmSync(judgeReports, { recursive: true, force: true });
  const judgeArgs = ['--import', 'tsx', path.join(REPO_ROOT, 'bench', 'custom-judge.ts'), judgeConfig, String(k)];
  log(`custom (c): ${k} checks as one built-in-style suite, ${n} hosts, concurrency ${opts.concurrency}`);
  const c = await runMeasured(process.execPath, judgeArgs, { cwd: REPO_ROOT, env: freshRunEnv(judgeReports) });
  let counts: ScaleRun['counts'] | undefined;
  try {
    counts = (JSON.parse(fs.readFileSync(path.join(judgeReports, 'verdict.json'), 'utf8')) as { counts: ScaleRun['counts'] }).counts;
  } catch {
    // no verdict: the problem below says what the run printed
  }
  const audit = /audit finished in ([\d.]+) s/.exec(c.stderr)?.[1];
  const cValid = c.exitCode === 0 && counts?.passed === n * k && counts.failed === 0 && counts.broken === 0;
  result.judgement = {
    ...measuredStep(`DRIFTLESS_OUTPUT_DIR=${rel(judgeReports)} node ${judgeArgs.map((a) => (a.startsWith('/') ? rel(a) : a)).join(' ')}`, c),
    ...(audit ? { auditSeconds: Number(audit) } : {}),
    ...(counts ? { counts } : {}),
    valid: cValid,
    ...(cValid
      ? {}
      : {
          problem: `exit ${c.exitCode}, ${counts ? `${counts.passed} passed, ${counts.failed} failed, ${counts.broken} broken` : 'no verdict'}: ${c.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        }),
  };
  if (cValid) fs.rmSync(judgeReports, { recursive: true, force: true }); // keep only what needs looking at
  log(
    `  ${c.wallSeconds} s wall, audit ${audit ?? '?'} s, ${c.cpuSeconds} CPU s, peak ${c.memory.peakTreeMiB} MiB, ${counts?.passed ?? 0} passed${cValid ? '' : ', INVALID'}`,
  );

  // (a) the checks as Playwright tests, through the CLI. Inside the package: they import 'driftless/test'.
  writeCheckFiles(path.join(workDir, 'custom-checks'), checks);
  const config = writeCustomConfig(fleet, opts.concurrency, workDir, 'custom-checks/*.check.ts');
  log(`custom (a): ${k} check files as Playwright tests`);
  const a = await runDriftless({ suites: ['custom'], provider: 'ssh', scope: `k${k}`, configFile: config, hosts: n, concurrency: opts.concurrency, workDir });
  result.custom = a;

  result.valid = a.valid && a.counts.passed === n * k && cValid && emptyOk;
  if (a.valid && cValid) {
    result.harnessMsPerCheck = round(((a.cpuSeconds - c.cpuSeconds) * 1000) / (n * k), 2);
    if (emptyOk) {
      result.ratioToEmptyTest = round(result.harnessMsPerCheck / result.empty.msPerTest, 2);
      result.withinGoal = result.ratioToEmptyTest <= GOAL;
    }
  }
  log(
    `custom: harness ${result.harnessMsPerCheck ?? '?'} ms a check vs ${result.empty.msPerTest} ms an empty test: ` +
      `${result.ratioToEmptyTest ?? '?'}× (goal ≤ ${GOAL}×)${result.valid ? '' : ', INVALID'}`,
  );
  return result;
}

/** The part as `npm run bench` runs it: a fleet of its own, removed afterwards whatever happens. */
export async function customPart(
  docker: Docker,
  opts: { image: string; hosts: number; checks: number; concurrency: number; workDir: string },
): Promise<CustomBenchResult> {
  try {
    const fleet = await startFleet(docker, { n: opts.hosts, image: opts.image, dir: path.join(opts.workDir, 'keys') });
    log(`custom: fleet of ${opts.hosts} sshd hosts up in ${fleet.startSeconds} s`);
    return await benchCustom({ fleet, checks: opts.checks, concurrency: opts.concurrency, workDir: opts.workDir });
  } catch (err) {
    log(`custom: FAILED: ${errorMessage(err)}`);
    return {
      hosts: opts.hosts,
      checks: opts.checks,
      concurrency: opts.concurrency,
      workers: 0,
      playwrightVersion: '?',
      goal: GOAL,
      valid: false,
      error: errorMessage(err),
    };
  } finally {
    log(`removed ${await stopFleet(docker)} bench hosts`);
  }
}

const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
const s1 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(1));
const perCheck = (cpu: number | undefined, r: CustomBenchResult) => (cpu === undefined ? '—' : ((cpu * 1000) / (r.hosts * r.checks)).toFixed(1));

/** The part's table for bench/README.md (bench/readme.ts). */
export function renderCustom(r: CustomBenchResult): string[] {
  if (!r.custom && !r.empty) return [`**Custom checks** — ${r.hosts} hosts × ${r.checks} checks: **not measured**: ${r.error ?? 'no run recorded'}.`];
  const a = r.custom;
  const b = r.empty;
  const c = r.judgement;
  const valid = (ok: boolean | undefined, why?: string) => (ok ? 'yes' : `NO${why ? `: ${why}` : ''}`);
  const runRow = (what: string, x: NonNullable<typeof a | typeof c>) =>
    row([
      what,
      r.hosts * r.checks,
      s1(x.wallSeconds),
      s1(x.auditSeconds),
      s1(x.cpuSeconds),
      perCheck(x.cpuSeconds, r),
      x.memory.peakTreeMiB.toFixed(0),
      valid(x.valid, x.problem),
    ]);
  return [
    `**Custom checks** — ${r.checks} host checks (each one command over SSH and an expect) × ${r.hosts} hosts (static SSH fleet), ` +
      `${r.workers} Playwright workers (concurrency ${r.concurrency}), Playwright ${r.playwrightVersion}. CPU = user + system of the whole process tree; ` +
      "checks s = the checks themselves (the Playwright run; the suite's gathering); " +
      'harness CPU per check = (CPU of the Playwright run − CPU of the same checks as one suite) / checks run.',
    '',
    row(['run', 'tests or checks', 'wall s', 'checks s', 'CPU s', 'CPU ms per check', 'peak MiB', 'valid']),
    row(Array.from({ length: 8 }, () => '---')),
    ...(a ? [runRow('`driftless run --suite custom` (Playwright Test)', a)] : []),
    ...(c ? [runRow('the same checks as one built-in-style suite (engine, one SSH session per host)', c)] : []),
    ...(b
      ? [
          row([
            'empty Playwright tests, same files and workers',
            b.tests,
            s1(b.wallSeconds),
            '—',
            s1(b.cpuSeconds),
            b.msPerTest.toFixed(1),
            b.memory.peakTreeMiB.toFixed(0),
            valid(b.exitCode === 0 && b.passed === b.tests, `${b.passed} of ${b.tests} passed`),
          ]),
        ]
      : []),
    '',
    `Harness CPU per check: **${r.harnessMsPerCheck?.toFixed(1) ?? '—'} ms**, against ${b?.msPerTest.toFixed(1) ?? '—'} ms for an empty Playwright test: ` +
      `**${r.ratioToEmptyTest?.toFixed(2) ?? '—'}×** (goal ≤ ${r.goal}×: ${r.withinGoal === undefined ? 'not measured' : r.withinGoal ? 'met' : '**not met**'}). ` +
      `Wall: Playwright / one suite ${a && c ? `${(a.wallSeconds / c.wallSeconds).toFixed(2)}×` : '—'}.`,
  ];
}
