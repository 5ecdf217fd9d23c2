/**
 * DL-IMG-020, image provenance: Sigstore bundles signed here with @sigstore/sign and a generated
 * key (by the lab's own signing code, and by hand for cosign's v0.2 shape), read from real files
 * by the image gathering's provenance step, verified by @sigstore/verify, judged through the
 * suite. Each of the four ways it breaks is named; no attestation is a violation; an unreadable
 * or keyless bundle is broken.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { planImages } from '../../audits/image/image-plan.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import { gatherProvenance, loadTrustedKeys } from '../../audits/image/provenance-gather.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import type { CheckResult } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';
import { bundleFileName, keyFingerprint, SLSA_PROVENANCE_V02 } from '../../core/provenance.ts';
import { planHash, plannedCheck, type RunPlan } from '../../core/run-plan.ts';
import { recordCheck } from '../../core/check-record.ts';
import { inputsOf } from '../../reports/evidence.ts';
import { matrixHtml } from '../../reports/matrix.ts';
import { mergeRecords, type RunRecord } from '../../reports/run-record.ts';
import { validateVerdict, verdictOf } from '../../reports/verdict.ts';
import { LAB_BUILDER, LAB_REPOSITORY, type LabBuild, labStatement, signStatement } from '../../lab/attest.ts';
import { judge } from '../helpers/suite-run.ts';

const D = 'sha256:' + 'd'.repeat(64); // the image the host runs
const OTHER = 'sha256:' + 'e'.repeat(64);
const SOURCE = 'sha256:' + '5'.repeat(64); // the build inputs the release names
const COMMIT = 'c'.repeat(40);

let dir: string;
let trusted: { pem: string; pub: KeyObject };
let stranger: { pem: string };

const pair = (type: 'ec' | 'ed25519') => {
  const k = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { pem: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pub: k.publicKey };
};
const build = (over: Partial<LabBuild> = {}): LabBuild => ({
  ref: 'web:1',
  digest: D,
  context: 'lab/images/app',
  target: 'cattle',
  args: {},
  source: SOURCE,
  commit: COMMIT,
  startedOn: '2025-01-01T00:00:00Z',
  finishedOn: '2025-01-01T00:01:00Z',
  ...over,
});

let n = 0;
/** A fresh bundles directory holding `bundles` (file name → JSON or raw text) and a config around it. */
function setup(o: { bundles?: Record<string, unknown>; release?: string; policy?: string } = {}): Config {
  const sub = path.join(dir, `case-${++n}`);
  fs.mkdirSync(path.join(sub, 'bundles'), { recursive: true });
  for (const [name, body] of Object.entries(o.bundles ?? {}))
    fs.writeFileSync(path.join(sub, 'bundles', name), typeof body === 'string' ? body : JSON.stringify(body));
  const file = path.join(sub, 'driftless.config.yaml');
  fs.writeFileSync(
    file,
    `version: 1
targets:
  - name: web
    provider: docker
    service: web
    docker: { labels: { app: web } }
release:
  services:
    web: { digest: "${D}", ${o.release ?? `source: "${SOURCE}"`} }
policy:
  provenance:
    keys: [${path.join(dir, 'trusted.pub.pem')}]
    ${o.policy ?? `builder: ${LAB_BUILDER}\n    repository: ${LAB_REPOSITORY}`}
    bundles: bundles
`,
  );
  return loadConfig(file, { env: {}, homeDir: dir });
}

const INVENTORY: FleetSnapshot[] = [{ target: 'web', provider: 'docker', hosts: [] }];
const CHECK = plannedCheck('DL-IMG-020', { fleet: 'web', host: 'web-1' });

