/**
 * A directory the login user cannot list hides what was added in it: DL-IMG-006 is broken unless
 * the container engine's own diff proves the directory is the declared image's, whatever
 * policy.manifest.metadataOnly says.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { compareManifests } from '../../audits/image/compare.ts';
import { judgeImages } from '../helpers/suite-run.ts';
import { type EngineView, proveListings } from '../../audits/image/unlisted.ts';
import { checkId } from '../../core/run-plan.ts';
import { buildManifest, ENTRY_ERRORS, makeEntry, type RawEntry } from '../../probes/manifest.ts';

const DIGEST = 'sha256:' + 'a'.repeat(64);
const d = (path: string, perm = 0o755, error?: string): RawEntry => ({ path, kind: 'd', perm, uid: 0, gid: 0, size: 4096, ...(error ? { error } : {}) });
const f = (path: string, sha = 'b'.repeat(64)): RawEntry => ({ path, kind: 'f', perm: 0o440, uid: 0, gid: 0, size: 10, sha256: sha });
const manifest = (raws: RawEntry[], root: string) => buildManifest(raws.map(makeEntry), { root, paths: ['/etc'], excludes: [] });

// The golden image, scanned as root, and the host as the login user, who cannot list /etc/sudoers.d.
// In truth the host has /etc/sudoers.d/backdoor: no scan by that user can see it.
const golden = manifest([d('/etc'), f('/etc/passwd'), d('/etc/sudoers.d', 0o750), f('/etc/sudoers.d/README')], `image:${DIGEST}`);
const host = manifest([d('/etc'), f('/etc/passwd'), d('/etc/sudoers.d', 0o750, ENTRY_ERRORS.unlistable)], 'ssh:audit@h1');
const BACKDOOR = [
  { Path: '/etc/sudoers.d', Kind: 0 },
  { Path: '/etc/sudoers.d/backdoor', Kind: 1 },
];

function judge(engine: EngineView | undefined, provider: 'docker' | 'ssh' = 'docker') {
  const cmp = compareManifests(golden, host);
  const a: HostImageAudit = {
    host: 'h1',
    fleet: 'web',
    provider,
    instanceId: 'i1',
    image: { id: DIGEST },
    manifest: {
      result: {
        ...cmp,
        unlisted: proveListings(cmp.unlisted, engine),
        expectedSource: `image:${DIGEST}`,
        expectedDigest: 'x',
        actualDigest: 'x',
        login: { user: 'audit', address: '127.0.0.1:22', hostKey: 'SHA256:x' },
        command: 'sh',
        durationMs: 1,
        entries: { expected: golden.entries.length, actual: host.entries.length },
        textDiffs: [],
      },
    },
  };
  const check = {
    id: checkId('web', 'h1', 'DL-IMG-006'),
    control: 'DL-IMG-006' as const,
    suite: 'image-integrity' as const,
    fleet: 'web',
    host: 'h1',
    title: 't',
    story: 's',
  };
  // The lab's policy: /etc/sudoers.d is accepted as metadata-only.
  return judgeImages([check], [a], [{ target: 'web', provider, hosts: [] }], undefined, ['/etc/sudoers.d'])[0]!;
}

const engine = (over: Partial<EngineView> = {}): EngineView => ({ changes: { list: [] }, mounts: [], runsDeclaredImage: true, image: DIGEST, ...over });

describe('a directory the login user cannot list (DL-IMG-006)', () => {
  test('the comparison names it, with the side that could not list it', () => {
    assert.deepEqual(compareManifests(golden, host).unlisted, [{ path: '/etc/sudoers.d', side: 'actual' }]);
    assert.equal(compareManifests(golden, host).driftCount, 0, 'what is under it was left out of both sides');
  });

  test('an SSH host, with a file added under it in truth: broken, not passed, although metadataOnly names it', () => {
    const r = judge(undefined, 'ssh');
    assert.equal(r.status, 'broken', r.message);
    assert.match(r.message!, /\/etc\/sudoers\.d on the host side \(no other means.*never an unlisted directory/);
  });

  test("a container whose engine diff shows the file added: broken, naming the engine's finding", () => {
    const r = judge(engine({ changes: { list: BACKDOOR } }));
    assert.equal(r.status, 'broken', r.message);
    assert.match(r.message!, /the engine's diff reports changes in it: C \/etc\/sudoers\.d, A \/etc\/sudoers\.d\/backdoor/);
  });

  test('a container whose engine diff shows nothing in it, running the declared image: passed, with the proof attached', () => {
    const r = judge(
      engine({
        changes: {
          list: [
            { Path: '/etc', Kind: 0 },
            { Path: '/etc/sudoers.dx', Kind: 1 },
          ],
        },
      }),
    );
    assert.equal(r.status, 'passed', r.message);
    const proof = JSON.parse(r.evidence.find((e) => e.name === 'directories that could not be listed')!.body) as Array<{ provenBy?: string }>;
    assert.match(proof[0]!.provenBy!, /engine's diff of the container against sha256:a+ reports no change/);
  });

  test('no proof when the engine cannot see it or does not run the declared image: broken', () => {
    for (const [over, why] of [
      [{ mounts: ['/etc/sudoers.d'] }, /mount point/],
      [{ mounts: ['/etc'] }, /\/etc is a mount point/],
      [{ runsDeclaredImage: false }, /does not run the declared image/],
      [{ changes: { error: 'engine timed out', list: [] } }, /diff of the container was not taken: engine timed out/],
    ] as const) {
      const r = judge(engine(over));
      assert.equal(r.status, 'broken', JSON.stringify(over));
      assert.match(r.message!, why);
    }
  });
});
