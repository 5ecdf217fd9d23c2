/**
 * The SARIF 2.1.0 renderer (outputs/driftless.sarif), for code-scanning dashboards: one rule per
 * control (id, title and help from the registry, properties.category), one result per violation
 * with its level, the fleet and host as logical locations, and the evidence summary. Code scanning
 * needs a file to anchor a result to: the config file, at the line that names the fleet. With a
 * baseline, each result says whether it is new or unchanged (baselineState); the violations fixed
 * since are listed in the run's properties, not as results, because code scanning would keep an
 * alert open for each (it closes an alert that is missing from the next upload by itself). Broken
 * and not-run checks are tool notifications: never a result, never a pass.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as Sarif from 'sarif';
import { VIOLATION_CATEGORY } from '../core/categories.ts';
import { type CheckRecord, firstLine } from '../core/check-record.ts';
import { type Control, control, isControlId, type Severity } from '../core/controls.ts';
import { harnessVersion } from '../core/paths.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import { newIds } from './baseline.ts';
import type { RenderInput } from './outputs.ts';
import { escapeRegExp } from '../core/regexp.ts';

export const SARIF_FILE = 'driftless.sarif';

const LEVEL: Record<Severity, Sarif.ReportingConfiguration.level> = { blocker: 'error', critical: 'error', normal: 'warning', minor: 'note' };
/** GitHub orders security alerts by this score (0 to 10). */
const SECURITY_SEVERITY: Record<Severity, string> = { blocker: '9.5', critical: '8.0', normal: '5.0', minor: '2.0' };

const where = (c: { fleet: string; host?: string }) => (c.host ? `${c.fleet}/${c.host}` : `fleet ${c.fleet}`);
const sentence = (s: string) => (/[.!?]$/.test(s) ? s : `${s}.`);
const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

