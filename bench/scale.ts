/**
 * Fleet scale: `driftless run` (the real CLI, Playwright, Allure results, verdict) against the
 * bench fleet, one suite at a time, timed from outside with the peak memory of its whole process
 * tree. The bench hosts are compliant, so every check must pass: a failed or broken check (a
 * timeout, an unreachable host) makes the measurement invalid and is reported as such.
 */
import type Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { readChecks } from '../core/results-folder.ts';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../core/paths.ts';
import { eventLogPath } from '../lab/lab.ts';
import { LAB_MANIFEST_EXCLUDES, LAB_METADATA_ONLY, makePlan } from '../lab/lab-plan.ts';
import { type Manifest, manifestDigest, manifestOfImage } from '../probes/manifest.ts';
import { BENCH_LABEL, BENCH_SERVICE, type BenchFleet } from './fleet.ts';
import { runMeasured, type TreePeak } from './proc-tree.ts';
import { log } from './stats.ts';

/** Where the golden manifest looks, and what it skips (the same for driftless and the peer). */
export interface HashScope {
  name: string;
  paths: string[];
  excludes: string[];
}

export interface GoldenManifest {
  file: string;
  scope: HashScope;
  files: number;
  bytes: number;
  digest: string;
}

/** The golden manifest of the bench image over `scope`, computed once per image and scope. */
export async function writeGolden(docker: Docker, image: string, scope: HashScope, dir: string): Promise<GoldenManifest> {
  const file = path.join(dir, `golden-${scope.name}-${image.replace(/^sha256:/, '').slice(0, 12)}.json`);
  let m: Manifest;
  if (fs.existsSync(file)) m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  else {
    m = await manifestOfImage(docker, image, scope.paths, scope.excludes);
    fs.writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
  }
  const files = m.entries.filter((e) => e.type === 'file');
  return { file, scope, files: files.length, bytes: files.reduce((n, e) => n + e.size, 0), digest: manifestDigest(m) };
}

/** A driftless config for the bench fleet (validated by the CLI like any user's config). */
/**
 * `docker`: hosts found by label on the engine, every image check (engine + manifest over SSH).
 * `ssh`: the same hosts listed statically: the golden-manifest check only (DL-IMG-006), which is
 * exactly the per-host file-hash check the peer performs.
 */
export type BenchProvider = 'docker' | 'ssh';

/**
 * The lab's recorded engine events (its dl-recorder runs from `lab up`, before any bench host is
 * created): with them DL-IMG-005 stays provable however much the bench churns the engine, whose
 * own buffer keeps only 256 events.
 */
function recordedEvents(): { eventLog?: string } {
  const file = eventLogPath(makePlan());
  return fs.existsSync(file) ? { eventLog: file } : {};
}

export function writeBenchConfig(fleet: BenchFleet, golden: GoldenManifest, concurrency: number, dir: string, provider: BenchProvider = 'docker'): string {
  const ssh = { user: 'audit', identityFile: fleet.keys.identityFile, knownHostsFile: fleet.keys.knownHostsFile };
  const target =
    provider === 'docker'
      ? { name: 'bench', provider, environment: 'bench', service: BENCH_SERVICE, docker: { labels: { [BENCH_LABEL]: 'true' }, ...recordedEvents() }, ssh }
      : {
          name: 'bench',
          provider,
          environment: 'bench',
          service: BENCH_SERVICE,
          ssh,
          hosts: fleet.hosts.map((h) => ({ id: h.name, address: '127.0.0.1', port: h.sshPort })),
        };
  const config = {
    version: 1,
    targets: [target],
    release: { name: 'bench', services: { [BENCH_SERVICE]: { digest: fleet.image, manifest: golden.file } } },
    policy: {
      ssh: {
        mode: 'read-only',
        immutablePaths: ['/etc', '/usr/bin', '/usr/lib', '/opt/app', '/etc/cron.d', '/etc/systemd/system', '/var/lib/dpkg', '~/.ssh'],
        writablePaths: ['/tmp', '/run'],
        aggressive: false,
        concurrency,
      },
      manifest: { excludes: LAB_MANIFEST_EXCLUDES, metadataOnly: LAB_METADATA_ONLY },
      // DL-IMG-017 (what runs) is switched off, with the reason in the verdict, and the process
      // list is then not read: in the peer rows (SSH), which compare the file-hash check alone as
      // testinfra does, and wherever the golden manifest has the etc scope, which names no program
      // to tie a process to (the check would rightly be broken on every host).
      ...(provider === 'ssh' || golden.scope.name === 'etc'
        ? {
            disabledControls: [
              {
                control: 'DL-IMG-017',
                reason:
                  provider === 'ssh'
                    ? 'bench: the peer comparison is the file-hash check (DL-IMG-006) alone'
                    : 'bench: the etc-scope golden manifest names no program',
              },
            ],
          }
        : {}),
    },
  };
  const file = path.join(dir, `driftless.bench.${provider}.${golden.scope.name}.c${concurrency}.yaml`);
  fs.writeFileSync(file, `# written by bench/scale.ts for one benchmark run\n${stringify(config)}`);
  return file;
}

