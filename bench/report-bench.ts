/**
 * The report at scale, without a fleet (`npm run bench -- --only report`): a synthetic results
 * folder of N hosts × 26 checks (bench/synthetic-results.ts, as a run of both audit suites leaves
 * it), then, each timed from outside with the peak memory of its process tree:
 *
 *   1. `driftless report --single-file`, Allure layout grouped (the default) and per-check;
 *   2. the two Allure generators side by side on the same Allure results (the staging folder each
 *      report run left): Allure 2 (`allure generate --single-file`, Java) and Allure 3 (the `allure`
 *      npm package's awesome report, singleFile, through its Node API; installed into
 *      bench/tmp/allure3 from bench/allure3/package.json with --ignore-scripts);
 *   3. the merge of the same run as k shards (k folders, as k CI jobs leave them), grouped; and the
 *      same merge with one shard left out, which must be exit 3 with that shard named.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../core/paths.ts';
import { loadConfig } from '../config/load.ts';
import { runMeasured } from './proc-tree.ts';
import { CHECKS_PER_HOST, writeSyntheticResults } from './synthetic-results.ts';
import { log, round } from './stats.ts';

const ALLURE2 = path.join(REPO_ROOT, 'node_modules', 'allure-commandline', 'dist', 'bin', 'allure');
const ALLURE3_SRC = path.join(REPO_ROOT, 'bench', 'allure3');
const ALLURE3_DIR = path.join(REPO_ROOT, 'bench', 'tmp', 'allure3');

export interface ReportStep {
  what: string;
  command: string;
  wallSeconds: number;
  cpuSeconds: number;
  peakTreeMiB: number;
  exitCode: number | null;
  /** The report folder (or the generator's output folder), MiB. */
  reportMiB?: number;
  singleFileMiB?: number;
  /** Allure results written (grouped: passed checks are one per host and suite). */
  allureResults?: number;
  /** Single file bytes per owed check. */
  bytesPerCheck?: number;
  valid: boolean;
  problem?: string;
}

export interface ReportBench {
  hosts: number;
  checks: number;
  notPassed: number;
  /** The synthetic results folder, MiB, and how long it took to write (not part of any figure). */
  resultsMiB: number;
  generateSeconds: number;
  allure2: string;
  allure3?: { version: string; engines: string; installScripts: string; error?: string };
  reports: ReportStep[];
  generators: ReportStep[];
  shards: ReportStep[];
}

export const dirBytes = (dir: string): number =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true, recursive: true })
        .reduce((n, e) => (e.isFile() ? n + fs.statSync(path.join(e.parentPath, e.name)).size : n), 0)
    : 0;
const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

/** The oldest Node driftless supports (package.json engines: ^20.17.0 || >=22.9.0). */
const NODE_FLOOR = [20, 17, 0];

/**
 * Whether an engines range (`>=18`, `^20.19.0 || >=22`, `18 || 20 || >=22`, ...) admits a
 * version: enough of semver for the ranges npm packages write, to name those that leave driftless's
 * oldest supported Node out.
 */
export function admits(range: string, v: readonly number[]): boolean {
  const cmp = (a: readonly number[], b: readonly number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  return range.split('||').some((clause) =>
    clause
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((c) => {
        const m = /^([<>]=?|[=^~])?v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?/.exec(c);
        if (!m) return true;
        const parts = [m[2], m[3], m[4]].map((x) => (x === undefined || /[xX*]/.test(x) ? undefined : Number(x)));
        const at = parts.map((x) => x ?? 0);
        const op = m[1] ?? (parts[1] === undefined || parts[2] === undefined ? '~' : '=');
        const d = cmp(v, at);
        if (op === '>=') return d >= 0;
        if (op === '>') return d > 0;
        if (op === '<') return d < 0;
        if (op === '<=') return d <= 0;
        if (op === '^') return d >= 0 && v[0] === at[0];
        if (op === '~') return d >= 0 && v[0] === at[0] && (parts[1] === undefined || v[1] === at[1]);
        return d === 0;
      }),
  );
}

/** Installs the pinned Allure 3 into bench/tmp/allure3 (no install scripts run); its version, or why not. */
function ensureAllure3(): NonNullable<ReportBench['allure3']> {
  const want = fs.readFileSync(path.join(ALLURE3_SRC, 'package.json'), 'utf8');
  const stamp = path.join(ALLURE3_DIR, '.package.json');
  try {
    if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== want) {
      log(`installing Allure 3 (the allure npm package) into ${path.relative(REPO_ROOT, ALLURE3_DIR)}, --ignore-scripts`);
      fs.mkdirSync(ALLURE3_DIR, { recursive: true });
      fs.writeFileSync(path.join(ALLURE3_DIR, 'package.json'), want);
      execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: ALLURE3_DIR, stdio: 'pipe' });
      fs.writeFileSync(stamp, want);
    }
    fs.copyFileSync(path.join(ALLURE3_SRC, 'generate.mjs'), path.join(ALLURE3_DIR, 'generate.mjs'));
    const pkg = (name: string) => JSON.parse(fs.readFileSync(path.join(ALLURE3_DIR, 'node_modules', name, 'package.json'), 'utf8')) as Record<string, unknown>;
    // What Node the installed tree asks for, and which of its packages would run an install script.
    const engines = new Set<string>();
    const scripts: string[] = [];
    for (const e of fs.readdirSync(path.join(ALLURE3_DIR, 'node_modules'), { withFileTypes: true, recursive: true })) {
      if (e.name !== 'package.json' || !e.isFile()) continue;
      let p: { name?: string; engines?: { node?: string }; scripts?: Record<string, string> };
      try {
        p = JSON.parse(fs.readFileSync(path.join(e.parentPath, e.name), 'utf8')) as typeof p;
      } catch {
        continue;
      }
      if (!p.name) continue;
      const node = p.engines?.node;
      if (node && !admits(node, NODE_FLOOR)) engines.add(`${p.name}: ${node}`);
      if (['preinstall', 'install', 'postinstall'].some((s) => p.scripts?.[s])) scripts.push(p.name);
    }
    return {
      version: String(pkg('allure').version),
      engines: [...engines].sort().join('; ') || `every package admits Node ${NODE_FLOOR.join('.')}`,
      installScripts: scripts.length ? [...new Set(scripts)].sort().join(', ') : 'none',
    };
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return {
      version: '?',
      engines: '?',
      installScripts: '?',
      error: String(e.stderr ?? e.message)
        .trim()
        .slice(-400),
    };
  }
}

