/**
 * The compliance matrix an auditor reads without opening a test: per fleet, hosts × controls (for
 * a plan file, the plan suite's fleet: its resource changes × controls), each cell pass / fail /
 * broken / not applicable / waived / not run, and the fleet's answer. It goes
 * into the report as one result per fleet (suite "Verdict"), with the matrix as an HTML attachment,
 * so it is one click from the overview, and into environment.properties as one line per fleet.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckRecord } from '../core/check-record.ts';
import { control, isControlId } from '../core/controls.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import { FLEET_VERDICT_CATEGORY } from './categories.ts';
import type { Verdict } from './verdict.ts';

type Outcome = 'passed' | 'failed' | 'broken' | 'waived' | 'notApplicable' | 'skipped' | 'missing';
const OUTCOME: Record<CheckRecord['outcome'], Outcome> = {
  passed: 'passed',
  failed: 'failed',
  broken: 'broken',
  waived: 'waived',
  'not-applicable': 'notApplicable',
  skipped: 'skipped',
};

const SHOWN: Record<Outcome, { text: string; color: string }> = {
  passed: { text: 'pass', color: '#97cc64' },
  failed: { text: 'FAIL', color: '#fd5a3e' },
  broken: { text: 'broken', color: '#ffd050' },
  waived: { text: 'waived', color: '#b0b0ff' },
  notApplicable: { text: 'n/a', color: '#eeeeee' },
  skipped: { text: 'skipped', color: '#ffd050' },
  missing: { text: 'NOT RUN', color: '#ffd050' },
};
const WORST: Outcome[] = ['failed', 'broken', 'missing', 'skipped', 'waived', 'notApplicable', 'passed'];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface FleetMatrix {
  fleet: string;
  answer: string;
  controls: string[];
  /** What the rows are: hosts (a fleet-wide check's row is "(fleet)"), or a plan's resource changes. */
  rowsAre: 'host' | 'resource';
  /** host: a host id, "(fleet)", or a resource address. */
  rows: Array<{ host: string; cells: Record<string, { outcome: Outcome; count: number; notes: string[] }> }>;
}

/** The row a check is in: its host, its resource, or the fleet's own row. */
const rowOf = (c: PlannedCheck) => c.host ?? c.resource ?? '(fleet)';

/** Per fleet of the verdict: hosts (or resources) × controls, each cell the worst outcome of the control's checks on the row. */
export function matrices(owed: readonly PlannedCheck[], byCheck: ReadonlyMap<string, CheckRecord>, verdict: Verdict): FleetMatrix[] {
  return verdict.coverage.fleets.map((f) => {
    const mine = owed.filter((c) => c.fleet === f.fleet);
    const controls = [...new Set(mine.map((c) => c.control))].sort();
    const hosts = [...new Set(mine.map(rowOf))].sort();
    const rows = hosts.map((host) => {
      const cells: FleetMatrix['rows'][number]['cells'] = {};
      for (const c of mine.filter((x) => rowOf(x) === host)) {
        const r = byCheck.get(c.id);
        const outcome: Outcome = r ? OUTCOME[r.outcome] : 'missing';
        const cell = (cells[c.control] ??= { outcome: 'passed', count: 0, notes: [] });
        cell.count++;
        if (cell.count === 1 || WORST.indexOf(outcome) < WORST.indexOf(cell.outcome)) cell.outcome = outcome;
        if (outcome !== 'passed') cell.notes.push(`${c.title}: ${(r?.message ?? SHOWN[outcome].text).split('\n')[0]}`);
      }
      return { host, cells };
    });
    const rowsAre: FleetMatrix['rowsAre'] = mine.length > 0 && mine.every((c) => c.resource !== undefined) ? 'resource' : 'host';
    return { fleet: f.fleet, answer: f.verdict, controls, rowsAre, rows };
  });
}