/** The judgement of DL-IMG-020 for a host running `image`, from the facts the gathering reads. */
function judged(config: Config, image: HostImageAudit['image'] = { id: D }, provider: 'docker' | 'ec2' = 'docker'): CheckResult {
  const declared = config.release.services.web;
  const a: HostImageAudit = {
    host: 'web-1',
    fleet: 'web',
    provider,
    instanceId: 'c0ffee',
    service: 'web',
    ...(declared ? { declared } : {}),
    image,
    provenance: gatherProvenance({ image }, 'web', declared, config, loadTrustedKeys(config)),
  };
  return judge(imageIntegritySuite, [a], [CHECK], config, INVENTORY)[0]!;
}
const evidence = (r: CheckResult) => JSON.parse(r.evidence.find((e) => e.name === 'provenance')!.body) as Record<string, unknown>;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-provenance-'));
  trusted = pair('ec');
  stranger = pair('ec');
  fs.writeFileSync(path.join(dir, 'trusted.pub.pem'), trusted.pub.export({ type: 'spki', format: 'pem' }));
  fs.writeFileSync(path.join(dir, 'trusted.pem'), trusted.pem);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const signed = (b: LabBuild = build(), pem = trusted.pem) => signStatement(labStatement(b), pem);

describe('DL-IMG-020 image provenance verified', () => {
  test('verifies: signed by a trusted key, for the digest the host runs, by the builder, from the repository and source the release names', async () => {
    const r = judged(setup({ bundles: { [bundleFileName(D)]: await signed() } }));
    assert.equal(r.status, 'passed', r.message);
    // the chain: instance → image → attestation (key, builder) → source (commit)
    assert.equal(r.parameters?.instance, 'c0ffee');
    assert.equal(r.parameters?.image, D);
    assert.match(r.parameters?.attestation ?? '', /bundles\/sha256-d{64}\.sigstore\.json$/);
    assert.match(r.parameters?.attestationSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(r.parameters?.keyFingerprint, keyFingerprint(trusted.pub));
    assert.equal(r.parameters?.builder, LAB_BUILDER);
    assert.equal(r.parameters?.source, SOURCE);
    assert.equal(r.parameters?.commit, COMMIT);
    assert.deepEqual((evidence(r).chain as Record<string, string>).commit, COMMIT);
  });

  test('untrusted key: signed by a key the config does not trust', async () => {
    const r = judged(setup({ bundles: { [bundleFileName(D)]: await signed(build(), stranger.pem) } }));
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'unattested-image');
    assert.match(r.message!, /^untrusted key: its signature verifies against none of the trusted keys \(policy\.provenance\.keys: SHA256:/);
    assert.equal(r.parameters?.keyFingerprint, undefined, 'no key vouches for it');
  });

  test('subject mismatch: the attestation is of another image than the one the host runs', async () => {
    const r = judged(setup({ bundles: { [bundleFileName(D)]: await signed(build({ digest: OTHER })) } }));
    assert.equal(r.status, 'failed');
    assert.match(r.message!, new RegExp(`^subject mismatch: it attests web:1 \\(sha256:e{64}\\), not the image the host runs, ${D}`));
  });

  test('builder mismatch, repository mismatch: not the expected builder or source repository', async () => {
    const bundles = { [bundleFileName(D)]: await signed() };
    const b = judged(setup({ bundles, policy: `builder: ci.example.com/pipeline\n    repository: ${LAB_REPOSITORY}` }));
    assert.equal(b.status, 'failed');
    assert.match(b.message!, /^builder mismatch: built by driftless-lab, policy\.provenance\.builder expects ci\.example\.com\/pipeline/);
    const r = judged(setup({ bundles, policy: `builder: ${LAB_BUILDER}\n    repository: git+https://github.com/org/elsewhere` }));
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /^repository mismatch: no source from git\+https:\/\/github\.com\/org\/elsewhere/);
  });

  test('source mismatch: the release names another source than the attestation', async () => {
    const other = 'sha256:' + '6'.repeat(64);
    const r = judged(setup({ bundles: { [bundleFileName(D)]: await signed() }, release: `source: "${other}"` }));
    assert.equal(r.status, 'failed');
    assert.match(r.message!, new RegExp(`^source mismatch: the release declares source ${other}; the attestation names sha256:5{64}; gitCommit:c{40}`));
    // the release may name the commit instead of the build inputs
    assert.equal(judged(setup({ bundles: { [bundleFileName(D)]: await signed() }, release: `source: "${COMMIT}"` })).status, 'passed');
  });

  test('no attestation: a violation, saying where it was looked for', () => {
    const r = judged(setup());
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'unattested-image');
    assert.match(r.message!, /^no attestation: web-1 runs sha256:d{64}, and nothing attests it \(looked at .*bundles\/sha256-d{64}\.sigstore\.json\)/);
  });

  test('a corrupt bundle is broken, never passed or failed', async () => {
    const good = (await signed()) as { dsseEnvelope: { payload: string } };
    const cut = JSON.stringify(good).slice(0, 200);
    const r = judged(setup({ bundles: { [bundleFileName(D)]: cut } }));
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /whose attestation could not be verified: .*sha256-d{64}\.sigstore\.json: not a Sigstore bundle/);
    const noEnvelope = judged(setup({ bundles: { [bundleFileName(D)]: { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' } } }));
    assert.equal(noEnvelope.status, 'broken');
  });

  test('a payload changed after signing is not signed by the trusted key', async () => {
    const b = (await signed()) as { dsseEnvelope: { payload: string } };
    const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString()) as { subject: Array<{ digest: { sha256: string } }> };
    st.subject[0]!.digest.sha256 = 'f'.repeat(64);
    b.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    const forged = 'sha256:' + 'f'.repeat(64);
    const r = judged(setup({ bundles: { [bundleFileName(forged)]: b } }), { id: forged });
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /^untrusted key:/);
  });

  test('a keyless (Fulcio certificate) bundle is broken: out of scope, and says so', async () => {
    const b = (await signed()) as { verificationMaterial: Record<string, unknown> };
    b.verificationMaterial = { certificate: { rawBytes: Buffer.from('not a certificate').toString('base64') }, tlogEntries: [] };
    const r = judged(setup({ bundles: { [bundleFileName(D)]: b } }));
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /a keyless bundle \(a Fulcio certificate\)/);
  });

  test("the release's own attestation for the service wins over the bundles directory; a named file that is gone is broken", async () => {
    const sub = path.join(dir, 'release-attestation');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'web.sigstore.json'), JSON.stringify(await signed()));
    const r = judged(setup({ bundles: {}, release: `source: "${SOURCE}", attestation: ${path.join(sub, 'web.sigstore.json')}` }));
    assert.equal(r.status, 'passed', r.message);
    assert.equal(r.parameters?.attestation, path.join(sub, 'web.sigstore.json'));
    const gone = judged(setup({ release: `source: "${SOURCE}", attestation: ${path.join(sub, 'gone.json')}` }));
    assert.equal(gone.status, 'broken');
    assert.match(gone.message!, /cannot read .*gone\.json/);
  });

  test("cosign's shape verifies too: an Ed25519 key, a v0.1 statement with a SLSA v0.2 predicate, a repo digest as subject", async () => {
    const ed = pair('ed25519');
    fs.writeFileSync(path.join(dir, 'ed.pub.pem'), ed.pub.export({ type: 'spki', format: 'pem' }));
    const repoDigest = `registry.example.com/web@${OTHER}`;
    const statement = {
      _type: 'https://in-toto.io/Statement/v0.1',
      subject: [{ name: 'registry.example.com/web', digest: { sha256: 'e'.repeat(64) } }],
      predicateType: SLSA_PROVENANCE_V02,
      predicate: {
        builder: { id: LAB_BUILDER },
        invocation: { configSource: { uri: `${LAB_REPOSITORY}@refs/heads/main`, digest: { sha1: COMMIT }, entryPoint: 'build.yml' } },
        materials: [],
      },
    };
    const config = setup({ bundles: { [bundleFileName(repoDigest)]: await signStatement(statement, ed.pem) }, release: `source: "${COMMIT}"` });
    config.policy.provenance!.keys.push(path.join(dir, 'ed.pub.pem'));
    const r = judged(config, { id: D, repoDigests: [repoDigest] });
    assert.equal(r.status, 'passed', r.message);
    assert.equal(r.parameters?.commit, COMMIT);
    assert.equal(r.parameters?.keyFingerprint, keyFingerprint(ed.pub));
  });

  test('an EC2 host: the subject names the AMI it runs', async () => {
    const ami = 'ami-0123456789abcdef0';
    const statement = { ...labStatement(build()), subject: [{ name: ami, digest: { sha256: 'a'.repeat(64) } }] };
    const config = setup({ bundles: { [bundleFileName(ami)]: await signStatement(statement, trusted.pem) } });
    assert.equal(judged(config, { ami }, 'ec2').status, 'passed');
    assert.match(judged(config, { ami: 'ami-00000000000000000' }, 'ec2').message!, /^no attestation/);
  });
});

