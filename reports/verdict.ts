/**
 * The verdict: the run plan against the results. Every check the plan owes is answered by its
 * result, or it is missing; compliant means every owed check ran and passed (or was proven not to
 * apply, with the reason). A violation anywhere is exit 1; otherwise anything not checked (broken,
 * missing, skipped, a shard or a runner that did not finish) is exit 3. Coverage per fleet and
 * host says what was and was not checked at one glance.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CATEGORY_NAMES, PROBE_ERROR } from '../core/categories.ts';
import { ExitCode, type ExitCodeValue, InternalError } from '../core/errors.ts';
import type { PlannedCheck } from '../core/plan.ts';
import { schemaProblems } from '../core/schema-check.ts';
import { type AllureResult, categoryOf, isNotApplicable, isWaived, label, labels } from './results.ts';
import type { MergedRecords } from './run-record.ts';

export { type AllureResult, label, labels, normalizeResults, param, readResults } from './results.ts';

export type Answer = 'compliant' | 'violations' | 'not-fully-checked' | 'not-applicable';

export interface Coverage {
  owed: number;
  passed: number;
  failed: number;
  broken: number;
  /** Covered by a waiver that holds: shown as waived, never as passed, and not blocking. */
  waived: number;
  notApplicable: number;
  skipped: number;
  missing: number;
}

export interface Verdict {
  verdict: Exclude<Answer, 'not-applicable'>;
  exitCode: ExitCodeValue;
  runId: string;
  seed: number | null;
  generatedAt: string;
  config?: { file: string; sha256: string };
  planHash?: string;
  /** The runs merged into this verdict (sharded audits and a chaos run, say). */
  runs: Array<{ runId: string; seed: number; seedFrom: 'cli' | 'config' | 'random'; planHash: string; suites: string[]; shards: number }>;
  /** The kill budget of each chaos run (safety.maxKills, across all fleets) and the kills spent from it. */
  kills: Array<{ runId: string; maxKills: number; spent: Array<{ fleet: string; host: string; instanceId: string; at: string }>; dryRun: boolean }>;
  /** Why the results do not cover the run, whatever the checks say. */
  incomplete: string[];
  counts: { passed: number; failed: number; broken: number; waived: number; skipped: number; notApplicable: number; missing: number };
  coverage: {
    total: Coverage;
    fleets: Array<{ fleet: string; verdict: Answer; coverage: Coverage; hosts: Array<{ host: string; verdict: Answer; coverage: Coverage }> }>;
  };
  /** Controls the plan left out, and checks a judgement proved not to apply, each with the reason. */
  notApplicable: Array<{ fleet: string; host?: string; suite: string; control?: string; reason: string }>;
  /** Checks a waiver covers (its reason, approver and expiry in the message): not a pass, not blocking. */
  waived: Array<{ check: string; fleet: string; host?: string; control: string; waiver: string }>;
  /** Owed checks with no result, or skipped: never a pass. */
  notRun: Array<{ check: string; fleet: string; host?: string; control: string; reason: string }>;
  categories: Record<string, number>;
  taintedHosts: string[];
  uncheckedHosts: Array<{ host: string; fleet?: string; reason: string }>;
  violations: Array<{ category: string; control: string; check: string; host?: string; fleet?: string; message: string }>;
}

export type Outcome = 'passed' | 'failed' | 'broken' | 'waived' | 'notApplicable' | 'skipped' | 'missing';

const firstLine = (s: string | undefined) => (s ?? '').split('\n')[0]!.slice(0, 500);
const PROBE_PREFIX = /^(\w*Error: )?(PROBE ERROR \(the harness could not tell\): |HARNESS ERROR \(.*?\): )/;
const empty = (): Coverage => ({ owed: 0, passed: 0, failed: 0, broken: 0, waived: 0, notApplicable: 0, skipped: 0, missing: 0 });

function answer(c: Coverage): Answer {
  if (c.failed) return 'violations';
  if (c.broken || c.skipped || c.missing) return 'not-fully-checked';
  return c.owed === 0 ? 'not-applicable' : 'compliant';
}

