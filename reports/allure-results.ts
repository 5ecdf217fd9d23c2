/**
 * The Allure renderer: the typed results (core/check-record.ts) as Allure result files, with the
 * labels an auditor slices by (epic = control family, feature = control, story = fleet; suites:
 * suite, fleet, host, or for a plan's checks the resource address), categories by message prefix,
 * and a stable history id per (suite, fleet, host, check). An owed check with no record is
 * written as broken ("not run"), so the report never hides it. Nothing reads these files back: the
 * verdict, coverage and matrix count every check from the typed results.
 *
 * Two layouts (report.allure, `driftless report --allure`):
 *  - grouped (the default): every check that did not pass (violation, probe error, not run,
 *    skipped, waived, not applicable) is a result of its own with its evidence attached; the
 *    passed checks of one host (or resource, or fleet-wide row) and suite are ONE result whose
 *    steps are the passed controls (id and title; a parameter per check of it), with no
 *    attachments: their evidence stays in the results folder's evidence/, sealed by its evidence
 *    bundle, and the result names that folder. A 1,000-host report stays ~1 KB per check.
 *  - per-check: one result per owed check, each with its evidence attached.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CheckRecord } from '../core/check-record.ts';
import { control, isControlId } from '../core/controls.ts';
import type { Config } from '../core/config.ts';
import type { PlannedCheck } from '../core/run-plan.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Files written at once: enough to keep the disk busy while the CPU builds the next results. */
const PARALLEL_WRITES = 32;

export type AllureLayout = 'grouped' | 'per-check';
export const ALLURE_LAYOUTS: readonly AllureLayout[] = ['grouped', 'per-check'];

export interface AllureInput {
  /** grouped (default): the passed checks of a host and suite as one result; per-check: one result each. */
  layout?: AllureLayout;
  /** The owed checks, each with its record (absent: not run) and the folder its evidence is in. */
  checks: Array<{ check: PlannedCheck; record?: CheckRecord; dir?: string }>;
  report: Config['report'] | undefined;
  /** The checks failing now that did not in the baseline, and which run that was: marked NEW (message and tag). */
  fresh?: { checks: ReadonlySet<string>; since: string };
}

interface Label {
  name: string;
  value: string;
}

function labelsOf(check: PlannedCheck, r: CheckRecord | undefined, report: AllureInput['report']): Label[] {
  const c = isControlId(check.control) ? control(check.control) : undefined;
  const out: Label[] = [
    { name: 'epic', value: c?.family ?? 'Custom' },
    { name: 'feature', value: `${check.control} ${c?.name ?? check.title}` },
    { name: 'story', value: `fleet ${check.fleet}` },
    { name: 'parentSuite', value: check.suite },
    { name: 'suite', value: `fleet ${check.fleet}` },
    ...(check.host || check.resource ? [{ name: 'subSuite', value: (check.host ?? check.resource)! }] : []),
    { name: 'control', value: check.control },
    { name: 'check', value: check.id },
    { name: 'run', value: r?.runId ?? '' },
    { name: 'tag', value: check.control },
    { name: 'severity', value: r?.severity ?? check.severity ?? 'critical' },
    ...(report?.owner ? [{ name: 'owner', value: report.owner }] : []),
    ...(report?.tags ?? []).map((t) => ({ name: 'tag', value: t })),
    { name: 'language', value: 'javascript' },
    { name: 'framework', value: 'driftless' },
    { name: 'host', value: os.hostname() },
  ];
  const outcome = !r ? 'not-run' : r.outcome === 'broken' ? 'probe-error' : r.outcome;
  out.push({ name: 'outcome', value: outcome });
  if (r?.violation) out.push({ name: 'violation', value: r.violation });
  if (r?.tainted) out.push({ name: 'tainted', value: r.tainted });
  return out;
}

function statusOf(r: CheckRecord | undefined): { status: string; message?: string } {
  if (!r) return { status: 'broken', message: 'NOT RUN: no result answers this owed check (the run did not finish it, or its results are missing)' };
  const m = r.message ?? '';
  switch (r.outcome) {
    case 'passed':
      return { status: 'passed', ...(m ? { message: m } : {}) };
    case 'failed':
      return { status: 'failed', message: `[${r.category}] ${m}` };
    case 'broken':
      return { status: 'broken', message: `PROBE ERROR (the harness could not tell): ${m}` };
    case 'not-applicable':
      return { status: 'skipped', message: `not applicable: ${m}` };
    case 'waived':
    case 'skipped':
      return { status: 'skipped', message: m };
  }
}

