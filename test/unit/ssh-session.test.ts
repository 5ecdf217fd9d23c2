/**
 * The SSH transport against real, misbehaving SSH servers (ssh2's own Server on 127.0.0.1):
 * every step has a deadline.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { SshError, SshTimeoutError } from '../../core/errors.ts';
import type { Target } from '../../core/config.ts';
import type { SnapshotHost } from '../../core/inventory.ts';
import { SshSession } from '../../probes/ssh.ts';
import { sshLoginFor } from '../../providers/ssh-login.ts';
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

describe('command output', () => {
  const later = () => new Promise((r) => setTimeout(r, 30));

  test('a UTF-8 name split across two chunks, mid-character, decodes whole', { timeout: 5000 }, async () => {
    const name = Buffer.from('/etc/café-ü\n', 'utf8');
    const cut = name.indexOf(0xc3) + 1; // between the two bytes of é
    const s = await start({
      auth: 'accept',
      session: async (stream) => {
        stream.write(name.subarray(0, cut));
        stream.stderr.write(name.subarray(0, cut));
        await later(); // two CHANNEL_DATA packets, so two 'data' events on our side
        stream.write(name.subarray(cut));
        stream.stderr.write(name.subarray(cut));
        stream.exit(0);
        stream.end();
      },
    });
    const session = await SshSession.connect(s.target());
    const r = await session.exec('find /etc');
    assert.equal(r.stdout, '/etc/café-ü\n');
    assert.equal(r.stderr, '/etc/café-ü\n');
    await session.close();
  });

  test('output over 4 MiB is taken whole', { timeout: 8000 }, async () => {
    const line = Buffer.from(`${'x'.repeat(63)}\n`);
    const size = 6 * 1024 * 1024;
    const s = await start({
      auth: 'accept',
      session: (stream) => {
        stream.write(Buffer.concat(Array.from({ length: size / line.length }, () => line)));
        stream.exit(0);
        stream.end();
      },
    });
    const session = await SshSession.connect(s.target());
    const r = await session.exec('find /');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.length, size);
    assert.ok(r.stdout.endsWith('x\n'));
    await session.close();
  });

  test('output past ssh.maxOutputMiB fails the command, naming the setting', { timeout: 5000 }, async () => {
    const s = await start({
      auth: 'accept',
      session: (stream) => {
        stream.write(Buffer.alloc(3 * 1024 * 1024, 'y'));
        stream.exit(0);
        stream.end();
      },
    });
    const session = await SshSession.connect(s.target({ maxOutputBytes: 1024 * 1024 }));
    const err = await session.exec('find /').then(
      () => assert.fail('expected the output limit'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SshError);
    assert.equal(err.kind, 'output-too-large');
    assert.match(err.message, /^test-host \(127\.0\.0\.1:\d+\): the output of the command passed 1 MiB \(ssh\.maxOutputMiB\).*find \//);
    await session.close();
  });
});

test('ssh.maxOutputMiB in the config becomes the session limit', () => {
  const host = { id: 'h1', ssh: { host: '127.0.0.1', port: 22 } } as SnapshotHost;
  const target = { name: 'web', provider: 'docker', ssh: { user: 'audit', identityFile: '/k', maxOutputMiB: 2 } } as unknown as Target;
  const login = sshLoginFor(host, target);
  assert.ok(!('error' in login));
  assert.equal(login.maxOutputBytes, 2 * 1024 * 1024);
});

describe('keepalive', () => {
  const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test("an idle session pings the server at the target's keepaliveMs, and not at all with 0", { timeout: 5000 }, async () => {
    const s = await start({ auth: 'accept' });
    const pinging = await SshSession.connect(s.target({ keepaliveMs: 100 }));
    let before = s.bytesReceived();
    await idle(450);
    assert.ok(s.bytesReceived() > before, 'no keepalive reached the server within 450 ms at keepaliveMs 100');
    await pinging.close();
    const quiet = await SshSession.connect(s.target({ keepaliveMs: 0 }));
    before = s.bytesReceived();
    await idle(450);
    assert.equal(s.bytesReceived(), before, 'keepaliveMs 0 still sent something while idle');
    await quiet.close();
  });
});
