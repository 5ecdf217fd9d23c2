/**
 * The engine's settings judged by what they are (CIS Docker 5.32, 4.1): a mount that hands the
 * container its engine's socket, whatever its destination; a user that is uid 0, however spelled.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { engineSocketMounts, engineSocketReason, userOf } from '../../audits/image/engine-settings.ts';
import { judgeImages } from '../helpers/suite-run.ts';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { checkId, type PlannedCheck } from '../../core/run-plan.ts';

const bind = (source: string, destination: string, rw = true) => ({ source, destination, type: 'bind', rw });

describe("the engine's socket (DL-IMG-012)", () => {
  const sockets: Array<[string, string, RegExp]> = [
    ['/var/run/docker.sock', '/var/run/docker.sock', /is the engine's socket/],
    ['/run/docker.sock', '/tmp/api', /is the engine's socket/],
    ['/var/run', '/run', /contains the engine's socket \/run\/docker\.sock/],
    ['/var/run/', '/host-run', /contains the engine's socket/],
    ['/run', '/srv/x', /contains the engine's socket/],
    ['/', '/host', /contains the engine's socket/],
    ['/var', '/hostvar', /contains \/var\/run/],
    ['/run/containerd', '/c', /containerd\.sock/],
    ['/var/run/docker', '/d', /\/run\/docker\/containerd\/containerd\.sock/],
    ['/run/podman/podman.sock', '/p', /is the engine's socket/],
    ['/var/run/crio', '/crio', /crio\.sock/],
    ['/run/user/1000', '/xdg', /rootless/],
    ['/home/u/.docker/run/docker.sock', '/api', /socket file/],
    ['/srv/app/admin.sock', '/admin.sock', /socket file/],
    ['/var/run/../run', '/r', /contains the engine's socket/],
    ['/srv/engine-api', '/var/run/docker.sock', /an engine socket's name/],
  ];
  for (const [source, destination, why] of sockets) {
    test(`a bind of ${source} at ${destination} is the engine's socket`, () => {
      assert.match(engineSocketReason(bind(source, destination)) ?? 'not flagged', why);
    });
  }
  const harmless: Array<[string, string, string]> = [
    ['/srv/data', '/data', 'bind'],
    ['tmpfs', '/run', 'tmpfs'],
    ['/var/lib/docker/volumes/v/_data', '/var/lib/app', 'volume'],
    ['/runner', '/runner', 'bind'],
    ['/var/runtime', '/x', 'bind'],
    ['/run/app', '/run/app', 'bind'],
    ['/lab/hostkeys/dl-1', '/etc/ssh/keys', 'bind'],
  ];
  for (const [source, destination, type] of harmless) {
    test(`a ${type} of ${source} at ${destination} is not`, () => {
      assert.equal(engineSocketReason({ source, destination, type, rw: false }), undefined);
    });
  }
  test('every offending mount is listed with its reason', () => {
    const found = engineSocketMounts([bind('/srv/data', '/data'), bind('/var/run', '/run'), bind('/tmp/x.sock', '/x.sock')]);
    assert.deepEqual(
      found.map((m) => m.source),
      ['/var/run', '/tmp/x.sock'],
    );
  });
});

describe('the user the container runs as (DL-IMG-014)', () => {
  for (const u of ['', '0', '00', '+0', '-0', '000:000', 'root', '0:0', 'root:x', 'root:1000', ':0', '4294967296', '-1'])
    test(`"${u}" is root (or not proven otherwise)`, () => assert.equal(userOf(u).root, true, userOf(u).why));
  for (const u of ['1000', '1000:0', '+1000', 'audit', 'audit:root', 'nobody:nogroup', '65534'])
    test(`"${u}" is not root`, () => assert.equal(userOf(u).root, false, userOf(u).why));
});

describe('the judgement uses these rules', () => {
  const host = 'dl-x';
  const check = (control: PlannedCheck['control']): PlannedCheck => ({
    id: checkId('f', host, control),
    control,
    suite: 'image-integrity',
    fleet: 'f',
    host,
    title: control,
    story: control,
  });
  const audit = (mountDetails: NonNullable<HostImageAudit['container']>['mountDetails'], user: string) =>
    ({
      host,
      fleet: 'f',
      provider: 'docker',
      instanceId: 'c1',
      image: { id: 'sha256:' + 'a'.repeat(64) },
      container: { mountDetails, privileged: false, capAdd: [], securityOpt: ['no-new-privileges'], user },
    }) as HostImageAudit;
  const judge = (a: HostImageAudit, control: PlannedCheck['control']) =>
    judgeImages([check(control)], [a], [{ target: 'f', provider: 'docker', hosts: [] }], undefined, [], ['/tmp', '/run'])[0]!;

  test("a bind of the host's /var/run at /run (a writable path) fails DL-IMG-012", () => {
    const r = judge(audit([bind('/var/run', '/run')], '1000'), 'DL-IMG-012');
    assert.equal(r.status, 'failed', r.message);
    assert.match(r.message ?? '', /\/var\/run at \/run.*contains the engine's socket/);
  });

  test('--user 00 and +0 fail DL-IMG-014; --user 1000 passes', () => {
    for (const u of ['00', '+0', 'root:x']) assert.equal(judge(audit([], u), 'DL-IMG-014').status, 'failed', u);
    assert.equal(judge(audit([], '1000'), 'DL-IMG-014').status, 'passed');
  });
});