describe('owed only with policy.provenance', () => {
  const inventory: FleetSnapshot[] = [{ target: 'web', provider: 'docker', hosts: [{ id: 'web-1', instanceId: 'c0ffee', image: { id: D } } as never] }];
  test('owed by every docker host when policy.provenance is set; otherwise not applicable, with the reason', () => {
    const config = setup();
    assert.ok(planImages({ config, inventory }).checks.some((c) => c.control === 'DL-IMG-020' && c.host === 'web-1'));
    const without = { ...config, policy: { ...config.policy, provenance: undefined } } as Config;
    const plan = planImages({ config: without, inventory });
    assert.ok(!plan.checks.some((c) => c.control === 'DL-IMG-020'));
    assert.match(plan.notApplicable.find((x) => x.control === 'DL-IMG-020')?.reason ?? '', /^policy\.provenance is not set/);
  });
});

describe('policy.provenance in the config', () => {
  const load = (keys: string, release = `source: "${SOURCE}"`) => {
    const file = path.join(dir, `config-${++n}.yaml`);
    fs.writeFileSync(
      file,
      `version: 1\ntargets: [{ name: web, provider: docker, service: web, docker: { labels: { a: b } } }]\n` +
        `release: { services: { web: { digest: "${D}", ${release} } } }\n` +
        `policy: { provenance: { keys: [${keys}], builder: b, bundles: nowhere } }\n`,
    );
    try {
      loadConfig(file, { env: {}, homeDir: dir });
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems.map((p) => p.text);
    }
  };
  test('a private key, a missing bundles directory and a service without a source are config errors, each named', () => {
    const problems = load(path.join(dir, 'trusted.pem'), 'manifest: m.json');
    assert.ok(
      problems.some((p) => /keys\/0: .*trusted\.pem is a private key: name its public half/.test(p)),
      problems.join('\n'),
    );
    assert.ok(!problems.some((p) => p.includes('BEGIN')), 'the key itself is never repeated');
    assert.ok(problems.some((p) => /provenance\/bundles: nowhere is not a directory/.test(p)));
    assert.ok(problems.some((p) => /service "web" declares no source/.test(p)));
  });
  test('an SSH fleet, which DL-IMG-020 is not owed by, needs no source', () => {
    const file = path.join(dir, `config-${++n}.yaml`);
    fs.writeFileSync(
      file,
      `version: 1\ntargets: [{ name: s, provider: ssh, service: web, ssh: { user: u, agent: true }, hosts: [{ id: h, address: 127.0.0.1 }] }]\n` +
        `release: { services: { web: { manifest: m.json } } }\npolicy: { provenance: { keys: [${path.join(dir, 'trusted.pub.pem')}], builder: b } }\n`,
    );
    assert.equal(loadConfig(file, { env: { SSH_AUTH_SOCK: '/x' }, homeDir: dir }).policy.provenance?.builder, 'b');
  });
});

