/**
 * The run's verdict from the Allure results: which checks passed, failed (violations) or were
 * broken (the harness could not tell), and the exit code a CI gate acts on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, type ExitCodeValue } from '../probes/errors.ts';

export interface AllureResult {
  uuid: string;
  name: string;
  fullName?: string;
  status: 'passed' | 'failed' | 'broken' | 'skipped' | 'unknown';
  statusDetails?: { message?: string; trace?: string };
  labels: Array<{ name: string; value: string }>;
  parameters?: Array<{ name: string; value: string }>;
  start?: number;
  stop?: number;
}

export function readResults(dir: string): AllureResult[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as AllureResult);
}

export const label = (r: AllureResult, name: string) => r.labels.find((l) => l.name === name)?.value;
export const param = (r: AllureResult, name: string) => r.parameters?.find((p) => p.name === name)?.value;

/**
 * allure-playwright reports any thrown error as failed; a probe error must be broken. Rewrites
 * those results in place (they carry the label outcome=probe-error); returns how many.
 */
export function markProbeErrorsBroken(dir: string): number {
  let n = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('-result.json'))) {
    const file = path.join(dir, f);
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as AllureResult;
    const probe = label(r, 'outcome') === 'probe-error' || /^(Error: )?PROBE ERROR/.test(r.statusDetails?.message ?? '');
    if (probe && r.status !== 'broken') {
      r.status = 'broken';
      fs.writeFileSync(file, JSON.stringify(r));
      n++;
    }
  }
  return n;
}

export interface Verdict {
  verdict: 'compliant' | 'violations' | 'harness-failure';
  counts: { passed: number; failed: number; broken: number; skipped: number };
  exitCode: ExitCodeValue;
}

export function verdictOf(results: AllureResult[]): Verdict {
  const counts = { passed: 0, failed: 0, broken: 0, skipped: 0 };
  for (const r of results) if (r.status in counts) counts[r.status as keyof typeof counts]++;
  if (counts.failed > 0) return { verdict: 'violations', counts, exitCode: ExitCode.Violations };
  if (counts.broken > 0 || results.length === 0) return { verdict: 'harness-failure', counts, exitCode: ExitCode.HarnessFailure };
  return { verdict: 'compliant', counts, exitCode: ExitCode.Compliant };
}
