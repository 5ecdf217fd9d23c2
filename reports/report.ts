/**
 * Turns one or more Allure results folders (shards) into the report: categories, environment and
 * executor, the previous report's history (so the trend shows nightly runs), probe errors as
 * broken, the HTML report, an optional single-file report, and reports/verdict.json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../core/paths.ts';
import { ProviderError, RunContextError } from '../core/errors.ts';
import { allureCategories } from './categories.ts';
import { normalizeResults, readResults } from './results.ts';
import { mergeRecords, readRunRecord, RUN_RECORD, type RunRecord, writeRunRecord } from './run-record.ts';
import { type Verdict, verdictOf, writeVerdict } from './verdict.ts';

const ALLURE = path.join(REPO_ROOT, 'node_modules', 'allure-commandline', 'dist', 'bin', 'allure');
/** A single-file report of a lab run must open from disk and stay small enough to mail. */
export const SINGLE_FILE_BUDGET_BYTES = 25 * 1024 * 1024;

/** The run record (what is owed), environment.properties, executor.json and categories.json. */
export function writeRunMetadata(resultsDir: string, meta: RunRecord): void {
  writeRunRecord(resultsDir, meta);
  const env: Record<string, string> = {
    'run.id': meta.runId,
    seed: String(meta.seed),
    'started.at': meta.startedAt,
    'harness.version': meta.harnessVersion,
    'config.file': meta.config.file,
    'config.sha256': meta.config.sha256,
    'plan.sha256': meta.planHash,
    'plan.checks': String(meta.plan.checks.length),
    ...(meta.shard ? { shard: `${meta.shard.index}/${meta.shard.total}` } : {}),
    fleets: meta.fleets.map((f) => `${f.name} (${f.provider}, ${f.hosts} hosts)`).join('; '),
  };
  for (const [svc, r] of Object.entries(meta.release)) env[`release.${svc}`] = [r.digest, r.ami].filter(Boolean).join(' ');
  fs.writeFileSync(
    path.join(resultsDir, 'environment.properties'),
    Object.entries(env)
      .map(([k, v]) => `${k} = ${v.replace(/\n/g, ' ')}`)
      .join('\n') + '\n',
  );
  // allure-playwright does not write executor.json; the report's "Executors" widget reads it.
  const ci = process.env.GITHUB_RUN_ID
    ? { buildUrl: `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}` }
    : {};
  fs.writeFileSync(
    path.join(resultsDir, 'executor.json'),
    JSON.stringify(
      {
        name: `driftless ${meta.harnessVersion}`,
        type: 'driftless',
        buildName: `run ${meta.runId} (seed ${meta.seed})`,
        buildOrder: Date.parse(meta.startedAt),
        reportName: 'driftless compliance report',
        ...ci,
      },
      null,
      2,
    ),
  );
  fs.writeFileSync(path.join(resultsDir, 'categories.json'), JSON.stringify(allureCategories(), null, 2));
}

function allure(args: string[]): void {
  if (!fs.existsSync(ALLURE)) throw new ProviderError(`allure-commandline is not installed (${ALLURE}): run npm ci`);
  const r = spawnSync(ALLURE, args, { encoding: 'utf8' });
  if (r.error) throw new ProviderError(`could not run allure: ${r.error.message}; it needs Java (apt-get install -y default-jre-headless)`);
  if (r.status !== 0) throw new ProviderError(`allure ${args[0]} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-1000)}`);
}

function copyDir(from: string, to: string): void {
  if (fs.existsSync(from)) fs.cpSync(from, to, { recursive: true });
}

export interface ReportOptions {
  /** Allure results folders (one per shard); merged. */
  inputs: string[];
  /** The HTML report folder; its history/ is carried into the new report. */
  out: string;
  /** Also write a single-file report here (index.html), or skip when absent. */
  singleFileDir?: string;
  verdictFile: string;
  staging: string;
}

export interface ReportResult {
  verdict: Verdict;
  reportDir: string;
  singleFile?: { file: string; bytes: number };
  historyCarried: boolean;
}

export function buildReport(o: ReportOptions): ReportResult {
  // Every folder named must be there, be one run's, and have finished: what is not is named.
  const merged = mergeRecords(o.inputs.map(readRunRecord));
  if (merged.refused.length) throw new RunContextError(`refusing to merge these results:\n${merged.refused.join('\n')}`);
  const inputs = o.inputs.filter((d) => fs.existsSync(d));
  if (inputs.length === 0) throw new RunContextError(`no results folder exists of ${o.inputs.join(', ')}: run \`driftless run\` first`);
  fs.rmSync(o.staging, { recursive: true, force: true });
  fs.mkdirSync(o.staging, { recursive: true });
  for (const d of inputs) copyDir(d, o.staging);
  const history = path.join(o.out, 'history');
  const historyCarried = fs.existsSync(history);
  copyDir(history, path.join(o.staging, 'history'));
  fs.writeFileSync(path.join(o.staging, 'categories.json'), JSON.stringify(allureCategories(), null, 2));
  normalizeResults(o.staging);

  allure(['generate', '--clean', '-o', o.out, o.staging]);
  let singleFile: ReportResult['singleFile'];
  if (o.singleFileDir) {
    allure(['generate', '--clean', '--single-file', '-o', o.singleFileDir, o.staging]);
    const file = path.join(o.singleFileDir, 'index.html');
    singleFile = { file, bytes: fs.statSync(file).size };
  }
  const verdict = verdictOf(readResults(o.staging), merged);
  writeVerdict(o.verdictFile, verdict);
  return { verdict, reportDir: o.out, ...(singleFile ? { singleFile } : {}), historyCarried };
}

export { RUN_RECORD };
