/**
 * `driftless plan-check <plan.json>... [--config file]`: the pre-release gate. Runs the plan
 * suite through the engine (engine/run.ts) like `driftless run --suite plan`, with the plan files
 * of the command line and either the config's plan policy or the built-in defaults (no fleet
 * needed), and exits with the verdict's code.
 */
import path from 'node:path';
import { builtInConfig, loadConfig } from '../config/load.ts';
import { UsageError } from '../core/errors.ts';
import { RUN_ID_PATTERN } from '../core/run.ts';
import { type RunObserver, runEngine } from '../engine/run.ts';
import { findingLines, verdictLines } from '../reports/terminal.ts';
import { type Parsed, str } from './parsed.ts';

const say = (s: string) => process.stdout.write(s + '\n');

const observer: RunObserver = {
  started: ({ runId, configFile }) => say(`driftless plan-check ${runId} with ${configFile}`),
  snapshot: () => {},
  planned: ({ plan }) => {
    const byFile = new Map<string, number>();
    for (const c of plan.checks) byFile.set(c.fleet, (byFile.get(c.fleet) ?? 0) + 1);
    for (const [file, n] of byFile) say(`  ${file}: ${n} checks owed`);
  },
  phase: () => {},
  recorded: ({ suite, error }) => {
    if (error) say(`  ${suite}: ${error}`);
  },
};

export async function planCheckCommand(p: Parsed): Promise<number> {
  const runId = str(p, 'run-id');
  if (runId !== undefined && !RUN_ID_PATTERN.test(runId)) throw new UsageError(`--run-id ${runId}: use 1 to 100 letters, digits, '.', '_' or '-'`);
  const configFile = str(p, 'config');
  // The plan files are the command line's, relative to the working directory, with or without a config.
  const config = configFile !== undefined ? loadConfig(configFile, { planFiles: p.positionals }) : builtInConfig(p.positionals);
  const out = await runEngine(
    {
      config,
      suites: ['plan'],
      shard: null,
      ...(runId !== undefined ? { runId } : {}),
      ...(str(p, 'results-dir') !== undefined ? { resultsDir: str(p, 'results-dir') } : {}),
    },
    observer,
  );
  say('');
  const findings = findingLines(out.records, out.resultsDir);
  if (findings.length) say(`findings:\n${findings.join('\n')}\n`);
  // What does not apply, and why, once per plan and reason: "no changes" for a plan that says it changes nothing.
  const reasons = new Map<string, string[]>();
  for (const n of out.verdict.notApplicable) {
    const key = `${n.fleet}: ${n.reason}`;
    reasons.set(key, [...(reasons.get(key) ?? []), n.control ?? n.suite]);
  }
  for (const [line, controls] of reasons) say(`  ${line} (${controls.join(', ')} not applicable)`);
  for (const l of verdictLines(out.verdict, { verdictFile: out.verdictFile })) say(l);
  const rel = path.relative(process.cwd(), out.resultsDir) || '.';
  say(
    `  results: ${rel}; evidence: ${path.join(rel, 'driftless-evidence.json')} (${out.evidence.signature ? `signed by ${out.evidence.signature.keyFingerprint}` : 'UNSIGNED'})`,
  );
  return out.verdict.exitCode;
}
