/**
 * `driftless report`: one or more results folders (shards, runs) into the verdict, computed from
 * their typed results and run records alone, then rendered: Allure results (categories,
 * environment, executor, a compliance matrix per fleet, the previous report's history), the HTML
 * report, an optional single file, and the report's evidence bundle. Results folders are sealed by
 * their run: one changed since is refused; with a signing key, one that is not signed by it is
 * refused too, and without one the report says UNSIGNED in its title, verdict and environment.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckRecord } from '../core/check-record.ts';
import type { Config } from '../core/config.ts';
import { controlsOf, isControlId, registerControls } from '../core/controls.ts';
import { ProviderError, RunContextError, UsageError } from '../core/errors.ts';
import { ensureOwnedParent, OWNED_MARKER, whyNotOwned } from '../core/owned-dir.ts';
import { harnessVersion, REPO_ROOT } from '../core/paths.ts';
import { readChecks } from '../core/results-folder.ts';
import { type AllureLayout, writeAllureResults } from './allure-results.ts';
import { type BaselineVerdict, changesOf, newIds, readBaseline, sharesRun } from './baseline.ts';
import { allureCategories } from './categories.ts';
import { EVIDENCE_FILE, type EvidenceBundle, evidenceState, fileSha256, keyFingerprint, publicKeyOf, verifyEvidence, writeEvidence } from './evidence.ts';
import { matrices, writeMatrixResults } from './matrix.ts';
import { OUTPUT_KINDS, type OutputKind, OUTPUTS_DIR, type WrittenOutputs, writeOutputs } from './outputs.ts';
import { type MergedRecords, mergeRecords, readRunRecord } from './run-record.ts';
import { answersOf, type Verdict, verdictOf, writeVerdict } from './verdict.ts';

const ALLURE = path.join(REPO_ROOT, 'node_modules', 'allure-commandline', 'dist', 'bin', 'allure');
/** A single-file report of a lab run must open from disk and stay small enough to mail. */
export const SINGLE_FILE_BUDGET_BYTES = 25 * 1024 * 1024;

export interface ReportOptions {
  /** Results folders (one per shard or run); merged. */
  inputs: string[];
  /** The HTML report folder; its history/ is carried into the new report. */
  out: string;
  /** Also write a single-file report here (index.html), or skip when absent. */
  singleFileDir?: string;
  verdictFile: string;
  staging: string;
  /** Signs the report (report.signingKey) and is the key every results folder must be signed by. */
  signingKey?: string;
  report?: Config['report'];
  /** The outputs to write into <out>/outputs/ (--output); default report.outputs, else all of them. */
  outputs?: readonly OutputKind[];
  /** A verdict.json to compare with (--baseline); default the previous report's verdict, else the output folder's. */
  baseline?: string;
  /** The Allure layout (--allure); default report.allure, else grouped. */
  allure?: AllureLayout;
}

export interface ReportResult {
  verdict: Verdict;
  evidence: EvidenceBundle;
  reportDir: string;
  singleFile?: { file: string; bytes: number };
  historyCarried: boolean;
  /** How the Allure report was laid out, and how many results it holds (the fleets' matrices not counted). */
  allure: { layout: AllureLayout; results: number };
  /** The outputs written (relative to the report folder) and the job summary's Markdown. */
  outputs: WrittenOutputs;
  /** The baseline compared with, or why none was. */
  baseline: { file?: string; runId?: string; skipped?: string };
}

function allure(args: string[]): void {
  if (!fs.existsSync(ALLURE)) throw new ProviderError(`allure-commandline is not installed (${ALLURE}): run npm ci`);
  const r = spawnSync(ALLURE, args, { encoding: 'utf8' });
  if (r.error) throw new ProviderError(`could not run allure: ${r.error.message}; it needs Java (apt-get install -y default-jre-headless)`);
  if (r.status !== 0) throw new ProviderError(`allure ${args[0]} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-1000)}`);
}

