/**
 * `driftless report [--results dir]... [--out dir] [--single-file] [--config file | --signing-key file]`:
 * the Allure report, verdict.json, and the report's signed evidence bundle.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { reportsDir } from '../core/paths.ts';
import { loadConfig } from '../config/load.ts';
import { ConfigInvalidError } from '../core/errors.ts';
import { EVIDENCE_FILE } from '../reports/evidence.ts';
import { buildReport, SINGLE_FILE_BUDGET_BYTES } from '../reports/report.ts';

export async function reportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      results: { type: 'string', multiple: true },
      out: { type: 'string' },
      'single-file': { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      'signing-key': { type: 'string' },
    },
  });
  const signingKey = values['signing-key'] ? path.resolve(values['signing-key']) : signingKeyOf(values.config);
  const out = path.resolve(values.out ?? path.join(reportsDir(), 'allure-report'));
  const r = buildReport({
    inputs: (values.results ?? [path.join(reportsDir(), 'allure-results')]).map((d) => path.resolve(d)),
    out,
    ...(values['single-file'] ? { singleFileDir: path.join(path.dirname(out), 'allure-single') } : {}),
    verdictFile: path.join(reportsDir(), 'verdict.json'),
    staging: path.join(reportsDir(), 'run', 'report-staging'),
    ...(signingKey ? { signingKey } : {}),
  });
  const v = r.verdict;
  const log = (s: string) => process.stdout.write(s + '\n');
  log(
    `report: ${r.reportDir}/index.html (serve it: npx allure open ${path.relative(process.cwd(), r.reportDir) || '.'})${r.historyCarried ? '; history carried from the previous report' : ''}`,
  );
  if (r.singleFile) {
    const mb = (r.singleFile.bytes / 1024 / 1024).toFixed(1);
    log(`single file for auditors: ${r.singleFile.file} (${mb} MB; budget ${SINGLE_FILE_BUDGET_BYTES / 1024 / 1024} MB; opens from disk)`);
  }
  log(
    `evidence: ${path.join(r.reportDir, EVIDENCE_FILE)} (${r.evidence.files.length} files, ${r.evidence.signature ? `signed by ${r.evidence.signature.keyFingerprint}; check with driftless verify ${path.relative(process.cwd(), r.reportDir) || '.'}` : 'UNSIGNED: set report.signingKey'})`,
  );
  log(`verdict: ${path.join(reportsDir(), 'verdict.json')}: ${v.verdict} (exit ${v.exitCode})`);
  for (const f of v.coverage.fleets) {
    const c = f.coverage;
    log(
      `  fleet ${f.fleet}: ${f.verdict} — ${c.owed} owed: ${c.passed} passed, ${c.failed} failed, ${c.broken} broken, ${c.waived} waived, ${c.notApplicable} not applicable, ${c.skipped} skipped, ${c.missing} not run`,
    );
  }
  for (const why of v.incomplete) log(`  not fully checked: ${why}`);
  for (const [cat, n] of Object.entries(v.categories)) if (n) log(`  ${cat}: ${n}`);
  if (v.taintedHosts.length) log(`  tainted hosts (changed in place during the audit: replace them): ${v.taintedHosts.join(', ')}`);
  if (v.uncheckedHosts.length) log(`  hosts that could not be checked: ${v.uncheckedHosts.map((h) => h.host).join(', ')}`);
  return v.exitCode;
}

/**
 * The config's report.signingKey. A config named with --config must load (exit 2 otherwise); the
 * default config is only consulted if it loads: a report job without the lab's keys is unsigned.
 */
function signingKeyOf(file: string | undefined): string | undefined {
  try {
    return loadConfig(file).report?.signingKey;
  } catch (err) {
    if (file || !(err instanceof ConfigInvalidError)) throw err;
    return undefined;
  }
}
