/**
 * The OSCAL renderer (OSCAL 1.1.3, JSON), for auditors whose tooling ingests OSCAL:
 *
 *   outputs/oscal/catalog.json             driftless's controls as a catalog (from the registry, with
 *                                          the NIST SP 800-53 Rev. 5 controls each supports)
 *   outputs/oscal/assessment-plan.json     the run plan: the controls it reviews, the hosts it assesses
 *   outputs/oscal/assessment-results.json  the run as an assessment: one observation per owed check
 *                                          (the evidence by its sha256), one finding per violation and
 *                                          per check that was not checked (never satisfied)
 *
 * UUIDs are derived from what they name (UUIDv5), so two renderings of the same run agree. The
 * catalog is also generated into docs/oscal/catalog.json (scripts/generate.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VIOLATION_CATEGORY } from '../core/categories.ts';
import { type CheckRecord, firstLine } from '../core/check-record.ts';
import { type Control, controlsOf } from '../core/controls.ts';
import { harnessVersion } from '../core/paths.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import { SUITES } from '../core/suites.ts';
import { newIds } from './baseline.ts';
import type { RenderInput } from './outputs.ts';

export const OSCAL_VERSION = '1.1.3';
export const OSCAL_DIR = 'oscal';
/** The namespace of driftless's own OSCAL props. */
export const DRIFTLESS_NS = 'https://driftless.dev/ns/oscal';
/** The UUIDv5 namespace all of driftless's OSCAL uuids are derived in. */
const NAMESPACE = '5f0c3a4e-8d2b-4c1e-9a57-0d2f6b1e7c93';

type Json = Record<string, unknown>;

