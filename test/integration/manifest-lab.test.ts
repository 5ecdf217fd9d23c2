/**
 * Golden file manifests against the lab: an image's manifest matches what a compliant host
 * (cattle) runs; the snowflake's hand-applied hotfix is the one and only drift found; the CLI
 * writes a schema-valid manifest and refuses bad input with exit 2; no temporary container is
 * ever left behind, not even when the scan fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { connectEngine } from '../../probes/docker.ts';
import {
  CONTAINER_RUNTIME_FILES,
  diffManifests,
  type Manifest,
  MANIFEST_DEFAULTS,
  manifestDigest,
  manifestOfContainer,
  manifestOfImage,
  TMP_LABEL,
  validateManifest,
} from '../../probes/manifest.ts';
import { labUp, SNOWFLAKE_DRIFT } from '../../lab/lab.ts';
import { IMAGES, LAB_MANIFEST_EXCLUDES, LABELS } from '../../lab/lab-plan.ts';
import { driftless } from '../helpers/cli.ts';

let docker: Docker;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-manifest-lab-'));
const NO_SHELL_IMAGE = { repo: 'driftless-test/no-shell', tag: `manifest-${process.pid}` };

async function tmpContainers(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${TMP_LABEL.key}=${TMP_LABEL.value}`] } });
}

/** dl-cattle-1 if it is running, else any running cattle host (the supervisor may be replacing it). */
async function runningCattle(): Promise<string> {
  const hosts = await docker.listContainers({ filters: { label: [`${LABELS.fleet}=cattle`, `${LABELS.role}=host`], status: ['running'] } });
  const names = hosts.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, '')).sort();
  assert.ok(names.length > 0, 'no running cattle host in the lab');
  return names.includes('dl-cattle-1') ? 'dl-cattle-1' : names[0]!;
}

const paths = (m: Manifest) => m.entries.map((e) => e.path);

before(async () => {
  await labUp();
  docker = await connectEngine();
});

/**
 * A host this file entered with docker exec (a manifest of a running container) now carries an
 * out-of-band access in its history: it is killed, so the lab's supervisor replaces it with a new,
 * clean container, and later tests meet a compliant cattle fleet.
 */
