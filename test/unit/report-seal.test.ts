/**
 * Forged results never get a signed report (issue 24, item 1): with a signing key, a results
 * folder that is unsealed, sealed but unsigned, or signed by another key is refused (exit 3,
 * named); a result edited after its run is refused whatever the key. The refusals come before
 * anything is generated, so no Allure run is needed here.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { recordCheck } from '../../core/check-record.ts';
import { RunContextError } from '../../core/errors.ts';
import { CHECKS_DIR, EvidenceStore, writeChecks } from '../../core/results-folder.ts';
import { type PlannedCheck, planHash, type RunPlan } from '../../core/run-plan.ts';
import { EVIDENCE_FILE, writeEvidence } from '../../reports/evidence.ts';
import { buildReport } from '../../reports/report.ts';
import { type RunRecord, writeRunRecord } from '../../reports/run-record.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-seal-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function keyFile(name: string): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const file = path.join(tmp, `${name}.pem`);
  fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}
const KEY = keyFile('report');
const OTHER = keyFile('other');

const check: PlannedCheck = { id: 'web/h1/DL-SSH-040', control: 'DL-SSH-040', suite: 'ssh-edits', fleet: 'web', host: 'h1', title: 'DL-SSH-040 x', story: 'x' };
const plan: RunPlan = { suites: ['ssh-edits'], checks: [check], notApplicable: [] };

/** A finished results folder with one failed check, sealed by `seal` (absent: no bundle at all). */
async function folder(name: string, seal: 'none' | 'unsigned' | string): Promise<string> {
  const dir = path.join(tmp, name);
  const record: RunRecord = {
    runId: name,
    seed: 1,
    seedFrom: 'random',
    startedAt: new Date().toISOString(),
    harnessVersion: '0.1.0',
    config: { file: '/c.yaml', sha256: 'a'.repeat(64) },
    fleets: [{ name: 'web', provider: 'ssh', hosts: 1 }],
    inventory: [],
    release: {},
    planHash: planHash(plan),
    plan,
    shard: null,
    owed: [check.id],
    dryRun: false,
    inputs: { release: null, waivers: null },
    finished: { at: new Date().toISOString(), phases: [{ phase: 'audit', recorded: 'ok', audits: 'ok' }] },
  };
  writeRunRecord(dir, record);
  const store = new EvidenceStore(dir);
  const at = new Date().toISOString();
  const r = recordCheck(
    check,
    { check: check.id, status: 'failed', violation: 'mutable-host', message: 'sudo -n true succeeded', evidence: [] },
    {
      runId: name,
      runStartedAt: at,
      waivers: [],
      secrets: [],
      store: store.ref,
      timing: { startedAt: at, finishedAt: at },
    },
  );
  await writeChecks(dir, { version: 1, runId: name, suite: 'ssh-edits', records: [r] });
  if (seal !== 'none')
    writeEvidence(dir, {
      kind: 'results',
      runIds: [name],
      harness: { version: '0.1.0', lockfileSha256: null },
      inputs: [],
      planHashes: [record.planHash],
      verdict: { verdict: 'violations', exitCode: 1 },
      ...(seal !== 'unsigned' ? { signingKey: seal } : {}),
    });
  return dir;
}

/** The forger's edit: the failed check now says passed. */
function forge(dir: string): void {
  const file = path.join(dir, CHECKS_DIR, 'ssh-edits.json');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"outcome":"failed"', '"outcome":"passed"'));
}

const report = (dir: string, signingKey?: string) =>
  buildReport({
    inputs: [dir],
    out: path.join(tmp, `report-${path.basename(dir)}`),
    verdictFile: path.join(tmp, 'verdict.json'),
    staging: path.join(tmp, `staging-${path.basename(dir)}`),
    ...(signingKey ? { signingKey } : {}),
  });
const refused = (what: RegExp) => (err: unknown) => err instanceof RunContextError && err.exitCode === 3 && what.test(err.message);

describe('with a signing key, only results signed by it are reported', () => {
  test('a forged result with its bundle deleted: refused, the folder named', async () => {
    const dir = await folder('no-bundle', KEY);
    forge(dir);
    fs.rmSync(path.join(dir, EVIDENCE_FILE));
    await assert.rejects(report(dir, KEY), refused(new RegExp(`${dir}: no ${EVIDENCE_FILE}: not sealed by its run`)));
  });

  test('a forged result resealed without a signature: refused', async () => {
    const dir = await folder('resealed', 'unsigned');
    forge(dir);
    fs.rmSync(path.join(dir, EVIDENCE_FILE));
    writeEvidence(dir, { kind: 'results', runIds: ['resealed'], harness: { version: '0', lockfileSha256: null }, inputs: [], planHashes: [], verdict: null });
    await assert.rejects(report(dir, KEY), refused(/resealed: the bundle is not signed/));
  });

  test('a forged result resealed with another key: refused', async () => {
    const dir = await folder('other-key', OTHER);
    await assert.rejects(report(dir, KEY), refused(/other-key: signed by key SHA256:\S+, not by the trusted key/));
  });

  test('a result edited after its run is refused even without a key', async () => {
    const dir = await folder('edited', 'unsigned');
    forge(dir);
    await assert.rejects(report(dir), refused(/edited: changed checks\/ssh-edits\.json/));
  });
});