/** The typed results of every folder, each record with the folder its evidence is in. */
function readAll(inputs: string[]): { records: CheckRecord[]; dirOf: Map<CheckRecord, string>; problems: string[] } {
  const records: CheckRecord[] = [];
  const dirOf = new Map<CheckRecord, string>();
  const problems: string[] = [];
  for (const dir of inputs) {
    const read = readChecks(dir);
    problems.push(...read.problems);
    for (const r of read.records) {
      records.push(r);
      dirOf.set(r, dir);
    }
  }
  return { records, dirOf, problems };
}

export async function buildReport(o: ReportOptions): Promise<ReportResult> {
  // Only folders driftless made are replaced: refused first, before anything is read or written.
  for (const [dir, what] of [[o.out, '--out: the report folder'], ...(o.singleFileDir ? [[o.singleFileDir, 'the single-file report folder']] : [])] as const) {
    const why = whyNotOwned(dir, what);
    if (why) throw new UsageError(why);
  }
  // The baseline, read before anything is written (the report folder and the verdict are replaced below).
  const candidates =
    o.baseline !== undefined
      ? [readBaseline(o.baseline, true)]
      : [path.join(o.out, 'driftless-verdict.json'), o.verdictFile].filter((f) => fs.existsSync(f)).map((f) => readBaseline(f, false));
  // Every folder named must be there, be one run's, and have finished: what is not is named.
  const merged = mergeRecords(o.inputs.map(readRunRecord), true, { maxRunSpreadHours: o.report?.maxRunSpreadHours ?? 24 });
  if (merged.refused.length) throw new RunContextError(`refusing to merge these results:\n${merged.refused.join('\n')}`);
  const inputs = o.inputs.filter((d) => fs.existsSync(d));
  if (inputs.length === 0) throw new RunContextError(`no results folder exists of ${o.inputs.join(', ')}: run \`driftless run\` first`);
  const sealed = checkSealedInputs(inputs, o.signingKey);
  // The team's own controls, as the runs declared them: the matrix, categories and outputs name them.
  const known = new Set(controlsOf('custom').map((c) => c.id));
  const declared = merged.runs.flatMap((r) => r.customControls ?? []).filter((c) => !known.has(c.id) && !isControlId(c.id) && known.add(c.id));
  registerControls(declared);

  // The verdict, from the typed results and the run records alone.
  const { records, dirOf, problems } = readAll(inputs);
  const signature = o.signingKey ? { signed: true, keyFingerprint: keyFingerprint(publicKeyOf(o.signingKey)) } : { signed: false };
  const { owed, byCheck } = answersOf(records, merged);
  const { baseline, skipped } = pickBaseline(
    candidates,
    merged.runs.map((r) => r.runId),
    o.baseline !== undefined,
  );
  const verdict: Verdict = {
    ...verdictOf(records, merged, problems),
    evidence: evidenceState(signature),
    ...(baseline ? { changes: changesOf(baseline, owed, byCheck) } : {}),
  };

  // Then the renderers: Allure results in staging, from the same records.
  // The staging folder is driftless's own scratch space (a fixed name under the output folder).
  fs.rmSync(o.staging, { recursive: true, force: true });
  fs.mkdirSync(o.staging, { recursive: true });
  const history = path.join(o.out, 'history');
  const historyCarried = fs.existsSync(history);
  if (historyCarried) fs.cpSync(history, path.join(o.staging, 'history'), { recursive: true });
  const layout = o.allure ?? o.report?.allure ?? 'grouped';
  const allureResults = await writeAllureResults(o.staging, {
    layout,
    checks: owed.map((check) => {
      const record = byCheck.get(check.id);
      return { check, ...(record ? { record, dir: dirOf.get(record)! } : {}) };
    }),
    report: o.report,
    ...(verdict.changes ? { fresh: { checks: newIds(verdict.changes), since: `run ${verdict.changes.baseline.runId}` } } : {}),
  });
  writeMatrixResults(o.staging, matrices(owed, byCheck, verdict), verdict);
  writeAllureMetadata(o.staging, merged, verdict, sealed);

  ensureOwnedParent(path.dirname(o.out));
  allure(['generate', '--clean', '-o', o.out, o.staging]);
  fs.writeFileSync(path.join(o.out, OWNED_MARKER), 'made by driftless report\n');
  let singleFile: ReportResult['singleFile'];
  if (o.singleFileDir) {
    // The auditor's file is this run's: it keeps the trend, not every result's history (that grows
    // by a line per result each night and would push a 1,000-host file past its budget within
    // weeks); the report folder keeps both, and carries them to the next report.
    fs.rmSync(path.join(o.staging, 'history', 'history.json'), { force: true });
    allure(['generate', '--clean', '--single-file', '-o', o.singleFileDir, o.staging]);
    fs.writeFileSync(path.join(o.singleFileDir, OWNED_MARKER), 'made by driftless report\n');
    const file = path.join(o.singleFileDir, 'index.html');
    singleFile = { file, bytes: fs.statSync(file).size };
  }
  // The outputs, renderers of the same records, before the bundle so that it lists them.
  const outputsDir = path.join(o.out, OUTPUTS_DIR);
  const outputs = writeOutputs(o.out, o.outputs ?? o.report?.outputs ?? OUTPUT_KINDS, {
    owed,
    byCheck,
    verdict,
    runs: merged.runs,
    evidencePath: (r, e) =>
      path
        .relative(outputsDir, path.join(dirOf.get(r)!, e.file))
        .split(path.sep)
        .join('/'),
  });
  ensureOwnedParent(path.dirname(o.verdictFile));
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
  return {
    verdict,
    reportDir: o.out,
    ...(singleFile ? { singleFile } : {}),
    historyCarried,
    allure: { layout, results: allureResults },
    evidence,
    outputs,
    baseline: baseline ? { file: baseline.file, runId: baseline.runId } : skipped ? { skipped } : {},
  };
}