/** A UUIDv5 (RFC 9562) of `parts` in driftless's namespace: the same name gives the same uuid. */
export function uuidOf(...parts: string[]): string {
  const ns = Buffer.from(NAMESPACE.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A control id as an OSCAL token (lower case, as NIST's catalogs write them). */
export const oscalId = (id: string) =>
  id
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .replace(/^[^a-z_]/, '_$&');
const prop = (name: string, value: string, ns = true): Json => ({ name, ...(ns ? { ns: DRIFTLESS_NS } : {}), value: oneLine(value) });
/** OSCAL strings are never empty and never start or end with a space; titles are one line. */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim() || '-';
const FAMILY_ID: Record<Control['family'], string> = {
  Immutability: 'immutability',
  'Image integrity': 'image-integrity',
  Statelessness: 'statelessness',
  'Replace-only deploys': 'replace-only-deploys',
  'Custom checks': 'custom-checks',
};
const NIST_RESOURCE = uuidOf('resource', 'nist-sp-800-53-rev5');
const CATALOG_UUID = uuidOf('catalog');
const CATALOG_RESOURCE = uuidOf('resource', 'catalog');
const SSP_RESOURCE = uuidOf('resource', 'ssp');

function catalogControl(c: Control): Json {
  const id = oscalId(c.id);
  return {
    id,
    class: 'driftless',
    title: oneLine(c.name),
    props: [
      prop('label', c.id, false),
      prop('suite', c.suite),
      prop('scope', c.scope),
      prop('severity', c.severity ?? 'critical'),
      // A team's own control names its category; a built-in one files it by its first violation kind.
      prop('category', c.custom?.category ?? (c.violations[0] ? VIOLATION_CATEGORY[c.violations[0]] : 'Other violation')),
      ...(c.providers ? [prop('applies-to', c.providers.join(' '))] : []),
      ...(c.cis ? [prop('cis-docker-benchmark-v1.6.0', c.cis)] : []),
      ...(c.nist ?? []).map((n) => ({ ...prop('nist-sp800-53r5', n.toLowerCase()), class: 'mapping' })),
    ],
    ...(c.nist?.length ? { links: [{ href: `#${NIST_RESOURCE}`, rel: 'reference', text: oneLine(`NIST SP 800-53 Rev. 5: ${c.nist.join(', ')}`) }] } : {}),
    parts: [
      { id: `${id}_smt`, name: 'statement', prose: c.title },
      { id: `${id}_gdn`, name: 'guidance', prose: `A failure proves: ${c.proves}.${c.when ? ` Owed when ${c.when}.` : ''}` },
    ],
  };
}

/** driftless's controls (the built-in ones and any added to the registry) as an OSCAL catalog. */
export function oscalCatalog(lastModified: string): Json {
  const controls = SUITES.flatMap((s) => controlsOf(s));
  const families = [...new Set(controls.map((c) => c.family))];
  return {
    catalog: {
      uuid: CATALOG_UUID,
      metadata: {
        title: 'driftless controls: immutable, stateless, replace-only deployments',
        'last-modified': lastModified,
        version: harnessVersion(),
        'oscal-version': OSCAL_VERSION,
        remarks: 'Generated from the driftless controls registry (core/controls.ts); edit the registry, not this file.',
      },
      groups: families.map((f) => ({
        id: FAMILY_ID[f] ?? oscalId(f),
        class: 'family',
        title: f,
        controls: controls.filter((c) => c.family === f).map(catalogControl),
      })),
      'back-matter': {
        resources: [
          {
            uuid: NIST_RESOURCE,
            title: 'NIST SP 800-53 Rev. 5, Security and Privacy Controls for Information Systems and Organizations',
            citation: { text: 'NIST Special Publication 800-53 Revision 5' },
            rlinks: [{ href: 'https://doi.org/10.6028/NIST.SP.800-53r5' }],
          },
        ],
      },
    },
  };
}

/** The catalog as written, 2-space JSON with a final newline (docs/oscal/catalog.json is this text). */
export function catalogText(lastModified: string): string {
  return JSON.stringify(oscalCatalog(lastModified), null, 2) + '\n';
}

interface Subject {
  uuid: string;
  fleet: string;
  host?: string;
}

function subjectsOf(owed: readonly PlannedCheck[]): Map<string, Subject> {
  const out = new Map<string, Subject>();
  for (const c of owed) {
    const k = `${c.fleet}/${c.host ?? ''}`;
    if (!out.has(k)) out.set(k, { uuid: uuidOf('subject', c.fleet, c.host ?? ''), fleet: c.fleet, ...(c.host ? { host: c.host } : {}) });
  }
  return out;
}

function reviewedControls(owed: readonly PlannedCheck[]): Json {
  const ids = [...new Set(owed.map((c) => c.control))];
  return {
    description: 'The driftless controls the run plan owes on at least one host or fleet.',
    'control-selections': [{ 'include-controls': (ids.length ? ids : ['none']).map((id) => ({ 'control-id': oscalId(id) })) }],
  };
}

function assessmentPlan(input: RenderInput, catalogSha256: string): Json {
  const { runs, owed } = input;
  const ident = runs.map((r) => r.runId).join(' + ') || 'unknown';
  const providerOf = (fleet: string) => runs.flatMap((r) => r.fleets).find((f) => f.name === fleet)?.provider ?? 'unknown';
  const subjects = [...subjectsOf(owed).values()];
  return {
    'assessment-plan': {
      uuid: uuidOf('assessment-plan', ...runs.map((r) => r.planHash), ident),
      metadata: {
        title: oneLine(`driftless run plan of run ${ident}`),
        'last-modified': runs[0]?.startedAt ?? input.verdict.generatedAt,
        version: runs.map((r) => r.planHash).join(' ') || 'none',
        'oscal-version': OSCAL_VERSION,
        props: [...runs.map((r) => prop('run-id', r.runId)), ...runs.map((r) => prop('plan-hash', r.planHash))],
      },
      'import-ssp': { href: `#${SSP_RESOURCE}` },
      ...(subjects.length
        ? {
            'local-definitions': {
              'inventory-items': subjects.map((s) => ({
                uuid: s.uuid,
                description: s.host ? `Host ${s.host} of fleet ${s.fleet} (${providerOf(s.fleet)}).` : `Fleet ${s.fleet} as a whole (${providerOf(s.fleet)}).`,
                props: [prop('fleet', s.fleet), ...(s.host ? [prop('host', s.host)] : []), prop('provider', providerOf(s.fleet))],
              })),
            },
          }
        : {}),
      'reviewed-controls': reviewedControls(owed),
      ...(subjects.length
        ? {
            'assessment-subjects': [
              {
                type: 'inventory-item',
                description: 'The hosts (and fleets, for fleet-wide checks) of the run plan.',
                'include-subjects': subjects.map((s) => ({ 'subject-uuid': s.uuid, type: 'inventory-item' })),
              },
            ],
          }
        : {}),
      'back-matter': {
        resources: [
          {
            uuid: SSP_RESOURCE,
            title: 'System security plan (not written by driftless)',
            description:
              'driftless assesses the fleets its config names; it does not write a system security plan. Link the system security plan of the system under assessment here.',
          },
          {
            uuid: CATALOG_RESOURCE,
            title: 'driftless controls catalog',
            rlinks: [{ href: 'catalog.json', 'media-type': 'application/json', hashes: [{ algorithm: 'SHA-256', value: catalogSha256 }] }],
          },
        ],
      },
    },
  };
}

function assessmentResults(input: RenderInput, planSha256: string): Json {
  const { runs, owed, byCheck, verdict: v } = input;
  const ident = runs.map((r) => r.runId).join(' + ') || 'unknown';
  const subjects = subjectsOf(owed);
  const fresh = newIds(v.changes);
  const evidence = new Map<string, Json>();
  const observations: Json[] = [];
  const findings: Json[] = [];
  const outcomeOf = (r: CheckRecord | undefined) => (!r ? 'not-run' : r.outcome);
  for (const c of owed) {
    const r = byCheck.get(c.id);
    const outcome = outcomeOf(r);
    const message = r ? firstLine(r.message) : 'no result answers this owed check';
    const obs = uuidOf('observation', c.id, r?.runId ?? '');
    const refs = (r?.evidence ?? []).map((e) => {
      const id = uuidOf('evidence', e.sha256);
      if (!evidence.has(id))
        evidence.set(id, {
          uuid: id,
          title: oneLine(e.name),
          rlinks: [{ href: input.evidencePath(r!, e), 'media-type': e.contentType, hashes: [{ algorithm: 'SHA-256', value: e.sha256 }] }],
        });
      return { href: `#${id}`, description: `${e.name} (sha256 ${e.sha256}, ${e.bytes} bytes)` };
    });
    observations.push({
      uuid: obs,
      title: oneLine(c.title),
      description: `${where(c)}: ${outcome}${message ? `: ${message}` : ''}`,
      props: [prop('check-id', c.id), prop('control', c.control), prop('outcome', outcome), ...(r?.category ? [prop('category', r.category)] : [])],
      methods: ['TEST'],
      subjects: [{ 'subject-uuid': subjects.get(`${c.fleet}/${c.host ?? ''}`)!.uuid, type: 'inventory-item' }],
      ...(refs.length ? { 'relevant-evidence': refs } : {}),
      collected: r?.finishedAt ?? v.generatedAt,
    });
    const notChecked = !r || r.outcome === 'broken' || r.outcome === 'skipped';
    if (r?.outcome !== 'failed' && !notChecked) continue;
    const isNew = fresh.has(c.id);
    findings.push({
      uuid: uuidOf('finding', c.id, r?.runId ?? ''),
      title: oneLine(`${c.control} ${r?.outcome === 'failed' ? 'violated' : 'not checked'} on ${where(c)}`),
      description:
        r?.outcome === 'failed'
          ? `${isNew ? 'NEW since the baseline: ' : ''}[${r.category}] ${message}`
          : `Not checked (${outcome}): ${message}. Never satisfied.`,
      props: [
        prop('check-id', c.id),
        prop('outcome', outcome),
        ...(r?.outcome === 'failed' && v.changes ? [prop('baseline-state', isNew ? 'new' : 'unchanged')] : []),
      ],
      target: {
        type: 'statement-id',
        'target-id': `${oscalId(c.control)}_smt`,
        status: { state: 'not-satisfied', reason: r?.outcome === 'failed' ? 'fail' : 'other' },
      },
      'related-observations': [{ 'observation-uuid': obs }],
    });
  }
  const starts = runs.map((r) => r.startedAt).sort();
  const ends = runs
    .map((r) => r.finished?.at)
    .filter((x): x is string => !!x)
    .sort();
  return {
    'assessment-results': {
      uuid: uuidOf('assessment-results', ident, v.generatedAt),
      metadata: {
        title: oneLine(`driftless assessment results of run ${ident}: ${v.verdict}`),
        'last-modified': v.generatedAt,
        version: ident,
        'oscal-version': OSCAL_VERSION,
        props: [...runs.map((r) => prop('run-id', r.runId)), ...runs.map((r) => prop('plan-hash', r.planHash))],
      },
      'import-ap': { href: 'assessment-plan.json' },
      results: [
        {
          uuid: uuidOf('result', ident),
          title: oneLine(`driftless run ${ident}`),
          description: `Verdict: ${v.verdict} (exit ${v.exitCode}). ${v.evidence?.statement ?? 'UNSIGNED'}.`,
          start: starts[0] ?? v.generatedAt,
          ...(ends.length && ends.length === runs.length ? { end: ends.at(-1) } : {}),
          props: [
            prop('verdict', v.verdict),
            prop('exit-code', String(v.exitCode)),
            prop('assessment-plan-sha256', planSha256),
            ...(v.changes ? [prop('baseline-run-id', v.changes.baseline.runId)] : []),
          ],
          'reviewed-controls': reviewedControls(owed),
          ...(observations.length ? { observations } : {}),
          ...(findings.length ? { findings } : {}),
          ...(v.incomplete.length ? { remarks: `Not fully checked:\n\n${v.incomplete.map((x) => `- ${x}`).join('\n')}` } : {}),
        },
      ],
      ...(evidence.size ? { 'back-matter': { resources: [...evidence.values()] } } : {}),
    },
  };
}

const where = (c: { fleet: string; host?: string }) => (c.host ? `${c.fleet}/${c.host}` : `fleet ${c.fleet}`);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Renders outputs/oscal/{catalog,assessment-plan,assessment-results}.json; returns their paths. */
export function writeOscal(dir: string, input: RenderInput): string[] {
  const out = path.join(dir, OSCAL_DIR);
  fs.mkdirSync(out, { recursive: true });
  const catalog = catalogText(input.verdict.generatedAt);
  const plan = JSON.stringify(assessmentPlan(input, sha256(catalog)), null, 2) + '\n';
  const results = JSON.stringify(assessmentResults(input, sha256(plan)), null, 2) + '\n';
  const files: Array<[string, string]> = [
    ['catalog.json', catalog],
    ['assessment-plan.json', plan],
    ['assessment-results.json', results],
  ];
  for (const [name, body] of files) fs.writeFileSync(path.join(out, name), body);
  return files.map(([name]) => path.join(out, name));
}
