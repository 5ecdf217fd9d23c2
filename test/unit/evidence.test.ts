/**
 * The evidence bundle and `driftless verify`, on a folder of real files signed with a real
 * Ed25519 key: intact is exit 0; one changed byte, a removed file, an added file, an edited
 * bundle or another key is exit 1 naming what; an unsigned bundle is exit 3; no bundle is exit 2.
 * (The same against a real run and its report: test/integration/demo-report.test.ts.)
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EVIDENCE_FILE, verifyEvidence, writeEvidence } from '../../reports/evidence.ts';
import { driftless } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-evidence-'));
const keyFile = path.join(tmp, 'signing.pem');
const pubFile = path.join(tmp, 'signing.pub.pem');
const otherPub = path.join(tmp, 'other.pub.pem');

function keypair(priv: string | undefined, pub: string): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  if (priv) fs.writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
}

/** A results-like folder: results, an attachment in a subfolder, and a bundle over them. */
function folder(name: string, signed = true): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a-result.json'), JSON.stringify({ status: 'failed', name: 'DL-SSH-010 on web-1' }));
  fs.writeFileSync(path.join(dir, 'b-result.json'), JSON.stringify({ status: 'passed', name: 'DL-SSH-010 on web-2' }));
  fs.writeFileSync(path.join(dir, 'data', 'c-attachment.json'), '{"errno":"EROFS"}');
  writeEvidence(dir, {
    kind: 'results',
    runIds: ['r1'],
    harness: { version: '0.1.0', lockfileSha256: null },
    inputs: [{ what: 'config', file: '/x/driftless.config.yaml', sha256: 'f'.repeat(64) }],
    planHashes: ['p'.repeat(64)],
    verdict: { verdict: 'violations', exitCode: 1 },
    ...(signed ? { signingKey: keyFile } : {}),
  });
  return dir;
}

const verify = (dir: string, key = pubFile) => driftless(['verify', dir, '--key', key]);

before(() => {
  keypair(keyFile, pubFile);
  keypair(undefined, otherPub);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('driftless verify', () => {
  test('an intact, signed folder verifies: exit 0 with the key fingerprint', async () => {
    const dir = folder('intact');
    const bundle = JSON.parse(fs.readFileSync(path.join(dir, EVIDENCE_FILE), 'utf8'));
    assert.deepEqual(
      bundle.files.map((f: { path: string }) => f.path),
      ['a-result.json', 'b-result.json', 'data/c-attachment.json'],
    );
    assert.ok(!JSON.stringify(bundle).includes('PRIVATE KEY'), 'the bundle carries the public key only');
    const r = await verify(dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /verified: every file as signed by SHA256:[A-Za-z0-9+/]{43}/);
  });

  test('one changed byte of an attachment: exit 1 naming the file', async () => {
    const dir = folder('byte');
    const f = path.join(dir, 'data', 'c-attachment.json');
    const b = fs.readFileSync(f);
    b[10] = b[10]! ^ 1;
    fs.writeFileSync(f, b);
    const r = await verify(dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^changed: data\/c-attachment\.json$/m);
    assert.match(r.stdout, /FAILED verification/);
  });

  test('a removed result and an added file: exit 1 naming both', async () => {
    const dir = folder('removed-added');
    fs.rmSync(path.join(dir, 'a-result.json'));
    fs.writeFileSync(path.join(dir, 'z-result.json'), JSON.stringify({ status: 'passed' }));
    const r = await verify(dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^removed: a-result\.json$/m);
    assert.match(r.stdout, /^added: z-result\.json$/m);
  });

  test('a bundle edited to hide a change (its hash rewritten) no longer matches its signature', async () => {
    const dir = folder('rehashed');
    fs.writeFileSync(path.join(dir, 'a-result.json'), JSON.stringify({ status: 'passed', name: 'DL-SSH-010 on web-1' }));
    const file = path.join(dir, EVIDENCE_FILE);
    const bundle = JSON.parse(fs.readFileSync(file, 'utf8'));
    // What a forger would do: put the edited file's own hash in the list.
    bundle.files[0].sha256 = createHash('sha256')
      .update(fs.readFileSync(path.join(dir, 'a-result.json')))
      .digest('hex');
    fs.writeFileSync(file, JSON.stringify(bundle, null, 2));
    const v = verifyEvidence(dir);
    assert.deepEqual(v.changed, [], 'the file list now agrees with the files');
    assert.equal(v.signatureValid, false);
    const r = await verify(dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /problem: the signature does not match the bundle/);
  });

  test('a truncated bundle: exit 1, not a crash', async () => {
    const dir = folder('truncated');
    const file = path.join(dir, EVIDENCE_FILE);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 100));
    const r = await verify(dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /is not a readable evidence bundle .*: it was edited or truncated/);
  });

  test('signed by another key than the trusted one: exit 1 naming both fingerprints', async () => {
    const r = await verify(folder('other-key'), otherPub);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /problem: signed by key SHA256:\S+, not by the trusted key SHA256:\S+/);
  });

  test('an unsigned folder: exit 3, it says nothing can be verified', async () => {
    const r = await verify(folder('unsigned', false));
    assert.equal(r.code, 3);
    assert.match(r.stdout, /NOT SIGNED: nothing can be verified/);
  });

  test('a folder without a bundle: exit 2 naming it', async () => {
    const dir = path.join(tmp, 'empty');
    fs.mkdirSync(dir);
    const r = await verify(dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${dir} has no ${EVIDENCE_FILE}`));
  });
});