/** The worst of several results of one check (a retried test leaves more than one). */
export function outcomeOf(rs: AllureResult[]): { outcome: Outcome; result?: AllureResult } {
  const order: Outcome[] = ['failed', 'broken', 'skipped', 'waived', 'notApplicable', 'passed'];
  let best: { outcome: Outcome; result?: AllureResult } = { outcome: 'missing' };
  for (const r of rs) {
    const cat = categoryOf(r);
    const o: Outcome =
      cat === PROBE_ERROR
        ? 'broken'
        : r.status === 'failed'
          ? 'failed'
          : isNotApplicable(r)
            ? 'notApplicable'
            : isWaived(r)
              ? 'waived'
              : r.status === 'skipped'
                ? 'skipped'
                : 'passed';
    if (best.outcome === 'missing' || order.indexOf(o) < order.indexOf(best.outcome)) best = { outcome: o, result: r };
  }
  return best;
}

export function verdictOf(results: AllureResult[], merged: MergedRecords): Verdict {
  const runs = merged.runs;
  const checks = new Map<string, PlannedCheck>();
  for (const run of runs) for (const c of run.plan.checks) if (merged.owed.get(c.id) === run.runId) checks.set(c.id, c);
  const owed = [...checks.values()];
  const incomplete = [...merged.incomplete, ...merged.refused];
  if (runs.length === 0) incomplete.push('no run record in any results folder: nothing says what was owed');
  else if (owed.length === 0) incomplete.push('the run owed no check at all: nothing was checked (see notApplicable for why)');
  for (const run of runs)
    if (run.dryRun) incomplete.push(`run ${run.runId}: chaos.dryRun: nothing was killed, so the chaos checks did not run; a dry run is never compliant`);

  const byCheck = new Map<string, AllureResult[]>();
  for (const r of results) {
    const id = label(r, 'check');
    if (!id || !merged.owed.has(id) || label(r, 'run') !== merged.owed.get(id)) {
      incomplete.push(`result "${r.name}" (run ${label(r, 'run') ?? 'unknown'}) answers no check the merged runs owe: results of different runs are mixed in`);
      continue;
    }
    byCheck.set(id, [...(byCheck.get(id) ?? []), r]);
  }

  const categories: Record<string, number> = Object.fromEntries(CATEGORY_NAMES.map((c) => [c, 0]));
  const total = empty();
  const fleets = new Map<string, { coverage: Coverage; hosts: Map<string, Coverage> }>();
  const fleetOf = (name: string) => {
    if (!fleets.has(name)) fleets.set(name, { coverage: empty(), hosts: new Map() });
    return fleets.get(name)!;
  };
  for (const run of runs) for (const f of run.fleets) fleetOf(f.name);
  const tainted = new Set<string>();
  const unchecked = new Map<string, Verdict['uncheckedHosts'][number]>();
  const violations: Verdict['violations'] = [];
  const notRun: Verdict['notRun'] = [];
  const waived: Verdict['waived'] = [];
  const notApplicable: Verdict['notApplicable'] = [];
  const seenNa = new Set<string>();
  for (const n of runs.flatMap((r) => r.plan.notApplicable)) {
    const key = JSON.stringify(n);
    if (!seenNa.has(key)) notApplicable.push({ ...n });
    seenNa.add(key);
  }

  for (const check of owed) {
    const { outcome, result } = outcomeOf(byCheck.get(check.id) ?? []);
    const f = fleetOf(check.fleet);
    const counters = [total, f.coverage, ...(check.host ? [f.hosts.get(check.host) ?? f.hosts.set(check.host, empty()).get(check.host)!] : [])];
    for (const c of counters) {
      c.owed++;
      c[outcome]++;
    }
    const message = firstLine(result?.statusDetails?.message);
    const where = { fleet: check.fleet, ...(check.host ? { host: check.host } : {}) };
    if (outcome === 'missing') notRun.push({ check: check.id, ...where, control: check.control, reason: 'not run: no result answers this owed check' });
    else if (outcome === 'skipped') notRun.push({ check: check.id, ...where, control: check.control, reason: `skipped: ${message || 'no reason given'}` });
    else if (outcome === 'waived') waived.push({ check: check.id, ...where, control: check.control, waiver: message.replace(/^WAIVED: /, '') });
    else if (outcome === 'notApplicable') notApplicable.push({ ...where, suite: check.suite, control: check.control, reason: message });
    else if (outcome === 'broken') {
      categories[PROBE_ERROR]!++;
      if (check.host && label(result!, 'tainted') === 'unknown') tainted.add(check.host);
      const key = `${check.fleet}/${check.host ?? '(fleet)'}`;
      if (!unchecked.has(key))
        unchecked.set(key, { host: check.host ?? `(fleet ${check.fleet})`, fleet: check.fleet, reason: message.replace(PROBE_PREFIX, '') });
    } else if (outcome === 'failed') {
      const cat = categoryOf(result!)!;
      categories[cat] = (categories[cat] ?? 0) + 1;
      if (check.host && labels(result!, 'violation').includes('tainted')) tainted.add(check.host);
      violations.push({ category: cat, control: check.control, check: result!.name, ...where, message });
    }
  }

  const overall = answer(total);
  const verdict: Verdict['verdict'] =
    overall === 'violations' ? 'violations' : overall === 'compliant' && incomplete.length === 0 ? 'compliant' : 'not-fully-checked';
  const exitCode = verdict === 'violations' ? ExitCode.Violations : verdict === 'compliant' ? ExitCode.Compliant : ExitCode.HarnessFailure;
  const skippedResults = owed.reduce(
    (n, c) => n + ((byCheck.get(c.id) ?? []).some((r) => r.status === 'skipped' && !isNotApplicable(r) && !isWaived(r)) ? 1 : 0),
    0,
  );
  return {
    verdict,
    exitCode,
    runId: runs.map((r) => r.runId).join(' + ') || 'unknown',
    seed: runs.find((r) => r.plan.suites.includes('chaos'))?.seed ?? runs[0]?.seed ?? null,
    generatedAt: new Date().toISOString(),
    ...(runs[0] ? { config: runs[0].config } : {}),
    ...(runs.length === 1 ? { planHash: runs[0]!.planHash } : {}),
    runs: runs.map((r) => ({ runId: r.runId, seed: r.seed, seedFrom: r.seedFrom, planHash: r.planHash, suites: r.plan.suites, shards: r.shard?.total ?? 1 })),
    kills: runs.flatMap((r) => {
      const k = r.finished?.kills;
      return k ? [{ runId: r.runId, maxKills: k.maxKills, spent: k.wouldKill ?? k.spent, dryRun: !!k.wouldKill }] : [];
    }),
    incomplete: [...new Set(incomplete)],
    counts: {
      passed: total.passed,
      failed: total.failed,
      broken: total.broken,
      waived: total.waived,
      skipped: skippedResults,
      notApplicable: total.notApplicable,
      missing: total.missing,
    },
    coverage: {
      total,
      fleets: [...fleets.entries()].map(([fleet, f]) => ({
        fleet,
        verdict: answer(f.coverage),
        coverage: f.coverage,
        hosts: [...f.hosts.entries()].map(([host, c]) => ({ host, verdict: answer(c), coverage: c })),
      })),
    },
    notApplicable,
    waived,
    notRun,
    categories,
    taintedHosts: [...tainted].sort(),
    uncheckedHosts: [...unchecked.values()],
    violations,
  };
}

export function validateVerdict(v: unknown): string[] {
  return schemaProblems('verdict', v);
}

export function writeVerdict(file: string, v: Verdict): void {
  const problems = validateVerdict(v);
  if (problems.length) throw new InternalError(`internal: verdict does not match schemas/verdict.schema.json: ${problems.join('; ')}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Answers first: the verdict, then per fleet and per host, then the rest.
  const { verdict, exitCode, coverage, ...rest } = v;
  fs.writeFileSync(file, JSON.stringify({ verdict, exitCode, coverage, ...rest }, null, 2) + '\n');
}
