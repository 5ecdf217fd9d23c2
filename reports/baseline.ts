/**
 * What changed since the last run: the violations and broken checks of a baseline verdict (the
 * previous run's verdict.json, never Allure's history) against this run's typed results, keyed by
 * control, fleet, host and check id. "Fixed" means the check ran now and passed; a violation
 * whose check is now broken, not run, waived or no longer owed is not fixed (unresolved, with
 * what it is now). Renderers flag a new violation as new from the `changes` of the verdict.
 */
import fs from 'node:fs';
import { type CheckRecord, firstLine } from '../core/check-record.ts';
import { UsageError } from '../core/errors.ts';
import type { PlannedCheck } from '../core/run-plan.ts';

export interface ChangeEntry {
  /** The check's id in the plan (fleet/host/control[:item]). */
  id: string;
  control: string;
  fleet: string;
  host?: string;
  category?: string;
  message: string;
}

export interface Changes {
  baseline: { file: string; runId: string; generatedAt: string; verdict: string };
  newViolations: ChangeEntry[];
  fixed: ChangeEntry[];
  stillFailing: ChangeEntry[];
  newlyBroken: ChangeEntry[];
  unresolved: Array<ChangeEntry & { now: string }>;
  notes: string[];
}

/** The parts of a verdict a baseline needs; older verdicts lack `id` and `broken`, and are still read. */
export interface BaselineVerdict {
  file: string;
  runId: string;
  runIds: string[];
  generatedAt: string;
  verdict: string;
  violations: Array<{ id?: string; control: string; check: string; fleet?: string; host?: string; message: string; category?: string }>;
  broken?: Array<{ id: string; control: string; fleet: string; host?: string; message: string }>;
  notRun: Array<{ check: string; control: string; fleet: string; host?: string }>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Why `v` is not a verdict driftless wrote, or undefined when it is one. */
function whyNotVerdict(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object';
  if (!isStr(v.runId) || !isStr(v.verdict)) return 'no runId or verdict';
  if (!Array.isArray(v.violations) || !v.violations.every((x) => isObj(x) && isStr(x.control) && isStr(x.check)))
    return 'no violations list of { control, check, ... }';
  if (!Array.isArray(v.notRun) || !v.notRun.every((x) => isObj(x) && isStr(x.check) && isStr(x.control))) return 'no notRun list';
  if (v.broken !== undefined && (!Array.isArray(v.broken) || !v.broken.every((x) => isObj(x) && isStr(x.id) && isStr(x.control))))
    return 'a broken list that is not { id, control, ... }';
  return undefined;
}

/**
 * Reads a baseline verdict. `--baseline file` (explicit) that cannot be read is a usage error
 * (exit 2, before anything is touched); the previous verdict of the output folder (implicit) that
 * cannot be read is left out, and `skipped` says why.
 */
export function readBaseline(file: string, explicit: boolean): { baseline?: BaselineVerdict; skipped?: string } {
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const why = `${file}: cannot read it as a verdict (${(err as Error).message})`;
    if (explicit) throw new UsageError(`--baseline ${why}; name the verdict.json of an earlier run`);
    return { skipped: `the previous verdict ${why}: no comparison` };
  }
  const why = whyNotVerdict(body);
  if (why) {
    if (explicit) throw new UsageError(`--baseline ${file}: not a driftless verdict.json (${why})`);
    return { skipped: `the previous verdict ${file} is not a driftless verdict (${why}): no comparison` };
  }
  const v = body as Record<string, unknown> & Omit<BaselineVerdict, 'file' | 'runIds'> & { runs?: Array<{ runId?: unknown }> };
  const runIds = Array.isArray(v.runs) && v.runs.length ? v.runs.map((r) => String(r.runId)) : v.runId.split(' + ');
  return {
    baseline: {
      file,
      runId: v.runId,
      runIds,
      generatedAt: isStr(v.generatedAt) ? v.generatedAt : '',
      verdict: v.verdict,
      violations: v.violations,
      ...(v.broken ? { broken: v.broken } : {}),
      notRun: v.notRun,
    },
  };
}

