/**
 * The lab's evidence keys: `lab up` writes the signing key and its public half next to it, and the
 * lab config signs with the one and names the other as report.verifyKey, so `driftless verify`
 * works on the demo with no --key. A lab whose public half is missing (made before it) gets it back.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { parseTrustedKey } from '../../core/public-key.ts';
import { REPO_ROOT } from '../../core/paths.ts';
import { ensureEvidenceKey } from '../../lab/keys.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-lab-keys-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const spki = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('hex');

test('the signing key and its public half, which verify trusts; a missing public half is written again', () => {
  const dir = path.join(tmp, 'lab');
  const k = ensureEvidenceKey({ dir });
  assert.equal(k.verifyKey, path.join(dir, 'evidence_ed25519.pub.pem'));
  const priv = fs.readFileSync(k.signingKey, 'utf8');
  const pub = fs.readFileSync(k.verifyKey, 'utf8');
  assert.ok('key' in parseTrustedKey(pub, k.verifyKey), 'the public half is a key verify trusts');
  assert.equal(spki(pub), createPublicKey(createPrivateKey(priv)).export({ type: 'spki', format: 'der' }).toString('hex'));
  fs.rmSync(k.verifyKey);
  ensureEvidenceKey({ dir });
  assert.equal(fs.readFileSync(k.verifyKey, 'utf8'), pub, 'rewritten from the same signing key');
  assert.equal(fs.readFileSync(k.signingKey, 'utf8'), priv, 'the signing key is made once');
});

test('the lab config signs with the lab key and names its public half as report.verifyKey', () => {
  const cfg = parse(fs.readFileSync(path.join(REPO_ROOT, 'driftless.config.yaml'), 'utf8')) as { report: { signingKey: string; verifyKey?: string } };
  const k = ensureEvidenceKey({ dir: path.join(tmp, '.driftless', 'lab') });
  assert.equal(path.resolve(tmp, cfg.report.signingKey), k.signingKey);
  assert.equal(path.resolve(tmp, cfg.report.verifyKey ?? '(none)'), k.verifyKey);
});