function ruleOf(id: string, c: Control | undefined, fallbackTitle: string): Sarif.ReportingDescriptor {
  const severity = c?.severity ?? 'critical';
  const title = c?.title ?? fallbackTitle;
  const help = c
    ? `${sentence(c.title)} A failure proves: ${sentence(c.proves)}${c.when ? ` Owed when ${sentence(c.when)}` : ''}${c.cis ? ` CIS Docker Benchmark v1.6.0 ${c.cis}.` : ''}${c.nist?.length ? ` Supports NIST SP 800-53 Rev. 5 ${c.nist.join(', ')}.` : ''}`
    : sentence(fallbackTitle);
  return {
    id,
    name: pascal(c?.name ?? id),
    shortDescription: { text: sentence(c?.name ?? title) },
    fullDescription: { text: sentence(title) },
    help: { text: help, markdown: help.replace(/([\\`*_[\]<>|#])/g, '\\$1') },
    defaultConfiguration: { level: LEVEL[severity] },
    properties: {
      category: c ? VIOLATION_CATEGORY[c.violations[0]!] : 'Other violation',
      tags: ['driftless', ...(c ? [c.family, c.suite] : [])],
      'security-severity': SECURITY_SEVERITY[severity],
      ...(c?.nist?.length ? { nist: [...c.nist] } : {}),
      ...(c?.cis ? { cis: c.cis } : {}),
    },
  };
}

/** The config file relative to the source root, and the line naming each fleet (code scanning anchors results there). */
function anchors(input: RenderInput): { uri: string; lineOf: (fleet: string) => number } {
  const file = input.runs[0]?.config.file ?? 'driftless.config.yaml';
  const rel = path.relative(input.workDir ?? process.cwd(), file);
  const uri = (rel.startsWith('..') || path.isAbsolute(rel) ? path.basename(file) : rel).split(path.sep).join('/');
  let lines: string[] = [];
  try {
    lines = fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    // the config is gone: every result points at its first line
  }
  const lineOf = (fleet: string) => {
    const esc = escapeRegExp(fleet);
    const i = lines.findIndex((l) => new RegExp(`^\\s*-?\\s*"?name"?\\s*:\\s*["']?${esc}["']?\\s*,?\\s*$`).test(l));
    return i >= 0 ? i + 1 : 1;
  };
  return { uri, lineOf };
}

/** Renders outputs/driftless.sarif; returns its path. */
export function writeSarif(dir: string, input: RenderInput): string {
  const v = input.verdict;
  const fresh = newIds(v.changes);
  const since = v.changes ? `run ${v.changes.baseline.runId}` : '';
  const rules: Sarif.ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  const ruleFor = (c: PlannedCheck) => {
    if (!ruleIndex.has(c.control)) {
      ruleIndex.set(c.control, rules.length);
      rules.push(ruleOf(c.control, isControlId(c.control) ? control(c.control) : undefined, c.title));
    }
    return ruleIndex.get(c.control)!;
  };
  const { uri, lineOf } = anchors(input);
  const results: Sarif.Result[] = [];
  const notifications: Sarif.Notification[] = [];
  for (const c of input.owed) {
    const index = ruleFor(c);
    const r: CheckRecord | undefined = input.byCheck.get(c.id);
    if (!r || r.outcome === 'broken' || r.outcome === 'skipped') {
      const why = !r
        ? 'NOT RUN: no result answers this owed check'
        : r.outcome === 'broken'
          ? `BROKEN (could not tell): ${firstLine(r.message)}`
          : `NOT RUN (skipped): ${firstLine(r.message)}`;
      notifications.push({ level: 'warning', message: { text: `${where(c)} ${c.control}: ${why}` }, associatedRule: { id: c.control, index } });
      continue;
    }
    if (r.outcome !== 'failed') continue;
    const isNew = fresh.has(c.id);
    results.push({
      ruleId: c.control,
      ruleIndex: index,
      level: LEVEL[r.severity],
      message: { text: `${isNew ? `NEW since ${since}: ` : ''}${where(c)} [${r.category}] ${sentence(firstLine(r.message) || c.title)}` },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri, uriBaseId: '%SRCROOT%' }, region: { startLine: lineOf(c.fleet) } },
          logicalLocations: [{ name: c.host ?? c.fleet, fullyQualifiedName: c.host ? `${c.fleet}/${c.host}` : c.fleet, kind: 'resource' }],
        },
      ],
      // One alert per check: several hosts share the config line their fleet is named on.
      partialFingerprints: { primaryLocationLineHash: `${createHash('sha256').update(c.id).digest('hex').slice(0, 16)}:1` },
      ...(v.changes ? { baselineState: isNew ? 'new' : 'unchanged' } : {}),
      properties: {
        check: c.id,
        title: c.title,
        fleet: c.fleet,
        ...(c.host ? { host: c.host } : {}),
        category: r.category ?? 'Other violation',
        ...(r.violation ? { violation: r.violation } : {}),
        ...(r.tainted ? { tainted: r.tainted } : {}),
        runId: r.runId,
        evidence: r.evidence.map((e) => ({ name: e.name, file: input.evidencePath(r, e), sha256: e.sha256 })),
      },
    });
  }
  const starts = input.runs.map((r) => r.startedAt).sort();
  const ends = input.runs
    .map((r) => r.finished?.at)
    .filter((x): x is string => !!x)
    .sort();
  const log: Sarif.Log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'driftless',
            fullName: 'driftless chaos and immutability compliance harness',
            informationUri: 'https://driftless.dev/',
            version: harnessVersion(),
            semanticVersion: harnessVersion(),
            rules,
          },
        },
        // Stable across runs, so code scanning follows an alert from night to night.
        automationDetails: { id: 'driftless/' },
        invocations: [
          {
            executionSuccessful: v.incomplete.length === 0 && notifications.length === 0,
            ...(starts[0] ? { startTimeUtc: starts[0] } : {}),
            ...(ends.length ? { endTimeUtc: ends.at(-1)! } : {}),
            toolExecutionNotifications: [
              ...v.incomplete.map((text): Sarif.Notification => ({ level: 'error', message: { text: sentence(`not fully checked: ${text}`) } })),
              ...notifications,
            ],
          },
        ],
        columnKind: 'utf16CodeUnits',
        results,
        properties: {
          runIds: input.runs.map((r) => r.runId),
          planHashes: input.runs.map((r) => r.planHash),
          verdict: v.verdict,
          exitCode: v.exitCode,
          evidence: v.evidence?.statement ?? 'UNSIGNED',
          ...(v.changes
            ? {
                baseline: { runId: v.changes.baseline.runId, file: v.changes.baseline.file },
                newViolations: v.changes.newViolations.map((x) => x.id),
                fixed: v.changes.fixed.map((x) => ({ check: x.id, control: x.control, fleet: x.fleet, ...(x.host ? { host: x.host } : {}), was: x.message })),
                newlyBroken: v.changes.newlyBroken.map((x) => x.id),
              }
            : {}),
        },
      },
    ],
  };
  const file = path.join(dir, SARIF_FILE);
  fs.writeFileSync(file, JSON.stringify(log, null, 2) + '\n');
  return file;
}