/** The implicit baseline is another run's: a verdict of one of this report's or run's own runs is no baseline. */
export function sharesRun(baseline: BaselineVerdict, runIds: readonly string[]): boolean {
  return baseline.runIds.some((id) => runIds.includes(id));
}

const key = (control: string, fleet: string | undefined, host: string | undefined, id: string) => [control, fleet ?? '', host ?? '', id].join('\u0000');
const keyOf = (c: PlannedCheck) => key(c.control, c.fleet, c.host, c.id);

/** The changes since `baseline`, from this run's owed checks and their typed results (absent: not run). */
export function changesOf(baseline: BaselineVerdict, owed: readonly PlannedCheck[], byCheck: ReadonlyMap<string, CheckRecord>): Changes {
  const notes: string[] = [];
  const current = new Map(owed.map((c) => [keyOf(c), c]));
  // A verdict written before violations carried their check id names the check by its title only.
  const byTitle = new Map(owed.map((c) => [key(c.control, c.fleet, c.host, c.title), c]));
  const violated = new Map<string, BaselineVerdict['violations'][number]>();
  let byTitles = 0;
  for (const v of baseline.violations) {
    if (v.id) violated.set(key(v.control, v.fleet, v.host, v.id), v);
    else {
      byTitles++;
      const c = byTitle.get(key(v.control, v.fleet, v.host, v.check));
      violated.set(c ? keyOf(c) : key(v.control, v.fleet, v.host, `title:${v.check}`), v);
    }
  }
  if (byTitles) notes.push(`${byTitles} violations of the baseline carry no check id (an older verdict): matched by their title`);
  const unchecked = new Set<string>();
  for (const b of baseline.broken ?? []) unchecked.add(key(b.control, b.fleet, b.host, b.id));
  for (const n of baseline.notRun) unchecked.add(key(n.control, n.fleet, n.host, n.check));
  if (!baseline.broken) notes.push('the baseline lists no broken checks (an older verdict): "newly broken" compares with its not-run checks only');

  const entry = (c: PlannedCheck, r: CheckRecord | undefined, message: string): ChangeEntry => ({
    id: c.id,
    control: c.control,
    fleet: c.fleet,
    ...(c.host ? { host: c.host } : {}),
    ...(r?.category ? { category: r.category } : {}),
    message,
  });
  const out: Changes = {
    baseline: { file: baseline.file, runId: baseline.runId, generatedAt: baseline.generatedAt, verdict: baseline.verdict },
    newViolations: [],
    fixed: [],
    stillFailing: [],
    newlyBroken: [],
    unresolved: [],
    notes,
  };
  for (const c of owed) {
    const r = byCheck.get(c.id);
    const k = keyOf(c);
    if (r?.outcome === 'failed') (violated.has(k) ? out.stillFailing : out.newViolations).push(entry(c, r, firstLine(r.message)));
    else if ((!r || r.outcome === 'broken' || r.outcome === 'skipped') && !unchecked.has(k))
      out.newlyBroken.push(entry(c, r, r ? firstLine(r.message) : 'not run: no result answers this owed check'));
  }
  for (const [k, v] of violated) {
    const c = current.get(k);
    const was = { id: v.id ?? c?.id ?? v.check, control: v.control, fleet: v.fleet ?? '', ...(v.host ? { host: v.host } : {}) };
    const was2: ChangeEntry = { ...was, ...(v.category ? { category: v.category } : {}), message: v.message };
    if (!c) {
      out.unresolved.push({ ...was2, now: 'not owed by this run (another suite, shard or fleet; or the host is gone)' });
      continue;
    }
    const r = byCheck.get(c.id);
    if (r?.outcome === 'passed') out.fixed.push(was2);
    else if (r?.outcome !== 'failed') out.unresolved.push({ ...was2, now: r ? r.outcome : 'not run' });
  }
  return out;
}

/** The ids of the checks that fail now and did not in the baseline: every output flags these as new. */
export function newIds(changes: Changes | undefined): Set<string> {
  return new Set((changes?.newViolations ?? []).map((c) => c.id));
}
