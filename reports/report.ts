/**
 * Turns one or more Allure results folders (shards) into the report: categories, environment and
 * executor, the previous report's history (so the trend shows nightly runs), probe errors as
 * broken, the HTML report, an optional single-file report, and reports/verdict.json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { harnessVersion, REPO_ROOT } from '../core/paths.ts';
import { ProviderError, RunContextError } from '../core/errors.ts';
import { allureCategories } from './categories.ts';
import { normalizeResults, readResults } from './results.ts';
import { mergeRecords, readRunRecord, RUN_RECORD, type RunRecord, writeRunRecord } from './run-record.ts';
import { EVIDENCE_FILE, type EvidenceBundle, fileSha256, keyFingerprint, publicKeyOf, verifyEvidence, writeEvidence } from './evidence.ts';
import { matrices, writeMatrixResults } from './matrix.ts';
import { type Verdict, verdictOf, writeVerdict } from './verdict.ts';

const ALLURE = path.join(REPO_ROOT, 'node_modules', 'allure-commandline', 'dist', 'bin', 'allure');
/** A single-file report of a lab run must open from disk and stay small enough to mail. */
export const SINGLE_FILE_BUDGET_BYTES = 25 * 1024 * 1024;

/** The run record (what is owed), environment.properties, executor.json and categories.json. */
export function writeRunMetadata(resultsDir: string, meta: RunRecord, signingKey?: string): void {
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
    evidence: signingKey
      ? `signed (Ed25519 ${keyFingerprint(publicKeyOf(signingKey))})`
      : 'UNSIGNED: nothing proves these results were not edited after the run (set report.signingKey)',
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
  /** Signs the report's evidence bundle (report.signingKey); absent: unsigned, and the report says so. */
  signingKey?: string;
}

export interface ReportResult {
  verdict: Verdict;
  evidence: EvidenceBundle;
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
  const sealed = checkSealedInputs(inputs, o.signingKey);
  fs.rmSync(o.staging, { recursive: true, force: true });
  fs.mkdirSync(o.staging, { recursive: true });
  for (const d of inputs) copyDir(d, o.staging);
  const history = path.join(o.out, 'history');
  const historyCarried = fs.existsSync(history);
  copyDir(history, path.join(o.staging, 'history'));
  fs.writeFileSync(path.join(o.staging, 'categories.json'), JSON.stringify(allureCategories(), null, 2));
  normalizeResults(o.staging);
  // The verdict first (from the checks' own results), then the answers it gives per fleet go
  // into the report: a matrix result per fleet, and one line per fleet in the environment.
  const results = readResults(o.staging);
  const verdict = verdictOf(results, merged);
  writeMatrixResults(o.staging, matrices(results, merged, verdict), verdict);
  // Answers first: the report's title and the top of its environment carry the verdict.
  retitle(
    o.staging,
    `driftless: ${verdict.verdict.toUpperCase()} (exit ${verdict.exitCode}) — ${verdict.coverage.fleets.map((f) => `${f.fleet}: ${f.verdict}`).join(' · ')}`,
  );
  prependEnvironment(o.staging, {
    verdict: `${verdict.verdict} (exit ${verdict.exitCode})`,
    ...Object.fromEntries(
      verdict.coverage.fleets.map((f) => [
        `verdict.fleet.${f.fleet}`,
        `${f.verdict}: ${f.coverage.passed}/${f.coverage.owed} passed, ${f.coverage.failed} failed, ${f.coverage.broken} broken, ${f.coverage.waived} waived`,
      ]),
    ),
    ...(verdict.incomplete.length ? { 'verdict.not-fully-checked': verdict.incomplete.slice(0, 3).join(' | ') } : {}),
    evidence: o.signingKey
      ? `signed (Ed25519 ${keyFingerprint(publicKeyOf(o.signingKey))}): check with driftless verify`
      : 'UNSIGNED: nothing proves this report was not edited after the run (set report.signingKey)',
    'evidence.results': sealed.map((x) => `${path.basename(x.dir)}: ${x.state}`).join('; '),
  });

