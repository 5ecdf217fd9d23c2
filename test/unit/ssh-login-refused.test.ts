/**
 * DL-SSH-001 ("login refused", policy forbidden) against real SSH servers (ssh2's Server on
 * 127.0.0.1): only a server that offers no authentication method proves a refusal; one that offers
 * publickey and rejected our key may just not know our key (a typo in ssh.user, a stale key).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { auditFleets } from '../../audits/ssh-edits/ssh-edits-gather.ts';
import { judgeSshEdits } from '../helpers/suite-run.ts';
import { planSshEdits } from '../../audits/ssh-edits/ssh-edits-plan.ts';
import type { Config, SshPolicy, Target } from '../../core/config.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';
import { SshError } from '../../core/errors.ts';
import { SshSession } from '../../probes/ssh.ts';
import { startSshServer, type TestSshServer, type TestSshServerOptions } from '../helpers/ssh-server.ts';

let server: TestSshServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const start = async (opts: TestSshServerOptions) => (server = await startSshServer(opts));

const policy: SshPolicy = { mode: 'forbidden', immutablePaths: ['/etc'], writablePaths: ['/tmp'], aggressive: false, concurrency: 1 };

/** The whole path of DL-SSH-001: plan, audit over SSH, judge. */
async function loginCheck(s: TestSshServer) {
  const t = s.target();
  const target = {
    name: 'web',
    provider: 'ssh',
    mayBeEmpty: false,
    hosts: [{ id: 'h1', address: t.host, port: t.port, hostKey: t.pinned[0] }],
    ssh: { user: t.user, identityFile: t.identityFile },
  } as unknown as Target;
  const snapshot: FleetSnapshot = {
    target: 'web',
    provider: 'ssh',
    hosts: [
      {
        id: 'h1',
        instanceId: 'h1',
        fleet: 'web',
        provider: 'ssh',
        ssh: { host: t.host, port: t.port },
        image: {},
        labels: {},
        chaosEligible: false,
        state: 'running',
      },
    ],
  };
  const config = { targets: [target], policy: { ssh: policy } } as unknown as Config;
  const audits = await auditFleets([{ snapshot, target }], policy, 'run-1');
  const [r] = judgeSshEdits(planSshEdits({ config, inventory: [snapshot] }).checks, audits, [snapshot], policy);
  return { result: r!, login: audits[0]!.login };
}

async function connectError(s: TestSshServer): Promise<SshError> {
  const err = await SshSession.connect(s.target()).then(
    () => assert.fail('expected the login to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SshError, String(err));
  return err;
}

describe('what a failed login proves (policy forbidden)', () => {
  test('a server that offers no authentication method at all: the login is refused, DL-SSH-001 passes', { timeout: 5000 }, async () => {
    const s = await start({ auth: { offer: [] } });
    const { result, login } = await loginCheck(s);
    assert.equal(result.status, 'passed', result.message);
    assert.deepEqual(login.offeredMethods, []);
    const err = await connectError(s);
    assert.equal(err.kind, 'auth-refused');
    assert.deepEqual(err.offeredMethods, []);
  });

  test('a server that offers publickey and rejected our key: our credentials were rejected, DL-SSH-001 is broken', { timeout: 5000 }, async () => {
    const s = await start({ auth: { offer: ['publickey', 'password'] } });
    const { result, login } = await loginCheck(s);
    assert.equal(result.status, 'broken');
    assert.match(result.message!, /our credentials were rejected/);
    assert.match(result.message!, /publickey, password/);
    assert.deepEqual(login.offeredMethods, ['publickey', 'password']);
    const evidence = JSON.parse(result.evidence.find((e) => e.name === 'login')!.body) as { offeredMethods: string[] };
    assert.deepEqual(evidence.offeredMethods, ['publickey', 'password']);
    const err = await connectError(s);
    assert.equal(err.kind, 'auth-denied');
    assert.deepEqual(err.offeredMethods, ['publickey', 'password']);
    assert.match(err.message, /denied authentication for user "audit".*offers publickey, password/);
  });
});