describe('the chain in the verdict and the evidence bundle', () => {
  /** The verdict of one run that owed DL-IMG-020 on web-1, judged `r`. */
  const verdictWith = (r: CheckResult) => {
    const plan: RunPlan = { suites: ['image-integrity'], checks: [CHECK], notApplicable: [] };
    const run = {
      runId: 'r1',
      seed: 1,
      seedFrom: 'random',
      startedAt: '2026-01-01T00:00:00.000Z',
      harnessVersion: '0.1.0',
      config: { file: '/c.yaml', sha256: 'a'.repeat(64) },
      fleets: [{ name: 'web', provider: 'docker', hosts: 1 }],
      inventory: [],
      release: {},
      planHash: planHash(plan),
      plan,
      shard: null,
      owed: [CHECK.id],
      dryRun: false,
      inputs: { release: null, waivers: null },
      finished: { at: '2026-01-01T00:01:00.000Z', phases: [{ phase: 'audit', recorded: 'ok', audits: 'ok' }] },
    } as RunRecord;
    const at = '2026-01-01T00:00:30.000Z';
    const rec = recordCheck(CHECK, r, {
      runId: 'r1',
      runStartedAt: run.startedAt,
      waivers: [],
      secrets: [],
      store: (a) => ({ name: a.name, contentType: a.contentType, file: 'evidence/x.json', sha256: '0'.repeat(64), bytes: a.body.length }),
      timing: { startedAt: at, finishedAt: at },
    });
    const v = verdictOf([rec], mergeRecords([{ dir: '/results', record: run }], false));
    assert.deepEqual(validateVerdict(v), []);
    return v;
  };

  test('verdict.json lists, per host, instance → image → attestation (key, builder) → source (commit)', async () => {
    const v = verdictWith(judged(setup({ bundles: { [bundleFileName(D)]: await signed() } })));
    assert.equal(v.provenance?.length, 1);
    const p = v.provenance![0]!;
    assert.deepEqual(
      { ...p, attestation: { ...p.attestation!, file: path.basename(p.attestation!.file) } },
      {
        fleet: 'web',
        host: 'web-1',
        outcome: 'passed',
        instance: 'c0ffee',
        image: D,
        attestation: { file: bundleFileName(D), sha256: p.attestation!.sha256, keyFingerprint: keyFingerprint(trusted.pub), builder: LAB_BUILDER },
        source: { id: SOURCE, commit: COMMIT },
      },
    );
    const none = verdictWith(judged(setup())).provenance![0]!;
    assert.equal(none.outcome, 'failed');
    assert.equal(none.attestation, undefined);
    assert.deepEqual(none.source, { id: SOURCE }, 'the source the release declares, unverified');
    assert.match(none.message!, /^no attestation/);
    // and the fleet's compliance matrix shows it under the table
    const html = matrixHtml({ fleet: 'web', answer: 'compliant', controls: [], rowsAre: 'host', rows: [] }, v);
    assert.match(html, /<table id="provenance">/);
    assert.ok(html.includes(`key ${keyFingerprint(trusted.pub)}`) && html.includes(COMMIT.slice(0, 12)) && html.includes(LAB_BUILDER));
  });

  test('the evidence bundle hashes the trusted keys, the attestations the release names and those the run verified', async () => {
    const config = setup({ bundles: { [bundleFileName(D)]: await signed() } });
    const file = path.join(config.policy.provenance!.bundles!, bundleFileName(D));
    const inputs = inputsOf(config, '/nowhere/package-lock.json', [file]);
    const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    assert.deepEqual(
      inputs.filter((i) => i.what === 'provenance key' || i.what === 'attestation'),
      [
        { what: 'provenance key', file: path.join(dir, 'trusted.pub.pem'), sha256: sha(path.join(dir, 'trusted.pub.pem')) },
        { what: 'attestation', file, sha256: sha(file) },
      ],
    );
  });
});