/** A passed check, as a step of its host's grouped result. */
interface Passed {
  check: PlannedCheck;
  record: CheckRecord;
  dir: string;
}

/**
 * Writes the Allure results of the owed checks (and the attachments of those that keep their own)
 * into `dir`; resolves to how many result files it wrote.
 */
export async function writeAllureResults(dir: string, input: AllureInput): Promise<number> {
  fs.mkdirSync(dir, { recursive: true });
  const writes: Array<() => Promise<void>> = [];
  const links = (input.report?.links ?? []).map((l) => ({ url: l.url, ...(l.name ? { name: l.name } : {}) }));
  const grouped = (input.layout ?? 'grouped') === 'grouped';
  const groups = new Map<string, Passed[]>();
  let written = 0;
  for (const { check, record: r, dir: from } of input.checks) {
    if (grouped && r && from && r.outcome === 'passed' && !r.waiver) {
      const key = `${check.suite}\0${check.fleet}\0${check.host ?? check.resource ?? ''}`;
      const group = groups.get(key) ?? groups.set(key, []).get(key)!;
      group.push({ check, record: r, dir: from });
      continue;
    }
    const uuid = randomUUID();
    const attachments = (r?.evidence ?? []).map((e) => {
      const source = `${randomUUID()}-attachment${path.extname(e.file)}`;
      writes.push(() => fs.promises.copyFile(path.join(from!, e.file), path.join(dir, source)));
      return { name: e.name, source, type: e.contentType };
    });
    if (r?.waiver) {
      const source = `${randomUUID()}-attachment.json`;
      const body = JSON.stringify({ ...r.waiver, checkOutcome: r.found?.status ?? r.outcome, checkMessage: r.found?.message ?? r.message ?? '' }, null, 2);
      writes.push(() => fs.promises.writeFile(path.join(dir, source), body));
      attachments.push({ name: 'waiver', source, type: 'application/json' });
    }
    const where = check.host ?? check.resource;
    const titlePath = [check.suite, `fleet ${check.fleet}`, ...(where ? [where] : [])];
    const fullName = [...titlePath, check.title].join(' › ');
    const { status, message: said } = statusOf(r);
    const isNew = status === 'failed' && !!input.fresh?.checks.has(check.id);
    const message = isNew ? `NEW since ${input.fresh!.since}: ${said}` : said;
    const result = {
      uuid,
      name: check.title,
      fullName,
      titlePath,
      // Stable across runs, so Allure's history and trend follow the same (host, control).
      historyId: md5(fullName),
      testCaseId: md5(fullName),
      status,
      statusDetails: message ? { message } : {},
      stage: 'finished',
      steps: [],
      attachments,
      parameters: parametersOf(check, r),
      labels: [...labelsOf(check, r, input.report), ...(isNew ? [{ name: 'tag', value: 'new-violation' }] : [])],
      links,
      start: r ? Date.parse(r.startedAt) : Date.now(),
      stop: r ? Date.parse(r.finishedAt) : Date.now(),
    };
    const body = JSON.stringify(result);
    writes.push(() => fs.promises.writeFile(path.join(dir, `${uuid}-result.json`), body));
    written++;
  }
  for (const group of groups.values()) {
    const uuid = randomUUID();
    const body = JSON.stringify({ uuid, ...groupedResult(group, input.report), links });
    writes.push(() => fs.promises.writeFile(path.join(dir, `${uuid}-result.json`), body));
    written++;
  }
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < writes.length) await writes[next++]!();
  };
  await Promise.all(Array.from({ length: PARALLEL_WRITES }, writer));
  return written;
}

const parametersOf = (check: PlannedCheck, r: CheckRecord | undefined) =>
  Object.entries(
    r?.parameters ?? { fleet: check.fleet, ...(check.host ? { host: check.host } : {}), ...(check.resource ? { resource: check.resource } : {}) },
  ).map(([name, value]) => ({ name, value }));

const GROUP_PARAMETERS = new Set(['host', 'fleet', 'resource']);
const SEVERITY_ORDER = ['blocker', 'critical', 'normal', 'minor', 'trivial'];

/**
 * The passed checks of one host (or resource, or fleet-wide row) and suite as one result: a step
 * per control (its id and title), a parameter per check of it (its item), a `control` label per
 * control; their evidence is not attached but named, in the results folder that holds it.
 */
