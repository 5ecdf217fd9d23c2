/**
 * The Allure renderer: the typed results (core/check-record.ts) as Allure result files, one per
 * owed check, with the labels an auditor slices by (epic = control family, feature = control,
 * story = fleet; suites: suite, fleet, host, or for a plan's checks the resource address), the evidence as attachments, categories by message
 * prefix, and a stable history id per (suite, fleet, host, check). An owed check with no record
 * is written as broken ("not run"), so the report never hides it. Nothing reads these files back.
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

export interface AllureInput {
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

/** Writes one Allure result per owed check (and its attachments) into `dir`; resolves to how many. */
export async function writeAllureResults(dir: string, input: AllureInput): Promise<number> {
  fs.mkdirSync(dir, { recursive: true });
  const writes: Array<() => Promise<void>> = [];
  const links = (input.report?.links ?? []).map((l) => ({ url: l.url, ...(l.name ? { name: l.name } : {}) }));
  for (const { check, record: r, dir: from } of input.checks) {
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
      parameters: Object.entries(
        r?.parameters ?? { fleet: check.fleet, ...(check.host ? { host: check.host } : {}), ...(check.resource ? { resource: check.resource } : {}) },
      ).map(([name, value]) => ({
        name,
        value,
      })),
      labels: [...labelsOf(check, r, input.report), ...(isNew ? [{ name: 'tag', value: 'new-violation' }] : [])],
      links,
      start: r ? Date.parse(r.startedAt) : Date.now(),
      stop: r ? Date.parse(r.finishedAt) : Date.now(),
    };
    const body = JSON.stringify(result);
    writes.push(() => fs.promises.writeFile(path.join(dir, `${uuid}-result.json`), body));
  }
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < writes.length) await writes[next++]!();
  };
  await Promise.all(Array.from({ length: PARALLEL_WRITES }, writer));
  return input.checks.length;
}
