/**
 * The verdict: the run plan against the typed results (core/check-record.ts). Every check the plan owes is answered by its
 * result, or it is missing; compliant means every owed check ran and passed (or was proven not to
 * apply, with the reason). A violation anywhere is exit 1; otherwise anything not checked (broken,
 * missing, skipped, a shard or a runner that did not finish) is exit 3. Coverage per fleet and
 * host says what was and was not checked at one glance.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CATEGORY_NAMES, PROBE_ERROR } from '../core/categories.ts';
import { type CheckRecord, firstLine } from '../core/check-record.ts';
import { chainOf, PROVENANCE_CONTROL } from '../core/provenance.ts';
import { ExitCode, type ExitCodeValue, InternalError } from '../core/errors.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import { schemaProblems } from '../core/schema-check.ts';
import type { Changes } from './baseline.ts';
import type { MergedRecords } from './run-record.ts';

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
    /**
     * Per fleet, and per host of it; a plan file (the plan suite's fleet) has its resource
     * changes instead of hosts, each with its own answer.
     */
    fleets: Array<{
      fleet: string;
      verdict: Answer;
      coverage: Coverage;
      hosts: Array<{ host: string; verdict: Answer; coverage: Coverage }>;
      resources?: Array<{ resource: string; verdict: Answer; coverage: Coverage }>;
    }>;
  };
  /** Controls the plan left out, and checks a judgement proved not to apply, each with the reason ("no changes" for a plan that changes nothing). */
  notApplicable: Array<{ fleet: string; host?: string; resource?: string; suite: string; control?: string; reason: string }>;
  /** Checks a waiver covers (its reason, approver and expiry in the message): not a pass, not blocking. */
  waived: Array<{ check: string; fleet: string; host?: string; resource?: string; control: string; waiver: string }>;
  /** Owed checks with no result, or skipped: never a pass. */
  notRun: Array<{ check: string; fleet: string; host?: string; resource?: string; control: string; reason: string }>;
  categories: Record<string, number>;
  taintedHosts: string[];
  /** Hosts (and fleets, and a plan's resource changes: "(resource <address>)") a check of which could not tell, with the first reason. */
  uncheckedHosts: Array<{ host: string; fleet?: string; resource?: string; reason: string }>;
  /** `check` is the check's title; `id` its id in the plan (what a later run's baseline compares by). */
  violations: Array<{ id: string; category: string; control: string; check: string; host?: string; resource?: string; fleet?: string; message: string }>;
  /** Every broken check (the probe could not tell), by id: a later run's baseline tells "newly broken" from these. */
  broken: Array<{ id: string; control: string; fleet: string; host?: string; resource?: string; message: string }>;
  /** What changed since the baseline verdict (`--baseline`, or the previous one in the output folder); absent without one. */
  changes?: Changes;
  /** Per host owing DL-IMG-020: instance → image → attestation (key, builder) → source (commit), as far as it was followed. */
  provenance?: ProvenanceLink[];
  /** Whether the evidence bundle beside this verdict is signed: UNSIGNED proves nothing about later edits. */
  evidence?: { signed: boolean; statement: string; keyFingerprint?: string };
}

/** One host's provenance chain, from its DL-IMG-020 result (the parameters its judge set). */
export interface ProvenanceLink {
  fleet: string;
  host?: string;
  outcome: CheckRecord['outcome'];
  instance?: string;
  image?: string;
  attestation?: { file: string; sha256?: string; keyFingerprint?: string; builder?: string };
  /** The source the attestation was verified to name (passed), else the one the release declares. */
  source?: { id: string; commit?: string };
  message?: string;
}

