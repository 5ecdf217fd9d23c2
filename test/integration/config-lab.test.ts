/**
 * The shipped lab config (driftless.config.yaml, the default) validates against the running lab:
 * both fleets are targets, and the release digests `lab up` recorded are the images the engine has.
 * Run: node --import tsx --test test/integration/config-lab.test.ts
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DEFAULT_CONFIG, loadConfig } from '../../config/load.ts';
import { labUp } from '../../lab/lab.ts';
import { IMAGES } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';

before(
  async () => {
    await labUp(); // a no-op of a few seconds when the lab is already up
  },
  { timeout: 15 * 60_000 },
);

test('the default config is the lab config, and it validates', async () => {
  const config = loadConfig();
  assert.equal(config.source.file, DEFAULT_CONFIG);
  assert.deepEqual(
    config.targets.map((t) => [t.name, t.provider, t.service, t.environment]),
    [
      ['cattle', 'docker', 'cattle-web', 'lab'],
      ['snowflake', 'docker', 'snowflake-web', 'lab'],
      ['sticky', 'docker', 'sticky-web', 'lab'],
    ],
  );
  for (const t of config.targets) {
    assert.ok(t.provider === 'docker');
    assert.equal(t.docker.labels['driftless.fleet'], t.name);
    assert.equal(t.docker.labels['driftless.lab.role'], 'host');
  }
  assert.equal(config.safety.optInLabel, 'driftless.chaos=opt-in');
  assert.deepEqual(config.safety.allowedEnvironments, ['lab']);
});

test('the release digests are the ids of the lab images on the engine', async () => {
  const config = loadConfig();
  const docker = await connectEngine();
  const cattle = (await docker.getImage(IMAGES.cattle).inspect()).Id;
  const snowflake = (await docker.getImage(IMAGES.snowflake).inspect()).Id;
  assert.match(cattle, /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(cattle, snowflake);
  const services = config.release.services;
  assert.deepEqual(Object.fromEntries(Object.entries(services).map(([k, v]) => [k, v.digest])), {
    'cattle-web': cattle,
    'snowflake-web': snowflake,
    'sticky-web': cattle, // the sticky fleet runs the cattle image
  });
  // and the source each was built from (its build inputs' hash), which its attestation names
  for (const s of Object.values(services)) assert.match(s.source ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(services['sticky-web']!.source, services['cattle-web']!.source);
  assert.notEqual(services['snowflake-web']!.source, services['cattle-web']!.source);
});
