/**
 * `driftless report [--results dir]... [--out dir] [--single-file] [--config file | --signing-key file]`:
 * the verdict from the typed results of every folder, the Allure report, and its signed evidence bundle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../core/config.ts';
import { ConfigInvalidError, UsageError } from '../core/errors.ts';
import { OUTPUT } from '../core/paths.ts';
import { EVIDENCE_FILE, fileSha256 } from '../reports/evidence.ts';
import { ALLURE_LAYOUTS, type AllureLayout } from '../reports/allure-results.ts';
import { buildReport, SINGLE_FILE_BUDGET_BYTES } from '../reports/report.ts';
import { readRunRecord } from '../reports/run-record.ts';
import { parseOutputs } from '../reports/outputs.ts';
import { changeLines, verdictLines } from '../reports/terminal.ts';
import { publishOutputs } from './outputs.ts';
import { flag, type Parsed, str, strs } from './parsed.ts';

export async function reportCommand(p: Parsed): Promise<number> {
  const inputs = (strs(p, 'results') ?? [OUTPUT.results()]).map((d) => path.resolve(d));
  const config = configOf(str(p, 'config'), inputs);
  const signingKey = str(p, 'signing-key') ? path.resolve(str(p, 'signing-key')!) : config?.report?.signingKey;
  // Checked before anything is read or written: a wrong name is exit 2.
  const outputs = str(p, 'output') !== undefined ? parseOutputs(str(p, 'output')!) : undefined;
  const allure = str(p, 'allure');
  if (allure !== undefined && !(ALLURE_LAYOUTS as readonly string[]).includes(allure))
    throw new UsageError(`--allure ${allure}: one of ${ALLURE_LAYOUTS.join(', ')}`);
  const outArg = str(p, 'out');
  if (outArg !== undefined && !outArg.trim())
    throw new UsageError('--out "": an empty path names the current directory, which driftless will not empty; name a folder');
  const out = path.resolve(outArg ?? OUTPUT.report());
  const r = await buildReport({
    inputs,
    out,
    ...(flag(p, 'single-file') ? { singleFileDir: outArg ? path.join(path.dirname(out), `${path.basename(out)}-single`) : OUTPUT.singleFile() } : {}),
    verdictFile: OUTPUT.verdict(),
    staging: OUTPUT.staging(),
    ...(signingKey ? { signingKey } : {}),
    report: config?.report,
    ...(outputs ? { outputs } : {}),
    ...(str(p, 'baseline') !== undefined ? { baseline: str(p, 'baseline') } : {}),
    ...(allure ? { allure: allure as AllureLayout } : {}),
  });
  const v = r.verdict;
  const log = (s: string) => process.stdout.write(s + '\n');
  const rel = (d: string) => path.relative(process.cwd(), d) || '.';
  log(
    `report: ${rel(r.reportDir)}/index.html (serve it: npx allure open ${rel(r.reportDir)})${r.historyCarried ? '; history carried from the previous report' : ''}`,
  );
  log(
    r.allure.layout === 'grouped'
      ? `allure: ${r.allure.results} results: each check that did not pass on its own with its evidence, the passed checks of each host and suite as one (their evidence in the results folder); --allure per-check for one each`
      : `allure: ${r.allure.results} results, one per check`,
  );
  if (r.singleFile) {
    const mb = (r.singleFile.bytes / 1024 / 1024).toFixed(1);
    log(`single file for auditors: ${rel(r.singleFile.file)} (${mb} MB; budget ${SINGLE_FILE_BUDGET_BYTES / 1024 / 1024} MB; opens from disk)`);
  }
  log(
    `evidence: ${path.join(rel(r.reportDir), EVIDENCE_FILE)} (${r.evidence.files.length} files, ${r.evidence.signature ? `signed by ${r.evidence.signature.keyFingerprint}; check with driftless verify ${rel(r.reportDir)}` : 'UNSIGNED: set report.signingKey'})`,
  );
  for (const l of verdictLines(v, { verdictFile: OUTPUT.verdict() })) log(l);
  for (const l of changeLines(v, r.baseline)) log(l);
  publishOutputs(r.reportDir, r.outputs, log);
  for (const [cat, n] of Object.entries(v.categories)) if (n) log(`  ${cat}: ${n}`);
  if (v.uncheckedHosts.length) log(`  hosts that could not be checked: ${v.uncheckedHosts.map((h) => h.host).join(', ')}`);
  return v.exitCode;
}

/**
 * The config, for report.signingKey and the report's owner, tags and links: the one named with
 * --config (it must load: exit 2 otherwise); else the config the runs themselves used, as their
 * run records name it (when it is still there with the same sha256); else the default config if
 * it loads. Without a key the report is UNSIGNED, and says so in its title, verdict and environment.
 */
function configOf(file: string | undefined, inputs: string[]): Config | undefined {
  if (file) return loadConfig(file);
  const used = new Set<string>();
  for (const dir of inputs) {
    const r = readRunRecord(dir);
    if ('record' in r && fs.existsSync(r.record.config.file) && fileSha256(r.record.config.file) === r.record.config.sha256) used.add(r.record.config.file);
  }
  const candidates = used.size === 1 ? [...used] : [undefined];
  for (const c of candidates) {
    try {
      return loadConfig(c);
    } catch (err) {
      if (!(err instanceof ConfigInvalidError)) throw err;
    }
  }
  return undefined;
}