export type SuiteName = 'ssh-edits' | 'image-integrity' | 'custom';

export interface ScaleRun {
  tool: 'driftless';
  /** The suite, or the suites of one run joined with "+". */
  suite: string;
  provider: BenchProvider;
  /** Golden manifest scope (see bench/run.ts SCOPES). */
  scope: string;
  hosts: number;
  concurrency: number;
  /** From spawning `driftless run` to its exit: config, inventory, Playwright, results, verdict. */
  wallSeconds: number;
  /** The probing alone, as the run's own progress lines report it ("audit finished in X s"; the longest, when suites ran side by side). */
  auditSeconds?: number;
  /** wall / audit: what the harness adds on top of the probing (1.00 = nothing). */
  overhead?: number;
  /** CPU seconds (user + system) of the harness's whole process tree: its cost per run. */
  cpuSeconds: number;
  memory: TreePeak;
  exitCode: number | null;
  counts: { passed: number; failed: number; broken: number; skipped: number };
  /** True when every check passed on every host: nothing timed out, nothing unreachable. */
  valid: boolean;
  problem?: string;
  command: string;
  /** Where its results folder is (removed after a valid run unless kept). */
  resultsDir?: string;
  /** `driftless report` over this run's results, when asked for (the large fleet). */
  report?: ReportRun;
}

export interface ReportRun {
  command: string;
  results: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakTreeMiB: number;
  exitCode: number | null;
  reportMiB: number;
  singleFileMiB?: number;
}