/**
 * The first readable candidate that is another run's verdict: the previous report's (or the output
 * folder's) verdict of these very runs is no baseline. An explicit --baseline is always used.
 */
function pickBaseline(
  candidates: Array<{ baseline?: BaselineVerdict; skipped?: string }>,
  runIds: string[],
  explicit: boolean,
): { baseline?: BaselineVerdict; skipped?: string } {
  const why: string[] = [];
  for (const c of candidates) {
    if (!c.baseline) why.push(c.skipped!);
    else if (!explicit && sharesRun(c.baseline, runIds))
      why.push(`the previous verdict ${c.baseline.file} is of these runs (${c.baseline.runId}): no comparison`);
    else return { baseline: c.baseline };
  }
  return why.length ? { skipped: why.join('; ') } : {};
}

/** categories.json, environment.properties (the verdict first) and executor.json (the title carries the verdict). */
function writeAllureMetadata(dir: string, merged: MergedRecords, verdict: Verdict, sealed: Array<{ dir: string; state: string }>): void {
  fs.writeFileSync(path.join(dir, 'categories.json'), JSON.stringify(allureCategories(), null, 2));
  const runs = merged.runs;
  const first = runs[0];
  const env: Record<string, string> = {
    verdict: `${verdict.verdict} (exit ${verdict.exitCode})`,
    ...Object.fromEntries(
      verdict.coverage.fleets.map((f) => [
        `verdict.fleet.${f.fleet}`,
        `${f.verdict}: ${f.coverage.passed}/${f.coverage.owed} passed, ${f.coverage.failed} failed, ${f.coverage.broken} broken, ${f.coverage.waived} waived`,
      ]),
    ),
    ...(verdict.incomplete.length ? { 'verdict.not-fully-checked': verdict.incomplete.slice(0, 3).join(' | ') } : {}),
    ...(verdict.changes
      ? {
          'since.baseline': `run ${verdict.changes.baseline.runId}: ${verdict.changes.newViolations.length} new violations, ${verdict.changes.fixed.length} fixed, ${verdict.changes.stillFailing.length} still failing, ${verdict.changes.newlyBroken.length} newly broken`,
        }
      : {}),
    evidence: verdict.evidence?.statement ?? 'UNSIGNED',
    'evidence.results': sealed.map((x) => `${path.basename(x.dir)}: ${x.state}`).join('; '),
    'run.id': verdict.runId,
    seed: String(verdict.seed ?? ''),
    ...(first
      ? {
          'started.at': first.startedAt,
          'harness.version': first.harnessVersion,
          'config.file': first.config.file,
          'config.sha256': first.config.sha256,
          'plan.sha256': runs.map((r) => r.planHash).join(' '),
          'plan.checks': String(runs.reduce((n, r) => n + r.plan.checks.length, 0)),
          fleets: first.fleets.map((f) => `${f.name} (${f.provider}, ${f.hosts} hosts)`).join('; '),
          ...Object.fromEntries(Object.entries(first.release).map(([svc, r]) => [`release.${svc}`, [r.digest, r.ami].filter(Boolean).join(' ')])),
        }
      : {}),
    ...(runs.some((r) => r.shard) ? { shards: runs.map((r) => `${r.runId}: ${r.shard?.total ?? 1}`).join('; ') } : {}),
  };
  fs.writeFileSync(
    path.join(dir, 'environment.properties'),
    Object.entries(env)
      .map(([k, v]) => `${k} = ${v.replace(/\n/g, ' ')}`)
      .join('\n') + '\n',
  );
  const unsigned = verdict.evidence?.signed ? '' : ' — UNSIGNED';
  const ci = process.env.GITHUB_RUN_ID
    ? { buildUrl: `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}` }
    : {};
  fs.writeFileSync(
    path.join(dir, 'executor.json'),
    JSON.stringify(
      {
        name: `driftless ${harnessVersion()}`,
        type: 'driftless',
        buildName: `run ${verdict.runId} (seed ${verdict.seed ?? 'none'})`,
        buildOrder: first ? Date.parse(first.startedAt) : Date.now(),
        // Answers first: the summary widget's title carries the verdict.
        reportName: `driftless: ${verdict.verdict.toUpperCase()} (exit ${verdict.exitCode})${unsigned} — ${verdict.coverage.fleets.map((f) => `${f.fleet}: ${f.verdict}`).join(' · ')}`,
        ...ci,
      },
      null,
      2,
    ),
  );
}