function groupedResult(group: Passed[], report: AllureInput['report']) {
  const { check: first } = group[0]!;
  const where = first.host ?? first.resource;
  const titlePath = [first.suite, `fleet ${first.fleet}`, ...(where ? [where] : [])];
  const fullName = [...titlePath, 'passed checks'].join(' › ');
  const folders = [...new Set(group.map((p) => p.dir))];
  const runs = [...new Set(group.map((p) => p.record.runId))];
  const controls = [...new Set(group.map((p) => p.check.control))].sort();
  const severity = group.map((p) => p.record.severity).sort((a, b) => SEVERITY_ORDER.indexOf(a) - SEVERITY_ORDER.indexOf(b))[0] ?? 'critical';
  const message =
    `${group.length} checks passed${where ? ` on ${where}` : ''}: a step per control, a parameter per check of it (check id: fleet/host/control:item). ` +
    `Their evidence is in the results folder ${folders.join(', ')} (checks/${first.suite}.json, evidence/), sealed by its evidence bundle.`;
  // A step per control (in plan order), a parameter per check of it: what was tried, and its own parameters.
  const byControl = new Map<string, Passed[]>();
  for (const p of group) (byControl.get(p.check.control) ?? byControl.set(p.check.control, []).get(p.check.control)!).push(p);
  const steps = [...byControl].map(([id, passed]) => {
    const title = passed[0]!.check.title;
    const notes = passed.flatMap((p) => (p.record.message ? [`${p.check.item ?? p.check.id}: ${p.record.message}`] : []));
    return {
      name: isControlId(id) ? `${id} ${control(id).name}` : title.startsWith(id) ? title : `${id} ${title}`,
      status: 'passed',
      stage: 'finished',
      statusDetails: notes.length ? { message: notes.join('\n') } : {},
      steps: [],
      attachments: [],
      // The host, fleet and resource are the result's own: a step carries only what is the check's.
      parameters: passed.flatMap(({ check, record: r }) => {
        const own = parametersOf(check, r).filter((x) => !GROUP_PARAMETERS.has(x.name));
        // Several checks of one control: each named by its item (or, without one, its title).
        const which = check.item ?? (passed.length > 1 ? check.title : undefined);
        return which ? [{ name: which, value: 'passed' }, ...own.map((x) => ({ name: `${which} ${x.name}`, value: x.value }))] : own;
      }),
    };
  });
  const families = [...new Set(controls.map((id) => (isControlId(id) ? control(id).family : 'Custom')))];
  return {
    name: `${first.suite}${where ? ` on ${where}` : ` on fleet ${first.fleet}`}: ${group.length} checks passed`,
    fullName,
    titlePath,
    historyId: md5(fullName),
    testCaseId: md5(fullName),
    status: 'passed',
    statusDetails: { message },
    stage: 'finished',
    steps,
    attachments: [],
    parameters: [
      { name: 'fleet', value: first.fleet },
      ...(first.host ? [{ name: 'host', value: first.host }] : []),
      ...(first.resource ? [{ name: 'resource', value: first.resource }] : []),
      // Nothing that changes from night to night (the results folder, how many passed): Allure keys
      // a result's history by its parameters too, and the trend must follow the same host and suite.
    ],
    labels: [
      // One feature, not one per control: Allure lists a result under each of its features, and
      // a thousand hosts' groups under every control would multiply the Behaviors tree.
      ...families.map((value) => ({ name: 'epic', value })),
      { name: 'feature', value: 'Passed checks' },
      { name: 'story', value: `fleet ${first.fleet}` },
      { name: 'parentSuite', value: first.suite },
      { name: 'suite', value: `fleet ${first.fleet}` },
      ...(where ? [{ name: 'subSuite', value: where }] : []),
      ...controls.map((value) => ({ name: 'control', value })),
      ...runs.map((value) => ({ name: 'run', value })),
      { name: 'severity', value: severity },
      ...(report?.owner ? [{ name: 'owner', value: report.owner }] : []),
      ...(report?.tags ?? []).map((t) => ({ name: 'tag', value: t })),
      { name: 'language', value: 'javascript' },
      { name: 'framework', value: 'driftless' },
      { name: 'host', value: os.hostname() },
      { name: 'outcome', value: 'passed' },
      { name: 'grouped', value: `${group.length} passed checks` },
    ],
    // The steps carry no times of their own (each check's are in its record): a smaller report.
    start: Math.min(...group.map((p) => Date.parse(p.record.startedAt))),
    stop: Math.max(...group.map((p) => Date.parse(p.record.finishedAt))),
  };
}