  allure(['generate', '--clean', '-o', o.out, o.staging]);
  let singleFile: ReportResult['singleFile'];
  if (o.singleFileDir) {
    allure(['generate', '--clean', '--single-file', '-o', o.singleFileDir, o.staging]);
    const file = path.join(o.singleFileDir, 'index.html');
    singleFile = { file, bytes: fs.statSync(file).size };
  }
  writeVerdict(o.verdictFile, verdict);
  // The verdict travels with the report it came from, and both are covered by the bundle.
  const sign = (dir: string) => {
    writeVerdict(path.join(dir, 'driftless-verdict.json'), verdict);
    return writeEvidence(dir, {
      kind: 'report',
      runIds: merged.runs.map((r) => r.runId),
      harness: { version: harnessVersion(), lockfileSha256: fileSha256(path.join(REPO_ROOT, 'package-lock.json')) },
      inputs: sealed.map((x) => ({
        what: `results folder (${x.state})`,
        file: path.join(x.dir, EVIDENCE_FILE),
        sha256: fileSha256(path.join(x.dir, EVIDENCE_FILE)),
      })),
      planHashes: merged.runs.map((r) => r.planHash),
      verdict: { verdict: verdict.verdict, exitCode: verdict.exitCode },
      ...(o.signingKey ? { signingKey: o.signingKey } : {}),
    });
  };
  const evidence = sign(o.out);
  if (o.singleFileDir) sign(o.singleFileDir);
  return { verdict, reportDir: o.out, ...(singleFile ? { singleFile } : {}), historyCarried, evidence };
}

export { RUN_RECORD };

/**
 * environment.properties with `lines` first (the overview lists it in file order) and the run's
 * own lines after, a key given here replacing the run's.
 */
function prependEnvironment(dir: string, lines: Record<string, string>): void {
  const file = path.join(dir, 'environment.properties');
  const old = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim() && !(l.split(' = ')[0]!.trim() in lines))
    : [];
  const text = Object.entries(lines).map(([k, v]) => `${k} = ${v.replace(/\n/g, ' ')}`);
  fs.writeFileSync(file, [...text, ...old].join('\n') + '\n');
}

/** The report's name (executor.json's reportName): the summary widget's title. */
function retitle(dir: string, name: string): void {
  const file = path.join(dir, 'executor.json');
  const executor = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : { name: 'driftless', type: 'driftless' };
  fs.writeFileSync(file, JSON.stringify({ ...executor, reportName: name }, null, 2));
}

/**
 * Every results folder with an evidence bundle must still match it (a result edited after its run
 * would change the verdict recomputed here): one that does not is refused, naming the files.
 */
function checkSealedInputs(inputs: string[], signingKey: string | undefined): Array<{ dir: string; state: string }> {
  const trusted = signingKey ? publicKeyOf(signingKey) : undefined;
  const problems: string[] = [];
  const out = inputs.map((dir) => {
    if (!fs.existsSync(path.join(dir, EVIDENCE_FILE))) return { dir, state: `no ${EVIDENCE_FILE}: not sealed by its run` };
    const v = verifyEvidence(dir, trusted);
    const edits = [...v.changed.map((f) => `changed ${f}`), ...v.removed.map((f) => `removed ${f}`), ...v.added.map((f) => `added ${f}`)];
    const bad = edits.length > 0 || (v.signed && !v.signatureValid) || (v.signed && !!trusted && !v.trustedKey);
    if (bad) problems.push(`${dir}: ${[...edits.slice(0, 10), ...(edits.length > 10 ? [`… ${edits.length - 10} more`] : []), ...v.problems].join('; ')}`);
    return { dir, state: !v.signed ? 'sealed, unsigned' : trusted ? 'signature verified with the report key' : 'signature valid (no key to trust given)' };
  });
  if (problems.length) {
    throw new RunContextError(`refusing to report on results changed after their run (driftless verify names every file):\n${problems.join('\n')}`);
  }
  return out;
}
