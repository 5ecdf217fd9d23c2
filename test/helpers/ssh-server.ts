/**
 * A real SSH server (ssh2's own `Server`) on 127.0.0.1, port 0, with a fresh host key, told how to
 * misbehave: how it answers authentication, and what it does with a session and an exec request.
 * Every socket it accepted is destroyed on close(), so a stalled test leaves nothing open.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2, { type AuthContext, type AuthenticationType, type ServerChannel } from 'ssh2';
import { fingerprintOfPublicKey } from '../../probes/hostkey.ts';
import type { SshTarget } from '../../probes/ssh.ts';

// ssh2 is CommonJS: Node finds Client among its named exports, but not Server or utils.
const { Server, utils } = ssh2;

export interface TestSshServerOptions {
  /**
   * accept: publickey is accepted (any key), `none` is answered with "publickey".
   * Otherwise every request is rejected and the failure lists these methods ([] = none at all).
   */
  auth: 'accept' | 'stall' | { offer: AuthenticationType[] };
  /** What happens to a session channel once authenticated. */
  session?: 'stall-open' | 'stall-exec' | ((stream: ServerChannel, command: string) => void);
  /** The server never closes its side of the TCP connection, even when the client disconnects. */
  neverHangUp?: boolean;
}

export interface TestSshServer {
  port: number;
  /** TCP connections still open on the server's side. */
  openConnections(): number;
  /** Bytes the server has read from every client so far (an idle session's keepalives show here). */
  bytesReceived(): number;
  /** Logins it accepted so far (sessions that became ready). */
  logins(): number;
  /** Its host key as a known_hosts line ([127.0.0.1]:port ssh-ed25519 …), for configs that pin by file. */
  knownHostsLine: string;
  /** A target that logs in to this server as "audit" with a fresh client key, host key pinned. */
  target(extra?: Partial<SshTarget>): SshTarget;
  close(): Promise<void>;
}

export async function startSshServer(opts: TestSshServerOptions): Promise<TestSshServer> {
  const hostKey = utils.generateKeyPairSync('ed25519');
  const clientKey = utils.generateKeyPairSync('ed25519');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-ssh-server-'));
  const identityFile = path.join(dir, 'id_ed25519');
  fs.writeFileSync(identityFile, clientKey.private, { mode: 0o600 });

  let logins = 0;
  const ssh = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => {}); // the client under test may tear the connection down at any time
    client.on('ready', () => logins++);
    client.on('authentication', (ctx: AuthContext) => {
      if (opts.auth === 'stall') return; // never answers
      if (opts.auth === 'accept') return ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey']);
      ctx.reject(opts.auth.offer);
    });
    client.on('session', (accept) => {
      if (opts.session === 'stall-open') return; // never confirms nor refuses the channel
      const session = accept();
      const run = opts.session;
      session.on('exec', (acceptExec, _reject, info) => {
        if (typeof run !== 'function') return; // never answers the request
        run(acceptExec(), info.command);
      });
    });
  });
  const sockets = new Set<net.Socket>();
  let closedBytes = 0;
  const tcp = net.createServer({ allowHalfOpen: !!opts.neverHangUp }, (s) => {
    sockets.add(s);
    if (opts.neverHangUp) s.end = () => s; // ssh2 ends its side on a disconnect: it does not get to
    s.on('close', () => {
      closedBytes += s.bytesRead;
      sockets.delete(s);
    });
    ssh.injectSocket(s);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as net.AddressInfo).port;
  return {
    port,
    openConnections: () => sockets.size,
    logins: () => logins,
    bytesReceived: () => closedBytes + [...sockets].reduce((n, s) => n + s.bytesRead, 0),
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey.public.trim()}`,
    target: (extra = {}) => ({
      name: 'test-host',
      host: '127.0.0.1',
      port,
      user: 'audit',
      identityFile,
      pinned: [fingerprintOfPublicKey(hostKey.public)],
      ...extra,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