export function matrixHtml(m: FleetMatrix, verdict: Verdict): string {
  const head = m.controls
    .map((id) => {
      const c = isControlId(id) ? control(id) : undefined; // a control no run declared here: its id says it
      return `<th title="${esc(c?.title ?? id)}">${esc(id)}<br><small>${esc(c?.name ?? '')}</small></th>`;
    })
    .join('');
  const body = m.rows
    .map((r) => {
      const cells = m.controls
        .map((id) => {
          const c = r.cells[id];
          if (!c) return '<td style="background:#fafafa;color:#999">—</td>';
          const s = SHOWN[c.outcome];
          return `<td style="background:${s.color}" title="${esc(c.notes.join('\n'))}">${s.text}${c.count > 1 ? ` <small>(${c.count})</small>` : ''}</td>`;
        })
        .join('');
      const fleet = verdict.coverage.fleets.find((f) => f.fleet === m.fleet);
      const row = fleet?.hosts.find((h) => h.host === r.host) ?? fleet?.resources?.find((x) => x.resource === r.host);
      return `<tr><th style="text-align:left;white-space:nowrap">${esc(r.host)}<br><small>${esc(row?.verdict ?? '')}</small></th>${cells}</tr>`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} th,td{border:1px solid #ccc;padding:4px 6px;text-align:center} small{color:#555}
</style></head><body>
<h2>${m.rowsAre === 'resource' ? 'plan' : 'fleet'} ${esc(m.fleet)}: ${esc(m.answer)}</h2>
<p>run ${esc(verdict.runId)}; overall verdict <b>${esc(verdict.verdict)}</b> (exit ${verdict.exitCode}). A cell is the worst outcome of the control's checks on the ${m.rowsAre === 'resource' ? 'resource change' : 'host'} (their number in brackets); hover for what failed.</p>
<table id="compliance-matrix"><tr><th>${m.rowsAre === 'resource' ? 'resource' : 'host'}</th>${head}</tr>
${body}
</table>
<p><small>pass · FAIL (a violation) · broken (could not tell) · NOT RUN · skipped · waived (an accepted exception, not a pass) · n/a (does not apply, with the reason in verdict.json) · — (not owed)</small></p>
${provenanceHtml(m.fleet, verdict)}</body></html>`;
}

/** Per host of the fleet owing DL-IMG-020: instance → image → attestation (key, builder) → source (commit). */
function provenanceHtml(fleet: string, verdict: Verdict): string {
  const rows = (verdict.provenance ?? []).filter((p) => p.fleet === fleet);
  if (!rows.length) return '';
  const short = (s: string | undefined, n = 19) => (s ? esc(s.length > n ? `${s.slice(0, n)}…` : s) : '—');
  const body = rows
    .map(
      (p) =>
        `<tr><th style="text-align:left">${esc(p.host ?? '(fleet)')}</th><td>${short(p.instance, 12)}</td><td title="${esc(p.image ?? '')}">${short(p.image)}</td>` +
        `<td title="${esc(p.attestation?.file ?? '')}">${p.attestation ? `${short(p.attestation.sha256, 12)}<br><small>key ${esc(p.attestation.keyFingerprint ?? 'untrusted')}</small>` : 'none'}</td>` +
        `<td>${esc(p.attestation?.builder ?? '—')}</td><td title="${esc(p.source?.id ?? '')}">${short(p.source?.id)}</td><td>${short(p.source?.commit, 12)}</td>` +
        `<td style="background:${SHOWN[OUTCOME[p.outcome]].color}" title="${esc(p.message ?? '')}">${SHOWN[OUTCOME[p.outcome]].text}</td></tr>`,
    )
    .join('\n');
  return `<h3>provenance (DL-IMG-020)</h3>
<table id="provenance"><tr><th>host</th><th>instance</th><th>image</th><th>attestation</th><th>builder</th><th>source</th><th>commit</th><th>verified</th></tr>
${body}
</table>
`;
}

/** One Allure result per fleet carrying its matrix, so the report's Suites show "Verdict" first. */
export function writeMatrixResults(dir: string, ms: FleetMatrix[], verdict: Verdict): void {
  const now = Date.now();
  for (const m of ms) {
    const uuid = randomUUID();
    const source = `${uuid}-attachment.html`;
    fs.writeFileSync(path.join(dir, source), matrixHtml(m, verdict));
    const status = m.answer === 'compliant' || m.answer === 'not-applicable' ? 'passed' : m.answer === 'violations' ? 'failed' : 'broken';
    const c = verdict.coverage.fleets.find((f) => f.fleet === m.fleet)!.coverage;
    const result = {
      uuid,
      historyId: `driftless-verdict-${m.fleet}`,
      name: `Verdict for fleet ${m.fleet}: ${m.answer}`,
      fullName: `verdict/${m.fleet}`,
      status,
      stage: 'finished',
      statusDetails: {
        message: `[${FLEET_VERDICT_CATEGORY.name}] ${m.answer}: ${c.owed} owed — ${c.passed} passed, ${c.failed} failed, ${c.broken} broken, ${c.waived} waived, ${c.notApplicable} not applicable, ${c.skipped} skipped, ${c.missing} not run`,
      },
      labels: [
        { name: 'parentSuite', value: 'Verdict' },
        { name: 'suite', value: `fleet ${m.fleet}` },
        { name: 'epic', value: 'Verdict' },
        { name: 'feature', value: 'Compliance matrix' },
        { name: 'story', value: `fleet ${m.fleet}` },
        { name: 'severity', value: 'blocker' },
        { name: 'outcome', value: 'verdict' },
      ],
      parameters: [{ name: 'fleet', value: m.fleet }],
      attachments: [{ name: `compliance matrix: fleet ${m.fleet}`, source, type: 'text/html' }],
      start: now,
      stop: now,
    };
    fs.writeFileSync(path.join(dir, `${uuid}-result.json`), JSON.stringify(result));
  }
}
