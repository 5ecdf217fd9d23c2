/**
 * DL-IMG-020 on the lab (issue 30): the images the lab's pipeline built and attested verify, for
 * the hosts that run them; the snowflake image, built by hand and declared in the release, has no
 * attestation; an attestation signed by another key, one of another image, a release naming
 * another source and a corrupt bundle each fail (or break) and say which. The fleets are listed by
 * the real Docker provider and the attestations read from the lab's state directory; nothing in
 * the lab is changed (the variations are configs and bundle directories of this test's own).
 * Run: node --import tsx --test test/integration/provenance.test.ts
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import { gatherProvenance, loadTrustedKeys } from '../../audits/image/provenance-gather.ts';
import { loadConfig } from '../../config/load.ts';
import type { CheckResult } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import { bundleFileName, type InTotoStatement } from '../../core/provenance.ts';
import { plannedCheck } from '../../core/run-plan.ts';
import { signStatement } from '../../lab/attest.ts';
import { labUp } from '../../lab/lab.ts';
import { LABELS, labDir } from '../../lab/lab-plan.ts';
import { snapshotFleets } from '../../providers/snapshot.ts';
import { judge } from '../helpers/suite-run.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-provenance-lab-'));
let release: { services: Record<string, { digest: string; source: string }> };
const attestations = () => path.join(labDir(), 'attestations');

before(
  async () => {
    await labUp(); // a no-op of a few seconds when the lab is already up
    release = JSON.parse(fs.readFileSync(path.join(labDir(), 'release.json'), 'utf8')) as typeof release;
  },
  { timeout: 15 * 60_000 },
);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** The lab's fleets and release, with this policy.provenance (bundles: a directory) and inline services over the release file's. */
function configWith(o: { bundles?: string; services?: Record<string, unknown> } = {}): Config {
  const fleet = (name: string) => ({ name, provider: 'docker', service: `${name}-web`, docker: { labels: { [LABELS.fleet]: name, [LABELS.role]: 'host' } } });
  const file = path.join(tmp, `config-${++n}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets: [fleet('cattle'), fleet('snowflake'), fleet('sticky')],
      release: { file: path.join(labDir(), 'release.json'), services: o.services ?? {} },
      policy: {
        provenance: {
          keys: [path.join(labDir(), 'provenance_ecdsa.pub.pem')],
          builder: 'driftless-lab',
          repository: 'git+https://driftless.dev/driftless',
          bundles: o.bundles ?? attestations(),
        },
      },
    }),
  );
  return loadConfig(file);
}

/** DL-IMG-020 judged for every host of the lab's fleets under `config`, by host. */
async function judgedAll(config: Config): Promise<Map<string, CheckResult>> {
  const inventory = await snapshotFleets(config);
  const keys = loadTrustedKeys(config);
  const audits: HostImageAudit[] = inventory.flatMap((snap) =>
    snap.hosts.map((h) => {
      const service = h.service ?? config.targets.find((t) => t.name === snap.target)!.service;
      const declared = service ? config.release.services[service] : undefined;
      return {
        host: h.id,
        fleet: snap.target,
        provider: 'docker' as const,
        instanceId: h.instanceId,
        ...(service ? { service } : {}),
        ...(declared ? { declared } : {}),
        image: h.image,
        provenance: gatherProvenance(h, service, declared, config, keys),
      };
    }),
  );
  const checks = audits.map((a) => plannedCheck('DL-IMG-020', { fleet: a.fleet, host: a.host }));
  const results = judge(imageIntegritySuite, audits, checks, config, inventory);
  return new Map(audits.map((a, i) => [a.host, results[i]!]));
}

/** A fresh bundles directory holding `files` (name → bytes). */
function bundlesDir(files: Record<string, string | Buffer>): string {
  const d = path.join(tmp, `bundles-${++n}`);
  fs.mkdirSync(d);
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(d, name), body);
  return d;
}

const cattle = () => release.services['cattle-web']!;
const snowflake = () => release.services['snowflake-web']!;
const labBundle = (digest: string) => fs.readFileSync(path.join(attestations(), bundleFileName(digest)));

describe('DL-IMG-020 on the lab', () => {
  test('cattle, snowflake and sticky run images the pipeline built and attested: each verifies, with the whole chain', async () => {
    const r = await judgedAll(configWith());
    for (const host of ['dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3', 'dl-sticky-1', 'dl-sticky-2', 'dl-snowflake-1', 'dl-snowflake-2']) {
      const x = r.get(host)!;
      const svc = host.startsWith('dl-snowflake') ? snowflake() : cattle();
      assert.equal(x.status, 'passed', `${host}: ${x.message}`);
      assert.equal(x.parameters?.image, svc.digest);
      assert.equal(x.parameters?.builder, 'driftless-lab');
      assert.equal(x.parameters?.source, svc.source);
      assert.match(x.parameters?.keyFingerprint ?? '', /^SHA256:/);
    }
  });

  test('an image the pipeline never attested (built by hand), declared in the release all the same: no attestation', async () => {
    // The pipeline's attestations without the snowflake image's: as if it had been built by hand.
    const dir = bundlesDir({ [bundleFileName(cattle().digest)]: labBundle(cattle().digest) });
    const r = await judgedAll(configWith({ bundles: dir }));
    for (const host of ['dl-snowflake-1', 'dl-snowflake-2']) {
      assert.equal(r.get(host)!.status, 'failed');
      assert.equal(r.get(host)!.violation, 'unattested-image');
      assert.match(r.get(host)!.message!, /^no attestation: /);
    }
  });

  test('an attestation of the cattle image signed by another key: untrusted key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const st = JSON.parse(
      Buffer.from((JSON.parse(labBundle(cattle().digest).toString()) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString(),
    ) as InTotoStatement;
    const dir = bundlesDir({ [bundleFileName(cattle().digest)]: JSON.stringify(await signStatement(st, other)) });
    const r = (await judgedAll(configWith({ bundles: dir }))).get('dl-cattle-1')!;
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /^untrusted key: /);
  });

  test("an attestation of another image (the cattle image's, kept under the snowflake image's digest): subject mismatch", async () => {
    const dir = bundlesDir({ [bundleFileName(snowflake().digest)]: labBundle(cattle().digest) });
    const r = (await judgedAll(configWith({ bundles: dir }))).get('dl-snowflake-1')!;
    assert.equal(r.status, 'failed');
    assert.match(r.message!, new RegExp(`^subject mismatch: .*not the image the host runs, ${snowflake().digest}`));
  });

  test('a release naming another source for the cattle image (the snowflake build inputs): source mismatch', async () => {
    const r = (await judgedAll(configWith({ services: { 'cattle-web': { digest: cattle().digest, source: snowflake().source } } }))).get('dl-cattle-1')!;
    assert.equal(r.status, 'failed');
    assert.match(r.message!, new RegExp(`^source mismatch: the release declares source ${snowflake().source}`));
  });

  test('a corrupt bundle is broken', async () => {
    const dir = bundlesDir({ [bundleFileName(cattle().digest)]: labBundle(cattle().digest).subarray(0, 300) });
    const r = (await judgedAll(configWith({ bundles: dir }))).get('dl-cattle-1')!;
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /not a Sigstore bundle/);
  });
});
