/**
 * The run's verdict from the Allure results: which checks passed, failed (violations) or were
 * broken (the harness could not tell), per category, which hosts are tainted or unchecked, and
 * the exit code a CI gate acts on.
 */
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fs from 'node:fs';
import path from 'node:path';
import { CATEGORY_NAMES, type Category, isViolationKind, OTHER_VIOLATION, PROBE_ERROR, VIOLATION_CATEGORY } from '../core/categories.ts';
import { InternalError, ExitCode, type ExitCodeValue } from '../core/errors.ts';
import { schemaFile } from '../core/paths.ts';

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

export function categoryOf(r: AllureResult): Category | undefined {
  if (r.status === 'broken' || (r.status === 'failed' && isProbeError(r))) return PROBE_ERROR;
  if (r.status !== 'failed') return undefined;
  for (const v of labels(r, 'violation')) if (isViolationKind(v)) return VIOLATION_CATEGORY[v];
  return OTHER_VIOLATION;
}

/**
 * allure-playwright reports every thrown error as failed: probe errors become broken here, and
 * each violation's message gets its `[Category]` prefix for categories.json. Idempotent; returns
 * how many results were rewritten.
 */
export function normalizeResults(dir: string): number {
  let n = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const f of fs.readdirSync(dir).filter(isResult)) {
    const file = path.join(dir, f);
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as AllureResult;
    const before = JSON.stringify(r);
    const cat = categoryOf(r);
    if (cat === PROBE_ERROR) r.status = 'broken';
    else if (cat) {
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

export interface Verdict {
  verdict: 'compliant' | 'violations' | 'harness-failure';
  exitCode: ExitCodeValue;
  runId: string;
  seed: number | null;
  generatedAt: string;
  config?: { file: string; sha256: string };
  counts: { passed: number; failed: number; broken: number; skipped: number };
  categories: Record<string, number>;
  taintedHosts: string[];
  uncheckedHosts: Array<{ host: string; fleet?: string; reason: string }>;
  violations: Array<{ category: string; control: string; check: string; host?: string; fleet?: string; message: string }>;
}

const firstLine = (s: string | undefined) => (s ?? '').split('\n')[0]!.slice(0, 500);

export function verdictOf(results: AllureResult[], meta: { runId: string; seed?: number; config?: { file: string; sha256: string } }): Verdict {
  const counts = { passed: 0, failed: 0, broken: 0, skipped: 0 };
  const categories: Record<string, number> = Object.fromEntries(CATEGORY_NAMES.map((c) => [c, 0]));
  const tainted = new Set<string>();
  const unchecked = new Map<string, { host: string; fleet?: string; reason: string }>();
  const violations: Verdict['violations'] = [];
  for (const r of results) {
    const cat = categoryOf(r);
    const status = cat === PROBE_ERROR ? 'broken' : r.status;
    if (status in counts) counts[status as keyof typeof counts]++;
    if (!cat) continue;
    categories[cat] = (categories[cat] ?? 0) + 1;
    const host = param(r, 'host');
    const fleet = param(r, 'fleet');
    const message = firstLine(r.statusDetails?.message);
    if (cat === PROBE_ERROR) {
      const key = `${fleet}/${host ?? '(fleet)'}`;
      if (!unchecked.has(key))
        unchecked.set(key, {
          host: host ?? `(fleet ${fleet})`,
          ...(fleet ? { fleet } : {}),
          reason: message.replace(/^(\w*Error: )?PROBE ERROR \(the harness could not tell\): /, ''),
        });
      continue;
    }
    if (host && labels(r, 'violation').includes('tainted')) tainted.add(host);
    violations.push({ category: cat, control: label(r, 'control') ?? '-', check: r.name, ...(host ? { host } : {}), ...(fleet ? { fleet } : {}), message });
  }
  const verdict: Verdict['verdict'] = counts.failed > 0 ? 'violations' : counts.broken > 0 || results.length === 0 ? 'harness-failure' : 'compliant';
  const exitCode = verdict === 'violations' ? ExitCode.Violations : verdict === 'harness-failure' ? ExitCode.HarnessFailure : ExitCode.Compliant;
  return {
    verdict,
    exitCode,
    runId: meta.runId,
    seed: meta.seed ?? null,
    generatedAt: new Date().toISOString(),
    ...(meta.config ? { config: meta.config } : {}),
    counts,
    categories,
    taintedHosts: [...tainted].sort(),
    uncheckedHosts: [...unchecked.values()],
    violations,
  };
}

const SCHEMA = schemaFile('verdict');

let compiled: ReturnType<InstanceType<typeof Ajv2020Module.default>['compile']> | undefined;

export function validateVerdict(v: unknown): string[] {
  if (!compiled) {
    // Both packages are CommonJS with a `default` property under NodeNext.
    const ajv = new Ajv2020Module.default({ allErrors: true, strict: true });
    addFormatsModule.default(ajv);
    compiled = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')));
  }
  const validate = compiled;
  return validate(v) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}`);
}

export function writeVerdict(file: string, v: Verdict): void {
  const problems = validateVerdict(v);
  if (problems.length) throw new InternalError(`internal: verdict does not match schemas/verdict.schema.json: ${problems.join('; ')}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(v, null, 2) + '\n');
}