async function timeReport(
  what: string,
  inputs: string[],
  out: string,
  allure: 'grouped' | 'per-check',
  checks: number,
  expectExit: number,
): Promise<ReportStep> {
  fs.rmSync(out, { recursive: true, force: true });
  const report = path.join(out, 'report');
  const args = [
    path.join(REPO_ROOT, 'bin', 'driftless.js'),
    'report',
    ...inputs.flatMap((d) => ['--results', d]),
    '--out',
    report,
    '--single-file',
    '--allure',
    allure,
  ];
  log(`  ${what}: driftless report --single-file --allure ${allure} over ${inputs.length} folder(s)`);
  const r = await runMeasured(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, DRIFTLESS_OUTPUT_DIR: out } });
  const single = path.join(out, 'report-single', 'index.html');
  const singleBytes = fs.existsSync(single) ? fs.statSync(single).size : undefined;
  const results = /allure: (\d+) results/.exec(r.stdout)?.[1];
  const valid = r.exitCode === expectExit;
  const step: ReportStep = {
    what,
    command: `driftless ${args.slice(1).join(' ')}`.replaceAll(REPO_ROOT + '/', ''),
    wallSeconds: r.wallSeconds,
    cpuSeconds: r.cpuSeconds,
    peakTreeMiB: r.memory.peakTreeMiB,
    exitCode: r.exitCode,
    reportMiB: mib(dirBytes(report)),
    ...(singleBytes !== undefined ? { singleFileMiB: mib(singleBytes), bytesPerCheck: Math.round(singleBytes / checks) } : {}),
    ...(results ? { allureResults: Number(results) } : {}),
    valid,
    ...(valid ? {} : { problem: `exit ${r.exitCode}, expected ${expectExit}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}` }),
  };
  log(
    `    ${step.wallSeconds} s, ${step.cpuSeconds} CPU s, peak ${step.peakTreeMiB} MiB, single file ${step.singleFileMiB ?? '—'} MiB${valid ? '' : `, INVALID: ${step.problem}`}`,
  );
  return step;
}

async function timeGenerator(what: string, cmd: string, args: string[], out: string, checks: number, cwd = REPO_ROOT): Promise<ReportStep> {
  fs.rmSync(out, { recursive: true, force: true });
  log(`  ${what}`);
  const r = await runMeasured(cmd, args, { cwd, env: process.env });
  const single = path.join(out, 'index.html');
  const singleBytes = fs.existsSync(single) ? fs.statSync(single).size : undefined;
  const valid = r.exitCode === 0 && singleBytes !== undefined;
  const step: ReportStep = {
    what,
    command: `${path.basename(cmd)} ${args.join(' ')}`.replaceAll(REPO_ROOT + '/', ''),
    wallSeconds: r.wallSeconds,
    cpuSeconds: r.cpuSeconds,
    peakTreeMiB: r.memory.peakTreeMiB,
    exitCode: r.exitCode,
    reportMiB: mib(dirBytes(out)),
    ...(singleBytes !== undefined ? { singleFileMiB: mib(singleBytes), bytesPerCheck: Math.round(singleBytes / checks) } : {}),
    valid,
    ...(valid ? {} : { problem: `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}` }),
  };
  log(
    `    ${step.wallSeconds} s, ${step.cpuSeconds} CPU s, peak ${step.peakTreeMiB} MiB, ${step.singleFileMiB ?? '—'} MiB${valid ? '' : `, INVALID: ${step.problem}`}`,
  );
  return step;
}

