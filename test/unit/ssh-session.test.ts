/**
 * The SSH transport against real, misbehaving SSH servers (ssh2's own Server on 127.0.0.1):
 * every step has a deadline.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { SshError, SshTimeoutError } from '../../core/errors.ts';
import { SshSession } from '../../probes/ssh.ts';
import { startSshServer, type TestSshServer, type TestSshServerOptions } from '../helpers/ssh-server.ts';

let server: TestSshServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const start = async (opts: TestSshServerOptions) => (server = await startSshServer(opts));

/** Resolves once the server has no TCP connection left (the client tore its own down). */
async function serverSeesNoConnection(s: TestSshServer, withinMs: number): Promise<void> {
  const t0 = Date.now();
  while (s.openConnections() > 0) {
    if (Date.now() - t0 > withinMs) assert.fail(`the server still has ${s.openConnections()} connection(s) open after ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function timeoutOf(p: Promise<unknown>): Promise<{ err: SshTimeoutError; ms: number }> {
  const t0 = Date.now();
  const err = await p.then(
    () => assert.fail('expected a timeout'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SshTimeoutError, `expected SshTimeoutError, got ${String(err)}`);
  assert.ok(err instanceof SshError);
  assert.equal(err.kind, 'timeout');
  assert.equal(err.code, 'DL_SSH_TIMEOUT');
  return { err, ms: Date.now() - t0 };
}

describe('every remote operation has a deadline', () => {
  test('a server that accepts the login but never confirms the session channel: the command fails at the channel deadline', { timeout: 5000 }, async () => {
    const s = await start({ auth: 'accept', session: 'stall-open' });
    const session = await SshSession.connect(s.target({ connectTimeoutMs: 400 }));
    const { err, ms } = await timeoutOf(session.exec('id -u'));
    assert.ok(ms < 1500, `took ${ms} ms`);
    assert.equal(err.operation, 'channel open');
    assert.equal(err.timeoutMs, 400);
    assert.match(err.message, /^test-host \(127\.0\.0\.1:\d+\) did not open a channel .*within 400 ms \(ssh\.connectTimeoutMs\).*connection was closed.*id -u/);
    await serverSeesNoConnection(s, 1000);
  });

  test('a server that opens the channel but never answers the exec request: the channel deadline', { timeout: 5000 }, async () => {
    const s = await start({ auth: 'accept', session: 'stall-exec' });
    const session = await SshSession.connect(s.target({ connectTimeoutMs: 400 }));
    const { err, ms } = await timeoutOf(session.exec('id -u'));
    assert.ok(ms < 1500, `took ${ms} ms`);
    assert.equal(err.operation, 'channel open');
    await serverSeesNoConnection(s, 1000);
  });

  test('a command that never ends: the command deadline, and the connection is torn down', { timeout: 5000 }, async () => {
    const s = await start({ auth: 'accept', session: (stream) => stream.write('started\n') });
    const session = await SshSession.connect(s.target({ commandTimeoutMs: 400 }));
    const { err, ms } = await timeoutOf(session.exec('sleep 100'));
    assert.ok(ms < 1500, `took ${ms} ms`);
    assert.equal(err.operation, 'command');
    assert.match(
      err.message,
      /^test-host \(127\.0\.0\.1:\d+\): the command did not finish within 400 ms \(ssh\.commandTimeoutMs\).*connection was closed.*sleep 100/,
    );
    await serverSeesNoConnection(s, 1000);
  });

  test('a server that never answers authentication: the login deadline', { timeout: 5000 }, async () => {
    const s = await start({ auth: 'stall' });
    const { err, ms } = await timeoutOf(SshSession.connect(s.target({ connectTimeoutMs: 400 })));
    assert.ok(ms < 1500, `took ${ms} ms`);
    assert.equal(err.operation, 'login');
    assert.match(err.message, /test-host \(127\.0\.0\.1:\d+\) did not complete the SSH handshake within 400 ms/);
    await serverSeesNoConnection(s, 1000);
  });

  test('a server that never hangs up: closing is forced at its deadline', { timeout: 5000 }, async () => {
    const s = await start({
      auth: 'accept',
      neverHangUp: true,
      session: (stream) => {
        stream.exit(0);
        stream.end();
      },
    });
    const session = await SshSession.connect(s.target({ connectTimeoutMs: 400 }));
    assert.equal((await session.exec('true')).exitCode, 0);
    // The server keeps its side open whatever we do, so count our own sockets.
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const t0 = Date.now();
    await session.close();
    assert.ok(Date.now() - t0 < 1500, `close took ${Date.now() - t0} ms`);
    assert.equal(sockets(), before - 1, 'our socket is gone');
  });
});