function provenanceLink(check: PlannedCheck, r: CheckRecord): ProvenanceLink {
  const c = chainOf(r.parameters);
  return {
    fleet: check.fleet,
    ...(check.host ? { host: check.host } : {}),
    outcome: r.outcome,
    ...(c.instance ? { instance: c.instance } : {}),
    ...(c.image ? { image: c.image } : {}),
    ...(c.attestation
      ? {
          attestation: {
            file: c.attestation,
            ...(c.attestationSha256 ? { sha256: c.attestationSha256 } : {}),
            ...(c.keyFingerprint ? { keyFingerprint: c.keyFingerprint } : {}),
            ...(c.builder ? { builder: c.builder } : {}),
          },
        }
      : {}),
    ...(c.source ? { source: { id: c.source, ...(c.commit ? { commit: c.commit } : {}) } } : {}),
    ...(r.outcome !== 'passed' && r.message ? { message: firstLine(r.message) } : {}),
  };
}

export type CoverageKey = Exclude<keyof Coverage, 'owed'>;

const COUNTER: Record<CheckRecord['outcome'], CoverageKey> = {
  passed: 'passed',
  failed: 'failed',
  broken: 'broken',
  waived: 'waived',
  'not-applicable': 'notApplicable',
  skipped: 'skipped',
};
const WORST: CheckRecord['outcome'][] = ['failed', 'broken', 'skipped', 'waived', 'not-applicable', 'passed'];
const empty = (): Coverage => ({ owed: 0, passed: 0, failed: 0, broken: 0, waived: 0, notApplicable: 0, skipped: 0, missing: 0 });

function answer(c: Coverage): Answer {
  if (c.failed) return 'violations';
  if (c.broken || c.skipped || c.missing) return 'not-fully-checked';
  return c.owed === 0 ? 'not-applicable' : 'compliant';
}

/** The answer to each owed check: its record (the worst, if a check was answered twice), or missing. */
export function answersOf(
  records: readonly CheckRecord[],
  merged: MergedRecords,
): { owed: PlannedCheck[]; byCheck: Map<string, CheckRecord>; stray: string[] } {
  const checks = new Map<string, PlannedCheck>();
  for (const run of merged.runs) for (const c of run.plan.checks) if (merged.owed.get(c.id) === run.runId) checks.set(c.id, c);
  const byCheck = new Map<string, CheckRecord>();
  const stray: string[] = [];
  for (const r of records) {
    if (merged.owed.get(r.check) !== r.runId || !checks.has(r.check)) {
      stray.push(`result of ${r.check} (run ${r.runId}) answers no check the merged runs owe: results of different runs are mixed in`);
      continue;
    }
    const had = byCheck.get(r.check);
    if (!had || WORST.indexOf(r.outcome) < WORST.indexOf(had.outcome)) byCheck.set(r.check, r);
  }
  return { owed: [...checks.values()], byCheck, stray };
}

/**
 * The verdict from the typed results and the run records alone (never from a renderer's files).
 * `problems`: typed results that could not be read (named): the run is then not fully checked.
 */
