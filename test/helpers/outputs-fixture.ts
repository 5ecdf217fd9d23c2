/**
 * Two nightly runs of one small plan, as typed results folders, for the output renderers' tests:
 * between them a host was fixed (h1), one broke (h2: a new violation, and its manifest check
 * could not tell), one kept failing (h3), and a violation got waived (d1). The records come from
 * recordCheck, so messages and evidence are redacted as in a real run (SECRET never survives).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../../core/check-result.ts';
import { type CheckRecord, recordCheck } from '../../core/check-record.ts';
import { EvidenceStore, writeChecks } from '../../core/results-folder.ts';
import { type PlannedCheck, plannedCheck, planHash, type RunPlan } from '../../core/run-plan.ts';
import type { Waiver } from '../../core/waivers.ts';
import { mergeRecords, type RunRecord, writeRunRecord } from '../../reports/run-record.ts';
import { answersOf, type Verdict, verdictOf } from '../../reports/verdict.ts';
import { SECRET } from './config.ts';

const edit = (host: string) => plannedCheck('DL-SSH-010', { fleet: 'web', host }, { id: 'canary:/etc', what: 'create a canary in /etc' });
const manifest = (host: string) => plannedCheck('DL-IMG-006', { fleet: 'web', host });
export const CHECKS: PlannedCheck[] = [
  edit('h1'),
  edit('h2'),
  edit('h3'),
  manifest('h1'),
  manifest('h2'),
  manifest('h3'),
  plannedCheck('DL-SSH-040', { fleet: 'db', host: 'd1' }),
  plannedCheck('DL-SSH-001', { fleet: 'db', host: 'd1' }),
];
export const [H1_EDIT, H2_EDIT, H3_EDIT, H1_MANIFEST, H2_MANIFEST, H3_MANIFEST, D1_SUDO, D1_LOGIN] = CHECKS.map((c) => c.id) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const PLAN: RunPlan = { suites: ['ssh-edits', 'image-integrity'], checks: CHECKS, notApplicable: [] };

type Outcome = Omit<CheckResult, 'check' | 'evidence'> & { evidence?: CheckResult['evidence'] };
const pass: Outcome = { status: 'passed', evidence: [{ name: 'evidence', contentType: 'application/json', body: '{"errno":"EROFS"}' }] };
const mutable = (host: string): Outcome => ({
  status: 'failed',
  violation: 'mutable-host',
  tainted: true,
  message: `ALLOWED: created /etc/.driftless-canary on ${host}`,
  evidence: [{ name: 'transcript', contentType: 'text/plain', body: `$ touch /etc/.driftless-canary\nexit 0 on ${host}` }],
});

/** The two nights: undefined leaves the check without a result (not run). */
export const NIGHT_1: Record<string, Outcome | undefined> = {
  [H1_EDIT]: mutable('h1'),
  [H2_EDIT]: pass,
  [H3_EDIT]: mutable('h3'),
  [H1_MANIFEST]: pass,
  [H2_MANIFEST]: pass,
  [H3_MANIFEST]: { status: 'broken', message: 'the manifest stream is incomplete' },
  [D1_SUDO]: { status: 'failed', violation: 'mutable-host', message: '`sudo -n true` succeeded' },
  [D1_LOGIN]: { status: 'not-applicable', message: 'policy.ssh.mode is read-only' },
};
export const NIGHT_2: Record<string, Outcome | undefined> = {
  [H1_EDIT]: pass, // fixed
  [H2_EDIT]: {
    ...mutable('h2'),
    // A secret that reached a message and a transcript: the record is redacted, so no output has it.
    message: `ALLOWED: created /etc/.driftless-canary on h2 (sudo password ${SECRET})`,
    evidence: [{ name: 'transcript', contentType: 'text/plain', body: `echo ${SECRET} | sudo -S touch /etc/x` }],
  },
  [H3_EDIT]: mutable('h3'), // still failing
  [H1_MANIFEST]: pass,
  [H2_MANIFEST]: { status: 'broken', message: 'ssh: connect timed out after 10000 ms' }, // newly broken
  [H3_MANIFEST]: undefined, // not run, as it was broken before: not newly broken
  [D1_SUDO]: { status: 'failed', violation: 'mutable-host', message: '`sudo -n true` succeeded' }, // waived below
  [D1_LOGIN]: { status: 'not-applicable', message: 'policy.ssh.mode is read-only' },
};

export interface Night {
  dir: string;
  runId: string;
  record: RunRecord;
  records: CheckRecord[];
  owed: PlannedCheck[];
  byCheck: Map<string, CheckRecord>;
  verdict: Verdict;
}

/** A finished, unsharded results folder of `runId` with the given outcomes. */
export async function night(
  root: string,
  runId: string,
  startedAt: string,
  outcomes: Record<string, Outcome | undefined>,
  waivers: Waiver[] = [],
): Promise<Night> {
  const dir = path.join(root, runId);
  fs.mkdirSync(dir, { recursive: true });
  const record: RunRecord = {
    runId,
    seed: 7,
    seedFrom: 'random',
    startedAt,
    harnessVersion: '0.1.0',
    config: { file: path.join(root, 'driftless.config.yaml'), sha256: 'c'.repeat(64) },
    fleets: [
      { name: 'web', provider: 'docker', hosts: 3 },
      { name: 'db', provider: 'ssh', hosts: 1 },
    ],
    inventory: [],
    release: {},
    planHash: planHash(PLAN),
    plan: PLAN,
    shard: null,
    owed: CHECKS.map((c) => c.id),
    dryRun: false,
    inputs: { release: null, waivers: null },
    finished: { at: new Date(Date.parse(startedAt) + 60_000).toISOString(), phases: [{ phase: 'audit', recorded: 'ok', audits: 'ok' }] },
  };
  writeRunRecord(dir, record);
  const store = new EvidenceStore(dir);
  const at = new Date(Date.parse(startedAt) + 1000).toISOString();
  const ctx = { runId, runStartedAt: startedAt, waivers, secrets: [SECRET], store: store.ref, timing: { startedAt: at, finishedAt: at } };
  const records = CHECKS.filter((c) => outcomes[c.id]).map((c) => recordCheck(c, { check: c.id, evidence: [], ...outcomes[c.id]! }, ctx));
  await store.flush();
  for (const suite of ['ssh-edits', 'image-integrity'] as const)
    await writeChecks(dir, { version: 1, runId, suite, records: records.filter((r) => r.suite === suite) });
  const merged = mergeRecords([{ dir, record }], false);
  const { owed, byCheck } = answersOf(records, merged);
  return { dir, runId, record, records, owed, byCheck, verdict: verdictOf(records, merged) };
}

/** The config file the run records name, so SARIF can anchor its results at the fleets' lines. */
export function writeConfig(root: string): void {
  fs.writeFileSync(path.join(root, 'driftless.config.yaml'), 'version: 1\ntargets:\n  - name: web\n    provider: docker\n  - name: db\n    provider: ssh\n');
}