const dirBytes = (dir: string): number =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true, recursive: true })
        .reduce((n, e) => (e.isFile() ? n + fs.statSync(path.join(e.parentPath, e.name)).size : n), 0)
    : 0;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * `driftless report --single-file` over a run's results (or its shards' folders, merged), timed
 * like the run (Allure's generator is Java); the report goes into `reportsDir`.
 */
export async function timeReport(reportsDir: string, inputs: string[] = [path.join(reportsDir, 'results')]): Promise<ReportRun> {
  const out = path.join(reportsDir, 'report');
  const args = [path.join(REPO_ROOT, 'bin', 'driftless.js'), 'report', ...inputs.flatMap((d) => ['--results', d]), '--out', out, '--single-file'];
  const owed = inputs.reduce((n, d) => n + readChecks(d).records.length, 0);
  log(`  driftless report --single-file over ${owed} results in ${inputs.length} folder(s)`);
  const r = await runMeasured(process.execPath, args, { cwd: REPO_ROOT, env: freshRunEnv(reportsDir) });
  const rr: ReportRun = {
    command: `driftless ${args.slice(1).join(' ')}`.replaceAll(REPO_ROOT + '/', ''),
    results: owed,
    wallSeconds: r.wallSeconds,
    cpuSeconds: r.cpuSeconds,
    peakTreeMiB: r.memory.peakTreeMiB,
    exitCode: r.exitCode,
    reportMiB: mib(dirBytes(out)),
  };
  const single = path.join(path.dirname(out), 'report-single', 'index.html');
  if (fs.existsSync(single)) rr.singleFileMiB = mib(fs.statSync(single).size);
  log(`  report: ${rr.wallSeconds} s wall, ${rr.cpuSeconds} CPU s, peak ${rr.peakTreeMiB} MiB, exit ${rr.exitCode}, ${rr.reportMiB} MiB`);
  return rr;
}

interface VerdictFile {
  counts: { passed: number; failed: number; broken: number; skipped: number };
}

/** The most frequent reasons among the checks that did not pass, e.g. "20× DL-IMG-005: …", from the typed results. */
function whyNotPassed(resultsDir: string): string {
  const reasons = new Map<string, number>();
  for (const r of readChecks(resultsDir).records) {
    if (r.outcome === 'passed' || r.outcome === 'not-applicable') continue;
    const key = `${r.control}: ${(r.message ?? r.outcome).replace(/dl-bench-\d+/g, 'dl-bench-<i>').slice(0, 160)}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return [...reasons]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, n]) => `${n}× ${k}`)
    .join('; ');
}

/** The environment of a new run: nothing inherited from an earlier run in this process tree. */
export function freshRunEnv(reportsDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DRIFTLESS_OUTPUT_DIR: reportsDir };
  for (const k of ['DRIFTLESS_RUN_ID', 'DRIFTLESS_RUN_DIR', 'DRIFTLESS_SEED', 'DRIFTLESS_STARTED_AT', 'DRIFTLESS_CONFIG', 'DRIFTLESS_RESULTS_DIR'])
    delete env[k];
  return env;
}

/** One `driftless run --suite <suite>...` against the bench fleet. */
export async function runDriftless(opts: {
  suites: SuiteName[];
  provider: BenchProvider;
  scope: string;
  configFile: string;
  hosts: number;
  concurrency: number;
  workDir: string;
  /** Also time `driftless report` over the results. */
  report?: boolean;
  /** One shard of a sharded run, as a CI job runs it: `--shard i/n --run-id id`, its own folders. */
  shard?: { index: number; total: number; runId: string };
  /** Keep the results folder even when valid (a shard's, for the merge). */
  keep?: boolean;
}): Promise<ScaleRun> {
  const suite = opts.suites.join('+');
  const shardTag = opts.shard ? `-s${opts.shard.index}of${opts.shard.total}` : '';
  const reportsDir = path.join(opts.workDir, `reports-${suite}-${opts.provider}-${opts.scope}-n${opts.hosts}-c${opts.concurrency}${shardTag}`);
  fs.rmSync(reportsDir, { recursive: true, force: true });
  const args = [
    path.join(REPO_ROOT, 'bin', 'driftless.js'),
    'run',
    '--config',
    opts.configFile,
    ...opts.suites.flatMap((x) => ['--suite', x]),
    ...(opts.shard
      ? ['--shard', `${opts.shard.index}/${opts.shard.total}`, '--run-id', opts.shard.runId, '--results-dir', path.join(reportsDir, 'results')]
      : []),
  ];
  const command = `DRIFTLESS_OUTPUT_DIR=${path.relative(REPO_ROOT, reportsDir)} driftless ${args.slice(1).join(' ')}`;
  log(
    `driftless ${suite} (${opts.provider} provider): ${opts.hosts} hosts, concurrency ${opts.concurrency}${opts.shard ? `, shard ${opts.shard.index}/${opts.shard.total}` : ''}`,
  );
  const r = await runMeasured(process.execPath, args, { cwd: REPO_ROOT, env: freshRunEnv(reportsDir) });
  const { exitCode, stdout, stderr, wallSeconds, cpuSeconds, memory } = r;
  const audits = [...stderr.matchAll(/audit finished in ([\d.]+) s/g)].map((m) => Number(m[1]));
  const audit = audits.length ? Math.max(...audits) : undefined;
  let counts = { passed: 0, failed: 0, broken: 0, skipped: 0 };
  let problem: string | undefined;
  try {
    counts = (JSON.parse(fs.readFileSync(path.join(reportsDir, 'verdict.json'), 'utf8')) as VerdictFile).counts;
  } catch {
    problem = `no verdict written (exit ${exitCode}): ${(stderr + stdout).trim().split('\n').slice(-5).join(' | ')}`;
  }
  const valid = !problem && exitCode === 0 && counts.failed === 0 && counts.broken === 0 && counts.passed > 0;
  if (!valid && !problem)
    problem = `exit ${exitCode}: ${counts.failed} failed, ${counts.broken} broken: ${whyNotPassed(path.join(reportsDir, 'results'))} (see ${path.relative(REPO_ROOT, reportsDir)})`;
  const report = opts.report && valid ? await timeReport(reportsDir) : undefined;
  if (valid && !opts.keep) fs.rmSync(reportsDir, { recursive: true, force: true }); // keep only what needs looking at
  log(
    `  ${wallSeconds} s wall${audit ? `, audit ${audit} s` : ''}, ${cpuSeconds} CPU s, peak ${memory.peakTreeMiB} MiB, ${counts.passed} passed${valid ? '' : `, INVALID: ${problem}`}`,
  );
  return {
    tool: 'driftless',
    suite,
    provider: opts.provider,
    scope: opts.scope,
    hosts: opts.hosts,
    concurrency: opts.concurrency,
    wallSeconds,
    ...(audit ? { auditSeconds: audit, overhead: Math.round((wallSeconds / audit) * 100) / 100 } : {}),
    cpuSeconds,
    memory,
    exitCode,
    counts,
    valid,
    ...(problem ? { problem } : {}),
    command,
    resultsDir: path.join(reportsDir, 'results'),
    ...(report ? { report } : {}),
  };
}