const entered = new Set<string>();
async function replaceEntered(): Promise<void> {
  for (const name of entered) {
    const old = await docker
      .getContainer(name)
      .inspect()
      .catch(() => undefined);
    if (!old) continue;
    await docker
      .getContainer(name)
      .kill()
      .catch(() => {});
    const deadline = Date.now() + 90_000;
    for (;;) {
      const now = await docker
        .getContainer(name)
        .inspect()
        .catch(() => undefined);
      if (now && now.Id !== old.Id && now.State.Running && now.State.Health?.Status !== 'starting') break;
      assert.ok(Date.now() < deadline, `the supervisor did not replace ${name} within 90 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

after(async () => {
  await replaceEntered();
  fs.rmSync(tmp, { recursive: true, force: true });
  await docker
    ?.getImage(`${NO_SHELL_IMAGE.repo}:${NO_SHELL_IMAGE.tag}`)
    .remove({ force: true })
    .catch(() => {});
  // the last word: whatever ran above, no temporary manifest container remains
  assert.deepEqual(
    (await tmpContainers()).map((c) => c.Names[0]),
    [],
  );
});

describe('image vs running host', () => {
  test('cattle: the image and a running cattle host have the same manifest (no drift)', async () => {
    const image = await manifestOfImage(docker, IMAGES.cattle, MANIFEST_DEFAULTS.paths, LAB_MANIFEST_EXCLUDES);
    const host = await runningCattle();
    entered.add(host);
    const running = await manifestOfContainer(docker, host, MANIFEST_DEFAULTS.paths, LAB_MANIFEST_EXCLUDES);
    assert.match(image.root, /^image:driftless-lab\/web:cattle@sha256:[0-9a-f]{64}$/);
    assert.ok(image.entries.length > 1000, `the image manifest has only ${image.entries.length} entries`);
    for (const p of ['/etc/passwd', '/usr/bin/python3', '/opt/app/server.py', '/var/lib/dpkg/status', '/usr/sbin/sshd'])
      assert.ok(paths(image).includes(p), `${p} is in the manifest`);
    assert.ok(
      image.entries.every((e) => e.error === undefined),
      'every entry read in full',
    );
    assert.deepEqual(diffManifests(image, running), { added: [], removed: [], changed: [] }, `${host} drifted from ${IMAGES.cattle}`);
    assert.equal(manifestDigest(running), manifestDigest(image));
    assert.deepEqual(await tmpContainers(), []);
  });

  test('snowflake: the hand-applied hotfix is exactly one changed entry; the writable bind mount one added directory; nothing else', async () => {
    const image = await manifestOfImage(docker, IMAGES.snowflake, MANIFEST_DEFAULTS.paths, LAB_MANIFEST_EXCLUDES);
    const running = await manifestOfContainer(docker, SNOWFLAKE_DRIFT.host, MANIFEST_DEFAULTS.paths, LAB_MANIFEST_EXCLUDES);
    const d = diffManifests(image, running);
    // the mount point of dl-snowflake-1's writable bind (the negative control of DL-IMG-010)
    assert.deepEqual(
      d.added.map((e) => e.path),
      ['/opt/app/uploads'],
    );
    assert.deepEqual(d.removed, [], 'nothing removed');
    assert.deepEqual(
      d.changed.map((c) => c.path),
      [SNOWFLAKE_DRIFT.path],
    );
    assert.ok(d.changed[0]!.fields.includes('sha256'), `fields: ${d.changed[0]!.fields}`);
    assert.notEqual(manifestDigest(running), manifestDigest(image));
  });

  test('a scan that fails after its container was created still removes the container', async () => {
    // an image with one file and no sh, no sleep: the container is created, then cannot start
    const dir = fs.mkdtempSync(path.join(tmp, 'rootfs-'));
    fs.writeFileSync(path.join(dir, 'hello'), 'no shell here\n');
    const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = await docker.importImage(tar.stdout as unknown as string, NO_SHELL_IMAGE);
    await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(undefined))));
    await assert.rejects(manifestOfImage(docker, `${NO_SHELL_IMAGE.repo}:${NO_SHELL_IMAGE.tag}`), /could not start a container from image/);
    assert.deepEqual(await tmpContainers(), []);
  });
});

describe('driftless manifest (CLI)', () => {
  test('an image: exit 0, a schema-valid pretty JSON file, and the digest printed', async () => {
    const out = path.join(tmp, 'm.json');
    const r = await driftless(['manifest', IMAGES.cattle, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(fs.readFileSync(out, 'utf8')) as Manifest;
    assert.deepEqual(validateManifest(m), { ok: true, errors: [] });
    assert.deepEqual(
      m.excludes,
      [...CONTAINER_RUNTIME_FILES].sort(),
      "by default only what the runtime writes into every container is left out (the scan's own container)",
    );
    assert.ok(fs.readFileSync(out, 'utf8').includes('\n  "entries": [\n'), 'pretty-printed');
    assert.equal(r.stdout.trim(), `wrote ${out}: ${m.entries.length} entries, filesystem digest ${manifestDigest(m)}`);
  });

  test('a rootfs directory, with --paths', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'tree-'));
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc', 'motd'), 'hello\n');
    const out = path.join(tmp, 'dir.json');
    const r = await driftless(['manifest', root, '-o', out, '--paths', '/etc,/opt/app']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(fs.readFileSync(out, 'utf8')) as Manifest;
    assert.deepEqual(paths(m), ['/etc', '/etc/motd']);
    assert.deepEqual(m.paths, ['/etc', '/opt/app']);
    assert.match(r.stdout, /: 2 entries, filesystem digest sha256:[0-9a-f]{64}/);
  });

  test('bad input exits 2 with a message naming the problem', async () => {
    const out = path.join(tmp, 'never.json');
    const cases: Array<[string[], RegExp]> = [
      [['manifest', 'driftless-lab/no-such-image:nope', '-o', out], /no such image "driftless-lab\/no-such-image:nope"/],
      [['manifest', path.join(tmp, 'no-such-dir'), '-o', out], /no such directory/],
      [['manifest', IMAGES.cattle], /needs an output file: -o/],
      [['manifest', '-o', out], /manifest takes exactly one argument \(<image \| rootfs dir>\), got 0/],
      [['manifest', IMAGES.cattle, '-o', path.join(tmp, 'missing-dir', 'm.json')], /cannot write/],
      [['manifest', IMAGES.cattle, '-o', out, '--paths', 'etc'], /must be an absolute path/],
      [['manifest', IMAGES.cattle, '-o', out, '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await driftless(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(await tmpContainers(), []);
  });
});