/**
 * Every results folder must still match the bundle its run sealed it with (a result edited after
 * its run would change the verdict recomputed here). With a signing key, each must also be signed
 * by that key: an unsealed, unsigned or otherwise signed folder is refused, named.
 */
function checkSealedInputs(inputs: string[], signingKey: string | undefined): Array<{ dir: string; state: string }> {
  const trusted = signingKey ? publicKeyOf(signingKey) : undefined;
  const problems: string[] = [];
  const out = inputs.map((dir) => {
    if (!fs.existsSync(path.join(dir, EVIDENCE_FILE))) {
      if (trusted)
        problems.push(`${dir}: no ${EVIDENCE_FILE}: not sealed by its run, so nothing shows its results were not edited (a signing key is configured)`);
      return { dir, state: `no ${EVIDENCE_FILE}: not sealed by its run` };
    }
    const v = verifyEvidence(dir, trusted);
    const edits = [...v.changed.map((f) => `changed ${f}`), ...v.removed.map((f) => `removed ${f}`), ...v.added.map((f) => `added ${f}`)];
    const bad = edits.length > 0 || (v.signed && !v.signatureValid) || (!!trusted && (!v.signed || !v.trustedKey));
    if (bad) problems.push(`${dir}: ${[...edits.slice(0, 10), ...(edits.length > 10 ? [`… ${edits.length - 10} more`] : []), ...v.problems].join('; ')}`);
    return { dir, state: !v.signed ? 'sealed, unsigned' : trusted ? 'signature verified with the report key' : 'signature valid (no key to trust given)' };
  });
  if (problems.length) {
    throw new RunContextError(
      `refusing to report on results that are not proven to be their run's (driftless verify names every file):\n${problems.join('\n')}`,
    );
  }
  return out;
}
