/**
 * Allure result files as the report step reads them, and the normalisation the report needs:
 * allure-playwright calls every thrown error "failed", so a probe error, a crash (a failure that
 * names no violation: a TypeError, a fixture timeout, a hook error) and an "unknown" become
 * broken here, and each violation's message gets its `[Category]` prefix for categories.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Category, isViolationKind, OTHER_VIOLATION, PROBE_ERROR, VIOLATION_CATEGORY } from '../core/categories.ts';

export interface AllureResult {
  uuid: string;
  name: string;
  fullName?: string;
  historyId?: string;
  status: 'passed' | 'failed' | 'broken' | 'skipped' | 'unknown';
  statusDetails?: { message?: string; trace?: string };
  labels: Array<{ name: string; value: string }>;
  parameters?: Array<{ name: string; value: string }>;
  start?: number;
  stop?: number;
}

const isResult = (f: string) => f.endsWith('-result.json');

export function readResults(dir: string): AllureResult[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter(isResult)
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as AllureResult);
}

export const label = (r: AllureResult, name: string) => r.labels.find((l) => l.name === name)?.value;
export const labels = (r: AllureResult, name: string) => r.labels.filter((l) => l.name === name).map((l) => l.value);
export const param = (r: AllureResult, name: string) => r.parameters?.find((p) => p.name === name)?.value;

export const isProbeError = (r: AllureResult) => label(r, 'outcome') === 'probe-error' || /^(\w*Error: )?PROBE ERROR/.test(r.statusDetails?.message ?? '');
export const isNotApplicable = (r: AllureResult) => r.status === 'skipped' && label(r, 'outcome') === 'not-applicable';
export const isWaived = (r: AllureResult) => r.status === 'skipped' && label(r, 'outcome') === 'waived';
/** A failure that names no violation did not come from a judgement: the harness broke. */
export const isCrash = (r: AllureResult) => r.status === 'failed' && !isProbeError(r) && !labels(r, 'violation').some(isViolationKind);

export function categoryOf(r: AllureResult): Category | undefined {
  if (r.status === 'broken' || r.status === 'unknown' || (r.status === 'failed' && (isProbeError(r) || isCrash(r)))) return PROBE_ERROR;
  if (r.status !== 'failed') return undefined;
  for (const v of labels(r, 'violation')) if (isViolationKind(v)) return VIOLATION_CATEGORY[v];
  return OTHER_VIOLATION;
}

const CRASH = 'HARNESS ERROR (the check did not complete; not a finding about the host): ';

/** Idempotent; returns how many results were rewritten. */
export function normalizeResults(dir: string): number {
  let n = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const f of fs.readdirSync(dir).filter(isResult)) {
    const file = path.join(dir, f);
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as AllureResult;
    const before = JSON.stringify(r);
    const cat = categoryOf(r);
    if (cat === PROBE_ERROR) {
      if (r.status === 'failed' && isCrash(r) && !(r.statusDetails?.message ?? '').startsWith(CRASH)) {
        r.statusDetails = { ...r.statusDetails, message: CRASH + (r.statusDetails?.message ?? '(no message)') };
      }
      if (r.status === 'unknown')
        r.statusDetails = {
          ...r.statusDetails,
          message: `PROBE ERROR (the harness could not tell): the result's status is unknown${r.statusDetails?.message ? `: ${r.statusDetails.message}` : ''}`,
        };
      r.status = 'broken';
    } else if (cat) {
      const msg = r.statusDetails?.message ?? '';
      if (!msg.startsWith(`[${cat}]`)) r.statusDetails = { ...r.statusDetails, message: `[${cat}] ${msg}` };
    }
    if (JSON.stringify(r) !== before) {
      fs.writeFileSync(file, JSON.stringify(r));
      n++;
    }
  }
  return n;
}