export async function benchReport(opts: { hosts: number; shards: number[]; perCheck?: boolean; workDir: string }): Promise<ReportBench> {
  const base = path.join(opts.workDir, `report-n${opts.hosts}`);
  fs.rmSync(base, { recursive: true, force: true });
  // About 1% of hosts with a violation and 0.5% with a probe error: results of their own, with evidence.
  const failing = Math.max(1, Math.round(opts.hosts / 100));
  const broken = Math.max(1, Math.round(opts.hosts / 200));
  const t0 = performance.now();
  const results = path.join(base, 'results');
  // `driftless report` below reads the default config: with its signing key, it refuses unsigned folders.
  const key = loadConfig().report?.signingKey;
  const signingKey = key && fs.existsSync(key) ? { signingKey: key } : {};
  const syn = await writeSyntheticResults({ dir: results, hosts: opts.hosts, failing, broken, ...signingKey });
  const generateSeconds = round((performance.now() - t0) / 1000, 1);
  log(
    `synthetic results: ${opts.hosts} hosts × ${CHECKS_PER_HOST} checks (${syn.notPassed} not passed), ${mib(dirBytes(results))} MiB, in ${generateSeconds} s`,
  );
  const out: ReportBench = {
    hosts: opts.hosts,
    checks: syn.checks,
    notPassed: syn.notPassed,
    resultsMiB: mib(dirBytes(results)),
    generateSeconds,
    allure2: fs.readFileSync(path.join(REPO_ROOT, 'node_modules', 'allure-commandline', 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1] ?? '?',
    reports: [],
    generators: [],
    shards: [],
  };
  const layouts = opts.perCheck === false ? (['grouped'] as const) : (['grouped', 'per-check'] as const);
  for (const layout of layouts) out.reports.push(await timeReport(`report, ${layout}`, [results], path.join(base, `out-${layout}`), layout, syn.checks, 1));

  out.allure3 = ensureAllure3();
  for (const layout of layouts) {
    const staging = path.join(base, `out-${layout}`, '.report-staging');
    if (!fs.existsSync(staging)) continue;
    out.generators.push(
      await timeGenerator(
        `Allure 2 ${out.allure2}, ${layout}`,
        ALLURE2,
        ['generate', '--clean', '--single-file', '-o', path.join(base, `allure2-${layout}`), staging],
        path.join(base, `allure2-${layout}`),
        syn.checks,
      ),
    );
    if (!out.allure3.error)
      out.generators.push(
        await timeGenerator(
          `Allure 3 ${out.allure3.version} (awesome, singleFile), ${layout}`,
          process.execPath,
          [path.join(ALLURE3_DIR, 'generate.mjs'), staging, path.join(base, `allure3-${layout}`)],
          path.join(base, `allure3-${layout}`),
          syn.checks,
          ALLURE3_DIR,
        ),
      );
  }

  for (const k of opts.shards) {
    const dir = path.join(base, `shards-${k}`);
    const sharded = await writeSyntheticResults({
      dir,
      hosts: opts.hosts,
      shards: k,
      failing,
      broken,
      runId: `synthetic-${opts.hosts}-shards-${k}`,
      ...signingKey,
    });
    out.shards.push(await timeReport(`merge of ${k} shards`, sharded.dirs, path.join(base, `out-shards-${k}`), 'grouped', syn.checks, 1));
    // One shard's job did not upload: the merge must say so, by name, whatever the size (the
    // verdict stays "violations", exit 1: the other shards found some; without them it is exit 3).
    const missing = Math.ceil(k / 2);
    const step = await timeReport(
      `merge of ${k - 1} of ${k} shards (shard ${missing} missing)`,
      sharded.dirs.filter((_, i) => i !== missing - 1),
      path.join(base, `out-shards-${k}-missing`),
      'grouped',
      syn.checks,
      1,
    );
    const verdictFile = path.join(base, `out-shards-${k}-missing`, 'verdict.json');
    // A merge that failed is an invalid row (its problem already says why), not the end of the bench.
    const verdict = fs.existsSync(verdictFile) ? (JSON.parse(fs.readFileSync(verdictFile, 'utf8')) as { incomplete: string[] }) : undefined;
    const named = verdict?.incomplete.some((l) => l.includes(`shard ${missing}/${k} of run ${sharded.runId} is missing`));
    if (verdict && !named)
      Object.assign(step, {
        valid: false,
        problem: `shard ${missing}/${k} not named in verdict.json's incomplete: ${verdict.incomplete.slice(0, 3).join(' | ')}`,
      });
    out.shards.push(step);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (out.reports.some((r) => !r.valid)) log('report: some measurements are invalid (see the result file)');
  return out;
}
