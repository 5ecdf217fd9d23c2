/**
 * The evidence bundle and `driftless verify`, on a folder of real files signed with a real
 * Ed25519 key: intact is exit 0, naming the kind, run id, time and key verified; one changed byte,
 * a removed file, an added file, an edited bundle (its run id or time too) or another key is
 * exit 1 naming what; an unsigned bundle is exit 3; no bundle is exit 2. The trusted key is a
 * public key (--key, else the config's report.verifyKey): a private key, or a config with only
 * report.signingKey, is exit 2. (The same against a real run and its report:
 * test/integration/demo-report.test.ts.)
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EVIDENCE_FILE, verifyEvidence, writeEvidence } from '../../reports/evidence.ts';
import { driftless } from '../helpers/cli.ts';
import { config } from '../helpers/config.ts';

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

/** A valid config in the temp dir with this report section. */
function configWith(name: string, report: string): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, config({ extra: `report:\n${report}\n` }));
  return file;
}

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
    // What was verified: the kind, the run, its time, and the key it was checked against.
    assert.match(r.stdout, /^ {2}kind: results$/m);
    assert.match(r.stdout, /^ {2}run: r1$/m);
    assert.match(r.stdout, new RegExp(`^ {2}created: ${bundle.createdAt.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(
      r.stdout,
      new RegExp(`^ {2}key: ${bundle.signature.keyFingerprint.replace(/[+/]/g, '\\$&')} \\(--key ${pubFile.replace(/[.]/g, '\\.')}\\)$`, 'm'),
    );
  });

  test('a private key given to --key is refused: exit 2, saying to pass its public half', async () => {
    const r = await verify(folder('private-key'), keyFile);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /DL_VERIFY_KEY|is a private key/);
    assert.match(r.stderr, /--key: .*signing\.pem is a private key: .*openssl pkey -in .*signing\.pem -pubout/);
    assert.doesNotMatch(r.stdout, /verified/);
  });

  test('a file that is no key given to --key: exit 2', async () => {
    const junk = path.join(tmp, 'junk.pem');
    fs.writeFileSync(junk, 'not a key\n');
    const r = await verify(folder('junk-key'), junk);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /junk\.pem is not a public key in PEM/);
  });

  test("without --key, the config's report.verifyKey (relative to the config) is trusted: exit 0 naming it", async () => {
    const cfg = configWith('verify-key', '  signingKey: signing.pem\n  verifyKey: signing.pub.pem');
    const r = await driftless(['verify', folder('by-config'), '--config', cfg]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^ {2}key: SHA256:\\S+ \\(report\\.verifyKey ${pubFile.replace(/[.]/g, '\\.')}\\)$`, 'm'));
  });

  test('a config with report.signingKey only: exit 2, the signing key is never what a verification trusts', async () => {
    const cfg = configWith('signing-only', '  signingKey: signing.pem');
    const r = await driftless(['verify', folder('signing-only'), '--config', cfg]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /no public key to verify against: pass --key <public key PEM>, or name one in the config .* as report\.verifyKey/);
    assert.doesNotMatch(r.stdout, /verified/);
  });

  test('a config whose report.verifyKey is a private key is invalid: exit 2', async () => {
    const cfg = configWith('verify-private', '  verifyKey: signing.pem');
    const r = await driftless(['verify', folder('verify-private'), '--config', cfg]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /\/report\/verifyKey.*signing\.pem is a private key/);
  });

  test('a config whose report.verifyKey is another public key: exit 1', async () => {
    const cfg = configWith('verify-other', `  verifyKey: ${path.basename(otherPub)}`);
    const r = await driftless(['verify', folder('verify-other'), '--config', cfg]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /problem: signed by key SHA256:\S+, not by the trusted key SHA256:\S+/);
  });

  test('the signature covers the run id and the time: a bundle passed off as another run, or moved in time, fails', async () => {
    for (const [name, edit] of [
      ['run-id', (b: { runIds: string[] }) => (b.runIds = ['r2'])],
      ['created-at', (b: { createdAt: string }) => (b.createdAt = '2020-01-01T00:00:00.000Z')],
    ] as const) {
      const dir = folder(`edited-${name}`);
      const file = path.join(dir, EVIDENCE_FILE);
      const bundle = JSON.parse(fs.readFileSync(file, 'utf8'));
      edit(bundle);
      fs.writeFileSync(file, JSON.stringify(bundle, null, 2));
      const r = await verify(dir);
      assert.equal(r.code, 1, `${name}: ${r.stdout}`);
      assert.match(r.stdout, /problem: the signature does not match the bundle/);
      assert.doesNotMatch(r.stdout, /r2|2020-01-01/, 'an unverified claim is never printed');
    }
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