export function verdictOf(records: readonly CheckRecord[], merged: MergedRecords, problems: readonly string[] = []): Verdict {
  const runs = merged.runs;
  const { owed, byCheck, stray } = answersOf(records, merged);
  const incomplete = [...merged.incomplete, ...merged.refused, ...problems, ...stray.slice(0, 20)];
  if (stray.length > 20) incomplete.push(`… and ${stray.length - 20} more results that answer no owed check`);
  if (runs.length === 0) incomplete.push('no run record in any results folder: nothing says what was owed');
  else if (owed.length === 0) incomplete.push('the run owed no check at all: nothing was checked (see notApplicable for why)');
  for (const run of runs)
    if (run.dryRun) incomplete.push(`run ${run.runId}: chaos.dryRun: nothing was killed, so the chaos checks did not run; a dry run is never compliant`);

  const categories: Record<string, number> = Object.fromEntries(CATEGORY_NAMES.map((c) => [c, 0]));
  const total = empty();
  const fleets = new Map<string, { coverage: Coverage; hosts: Map<string, Coverage>; resources: Map<string, Coverage> }>();
  const fleetOf = (name: string) => {
    if (!fleets.has(name)) fleets.set(name, { coverage: empty(), hosts: new Map(), resources: new Map() });
    return fleets.get(name)!;
  };
  const counterOf = (m: Map<string, Coverage>, key: string) => m.get(key) ?? m.set(key, empty()).get(key)!;
  for (const run of runs) for (const f of run.fleets) fleetOf(f.name);
  const tainted = new Set<string>();
  const unchecked = new Map<string, Verdict['uncheckedHosts'][number]>();
  const violations: Verdict['violations'] = [];
  const broken: Verdict['broken'] = [];
  const notRun: Verdict['notRun'] = [];
  const waived: Verdict['waived'] = [];
  const notApplicable: Verdict['notApplicable'] = [];
  const provenance: ProvenanceLink[] = [];
  const seenNa = new Set<string>();
  for (const n of runs.flatMap((r) => r.plan.notApplicable)) {
    const key = JSON.stringify(n);
    if (!seenNa.has(key)) notApplicable.push({ ...n });
    seenNa.add(key);
  }

  for (const check of owed) {
    const r = byCheck.get(check.id);
    const key: CoverageKey = r ? COUNTER[r.outcome] : 'missing';
    const f = fleetOf(check.fleet);
    const counters = [
      total,
      f.coverage,
      ...(check.host ? [counterOf(f.hosts, check.host)] : []),
      ...(check.resource ? [counterOf(f.resources, check.resource)] : []),
    ];
    for (const c of counters) {
      c.owed++;
      c[key]++;
    }
    const where = { fleet: check.fleet, ...(check.host ? { host: check.host } : {}), ...(check.resource ? { resource: check.resource } : {}) };
    if (!r) {
      notRun.push({ check: check.id, ...where, control: check.control, reason: 'not run: no result answers this owed check' });
      continue;
    }
    if (check.control === PROVENANCE_CONTROL) provenance.push(provenanceLink(check, r));
    const message = firstLine(r.message);
    // A slot's record (a replacement, a deployed set) names the real instances a canary got through on.
    if (r.tainted && check.host && r.outcome !== 'not-applicable')
      for (const h of (r.parameters['tainted instances'] ?? check.host).split(', ')) tainted.add(h);
    if (r.outcome === 'skipped') notRun.push({ check: check.id, ...where, control: check.control, reason: `skipped: ${message || 'no reason given'}` });
    else if (r.outcome === 'waived') waived.push({ check: check.id, ...where, control: check.control, waiver: message.replace(/^WAIVED: /, '') });
    else if (r.outcome === 'not-applicable') notApplicable.push({ ...where, suite: check.suite, control: check.control, reason: message });
    else if (r.outcome === 'broken') {
      categories[PROBE_ERROR]!++;
      broken.push({ id: check.id, control: check.control, ...where, message });
      const at = `${check.fleet}/${check.host ?? check.resource ?? '(fleet)'}`;
      const host = check.host ?? (check.resource ? `(resource ${check.resource})` : `(fleet ${check.fleet})`);
      if (!unchecked.has(at)) unchecked.set(at, { host, fleet: check.fleet, ...(check.resource ? { resource: check.resource } : {}), reason: message });
    } else if (r.outcome === 'failed') {
      const cat = r.category ?? 'Other violation';
      categories[cat] = (categories[cat] ?? 0) + 1;
      violations.push({ id: check.id, category: cat, control: check.control, check: r.title, ...where, message });
    }
  }

  const overall = answer(total);
  const verdict: Verdict['verdict'] =
    overall === 'violations' ? 'violations' : overall === 'compliant' && incomplete.length === 0 ? 'compliant' : 'not-fully-checked';
  const exitCode = verdict === 'violations' ? ExitCode.Violations : verdict === 'compliant' ? ExitCode.Compliant : ExitCode.HarnessFailure;
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
      skipped: total.skipped,
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
        ...(f.resources.size ? { resources: [...f.resources.entries()].map(([resource, c]) => ({ resource, verdict: answer(c), coverage: c })) } : {}),
      })),
    },
    notApplicable,
    waived,
    notRun,
    categories,
    taintedHosts: [...tainted].sort(),
    uncheckedHosts: [...unchecked.values()],
    violations,
    broken,
    ...(provenance.length ? { provenance } : {}),
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
