/**
 * The lab's pipeline signs what it builds (lab/attest.ts), without the lab: the attestation it
 * writes for a given digest is where DL-IMG-020 looks for it, verifies against the lab key's public
 * half, and names the build inputs' hash and the commit; an image from the cache keeps the
 * attestation it was built with; the snowflake image is never attested; the build-input id
 * follows the inputs, not the checkout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { bundleNames, runningImage, trustedKey, verifyProvenance } from '../../audits/image/provenance.ts';
import { type InTotoStatement, keyFingerprint } from '../../core/provenance.ts';
import { attestBuilds, attestImage, buildInputsId, cleanCommit, LAB_BUILDER, LAB_REPOSITORY, type LabBuild } from '../../lab/attest.ts';
import { ensureProvenanceKey } from '../../lab/keys.ts';
import { ATTESTED_IMAGES, makePlan } from '../../lab/lab-plan.ts';
import { labRelease } from '../../lab/release.ts';

const DIGEST = 'sha256:' + '4'.repeat(64);
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
let dir: string;
let keyFile: string;

const build = (over: Partial<LabBuild> = {}): LabBuild => ({
  ref: 'driftless-lab/web:cattle',
  digest: DIGEST,
  context: 'lab/images/app',
  target: 'cattle',
  args: { BASE: 'driftless-lab/base:bookworm' },
  source: 'sha256:' + '1'.repeat(64),
  commit: COMMIT,
  startedOn: '2025-01-01T00:00:00.000Z',
  finishedOn: '2025-01-01T00:00:30.000Z',
  ...over,
});
const statementOf = (file: string) =>
  JSON.parse(
    Buffer.from((JSON.parse(fs.readFileSync(file, 'utf8')) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString(),
  ) as InTotoStatement;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-lab-attest-'));
  keyFile = ensureProvenanceKey({ dir } as never);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the lab key is ECDSA P-256 (as cosign makes), made once, with its public half beside it', () => {
  const before = fs.readFileSync(keyFile, 'utf8');
  assert.equal(ensureProvenanceKey({ dir } as never), keyFile);
  assert.equal(fs.readFileSync(keyFile, 'utf8'), before);
  const key = createPrivateKey(before);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const pub = createPublicKey(fs.readFileSync(keyFile.replace(/\.pem$/, '.pub.pem'), 'utf8'));
  assert.equal(keyFingerprint(pub), keyFingerprint(createPublicKey(key)));
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
});

test('the attestation of a build: kept under its digest, signed by the lab key, naming the digest, the builder, the inputs and the commit', async () => {
  const out = path.join(dir, 'attestations');
  const a = await attestImage(out, keyFile, build());
  assert.equal(a.reused, false);
  assert.equal(a.file, path.join(out, `sha256-${'4'.repeat(64)}.sigstore.json`));
  assert.deepEqual(bundleNames({ id: DIGEST }), [path.basename(a.file)], 'where DL-IMG-020 looks for it');
  const st = statementOf(a.file);
  assert.deepEqual(st.subject, [{ name: 'driftless-lab/web:cattle', digest: { sha256: '4'.repeat(64) } }]);
  assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1');
  const p = st.predicate as { runDetails: { builder: { id: string } }; buildDefinition: { resolvedDependencies: unknown[]; externalParameters: unknown } };
  assert.equal(p.runDetails.builder.id, LAB_BUILDER);
  assert.deepEqual(p.buildDefinition.resolvedDependencies, [
    { uri: LAB_REPOSITORY, name: 'lab/images/app', digest: { sha256: '1'.repeat(64) } },
    { uri: `${LAB_REPOSITORY}@${COMMIT}`, digest: { gitCommit: COMMIT } },
  ]);
  assert.deepEqual(p.buildDefinition.externalParameters, { context: 'lab/images/app', target: 'cattle', buildArgs: { BASE: 'driftless-lab/base:bookworm' } });
  // and DL-IMG-020's verifier accepts it, with the lab config's expectations
  const pub = createPublicKey(createPrivateKey(fs.readFileSync(keyFile, 'utf8')))
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const facts = verifyProvenance({
    running: runningImage({ id: DIGEST }),
    lookedAt: [a.file],
    bundle: { file: a.file, from: 'bundles', bytes: fs.readFileSync(a.file) },
    keys: [trustedKey('lab.pub.pem', pub)],
    expected: { builder: LAB_BUILDER, repository: LAB_REPOSITORY, source: a.source },
  });
  assert.deepEqual(facts.failures, []);
  assert.equal(facts.error, undefined);
  assert.deepEqual(facts.source, { uri: LAB_REPOSITORY, id: 'sha256:' + '1'.repeat(64), commit: COMMIT });
});

test('an image from the cache keeps the attestation it was built with, and its source; no commit when the tree was dirty', async () => {
  const out = path.join(dir, 'cache');
  const first = await attestImage(out, keyFile, build({ commit: undefined }));
  const bytes = fs.readFileSync(first.file);
  assert.deepEqual(first, { file: first.file, source: 'sha256:' + '1'.repeat(64), reused: false });
  const deps = (statementOf(first.file).predicate as { buildDefinition: { resolvedDependencies: unknown[] } }).buildDefinition.resolvedDependencies;
  assert.equal(deps.length, 1, 'no commit recorded for a dirty tree');
  // the same digest again, say after an edit the build did not use: the first attestation stands
  const again = await attestImage(out, keyFile, build({ source: 'sha256:' + '2'.repeat(64), commit: COMMIT }));
  assert.deepEqual(again, { file: first.file, source: 'sha256:' + '1'.repeat(64), reused: true });
  assert.deepEqual(fs.readFileSync(first.file), bytes);
});

test('the pipeline attests every image it builds; an image it is not told to attest (built by hand) gets none, and its release entry still names its source', async () => {
  assert.deepEqual([...ATTESTED_IMAGES], ['cattle', 'snowflake', 'infra']);
  const out = path.join(dir, 'builds');
  const lines: string[] = [];
  const snow = build({ ref: 'driftless-lab/web:snowflake', digest: 'sha256:' + '7'.repeat(64), source: 'sha256:' + '8'.repeat(64) });
  const sources = await attestBuilds(out, keyFile, { cattle: build(), snowflake: snow }, ['cattle', 'infra'], (l) => lines.push(l));
  assert.deepEqual(sources, { cattle: 'sha256:' + '1'.repeat(64), snowflake: 'sha256:' + '8'.repeat(64) });
  assert.deepEqual(fs.readdirSync(out), [`sha256-${'4'.repeat(64)}.sigstore.json`]);
  assert.match(lines.join('\n'), /web:snowflake: not attested \(built by hand/);
  // the release names a source for every service; sticky runs the cattle image
  const release = labRelease(makePlan(), 'lab', {
    cattle: { digest: DIGEST, source: sources.cattle },
    snowflake: { digest: snow.digest, source: sources.snowflake },
  });
  assert.deepEqual(release.services, {
    'cattle-web': { digest: DIGEST, source: sources.cattle },
    'snowflake-web': { digest: snow.digest, source: sources.snowflake },
    'sticky-web': { digest: DIGEST, source: sources.cattle },
  });
});

test('the build-input id follows the inputs (files, executable bit, target, arguments), not where they are', () => {
  const ctx = (name: string) => {
    const d = path.join(dir, name);
    fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(d, 'Dockerfile'), 'FROM x\n');
    fs.writeFileSync(path.join(d, 'sub', 'run.sh'), 'echo hi\n', { mode: 0o644 });
    return d;
  };
  const a = ctx('ctx-a');
  const b = ctx('ctx-b');
  const id = buildInputsId(a, 'cattle', { BASE: 'x' });
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(buildInputsId(b, 'cattle', { BASE: 'x' }), id, 'the same inputs elsewhere');
  assert.notEqual(buildInputsId(a, 'snowflake', { BASE: 'x' }), id);
  assert.notEqual(buildInputsId(a, 'cattle', { BASE: 'x', RELEASE: '2' }), id);
  fs.chmodSync(path.join(b, 'sub', 'run.sh'), 0o755);
  assert.notEqual(buildInputsId(b, 'cattle', { BASE: 'x' }), id);
  fs.writeFileSync(path.join(a, 'sub', 'run.sh'), 'echo ho\n');
  assert.notEqual(buildInputsId(a, 'cattle', { BASE: 'x' }), id);
});

test('the commit is recorded only from a clean checkout', () => {
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo);
  assert.equal(cleanCommit(repo), undefined, 'not a repository');
  const git = (...a: string[]) =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...a], { stdio: 'pipe' })
      .toString()
      .trim();
  git('init', '-q');
  fs.writeFileSync(path.join(repo, 'f'), 'x');
  git('add', 'f');
  git('commit', '-qm', 'one');
  assert.equal(cleanCommit(repo), git('rev-parse', 'HEAD'));
  fs.writeFileSync(path.join(repo, 'g'), 'untracked');
  assert.equal(cleanCommit(repo), undefined);
});
