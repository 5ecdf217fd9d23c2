/**
 * SSH sessions to audited hosts (ssh2). Fails closed: a host key that is not pinned, or differs
 * from the pinned one, ends the connection before authentication. Every step has a deadline: the
 * login (connect, key exchange, authentication) and each channel open within connectTimeoutMs,
 * each command within commandTimeoutMs, closing within connectTimeoutMs. A step past its deadline
 * fails with SshTimeoutError and the connection is torn down, so a stalled host costs bounded time.
 */
import fs from 'node:fs';
import net from 'node:net';
import { type AuthenticationType, type AuthHandlerMiddleware, Client, type ConnectConfig } from 'ssh2';
import { SshError, SshTimeoutError } from '../core/errors.ts';
import { fingerprintOfBlob } from './hostkey.ts';

export { SshError, SshTimeoutError };
export type { SshFailureKind } from '../core/errors.ts';

export interface SshTarget {
  /** Name used in messages (host id). */
  name: string;
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  /** The passphrase itself (read from the env var the config names); never logged. */
  passphrase?: string;
  agent?: string;
  /** Accepted host key fingerprints (SHA256:...). Empty = nothing pinned = refuse. */
  pinned: string[];
  /** Fingerprints known_hosts marks @revoked: refused whatever else says. */
  revoked?: string[];
  /** known_hosts names a @cert-authority for this host (host certificates are not verified). */
  certAuthority?: boolean;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Most bytes a command may print on stdout (and, apart, on stderr); more fails the command. */
  maxOutputBytes?: number;
  /** How often an idle session pings the server (SSH keepalive; 3 unanswered end it); default 5 s, 0 = never. */
  keepaliveMs?: number;
}

export interface CommandResult {
  command: string;
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const MiB = 1024 * 1024;
/** About 350,000 files of manifest stream (~190 bytes a file); ssh.maxOutputMiB raises it. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * MiB;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 15_000;
const DEFAULT_KEEPALIVE_MS = 5_000;

const whereOf = (t: SshTarget) => `${t.name} (${t.host}:${t.port})`;

function readIdentity(t: SshTarget): Buffer | undefined {
  if (!t.identityFile) return undefined;
  try {
    return fs.readFileSync(t.identityFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SshError('identity', `identity file ${t.identityFile} for ${t.name} cannot be read (${code}): check ssh.identityFile in the config`);
  }
}

export class SshSession {
  /** Set once close() or a timeout started ending the connection. */
  private closing: Promise<void> | undefined;
  private gone = false;

  private constructor(
    private readonly client: Client,
    /** Ours, so it can be destroyed: ssh2's destroy() does nothing once end() was called. */
    private readonly sock: net.Socket,
    readonly target: SshTarget,
    readonly hostKey: string,
  ) {
    client.once('close', () => (this.gone = true));
  }

  static connect(t: SshTarget): Promise<SshSession> {
    const privateKey = readIdentity(t);
    const deadline = t.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const client = new Client();
      const sock = net.connect({ host: t.host, port: t.port });
      // ssh2 reports socket errors itself; this only keeps one that comes before it listens (or
      // after a failed connect() call) from crashing the process.
      sock.on('error', () => {});
      let presented = '';
      let settled = false;
      // Key exchange done: a close after this, before the server offered any method, is the
      // server ending authentication (a refusal); a close before it proves nothing about logins
      // (a proxy, a crash, a tarpit).
      let keyExchanged = false;
      const auth = authentication(!!privateKey, !!t.agent);
      const fail = (err: SshError, graceMs = err instanceof SshTimeoutError ? 0 : deadline) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void endConnection(client, sock, graceMs);
        reject(err);
      };
      // One deadline of our own for the whole login; ssh2's readyTimeout is a second guard.
      const timer = setTimeout(() => fail(loginTimeout(t, deadline)), deadline);
      const cfg: ConnectConfig = {
        sock,
        host: t.host,
        port: t.port,
        username: t.user,
        readyTimeout: deadline,
        keepaliveInterval: t.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOfBlob(key);
          return t.pinned.includes(presented) && !(t.revoked ?? []).includes(presented);
        },
        ...(privateKey ? { privateKey, ...(t.passphrase ? { passphrase: t.passphrase } : {}) } : {}),
        ...(t.agent ? { agent: t.agent } : {}),
        authHandler: auth.handler,
      };
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(new SshSession(client, sock, t, presented));
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => fail(classifyConnectError(t, err, presented, auth)));
      client.on('handshake', () => (keyExchanged = true));
      client.on('close', () =>
        fail(
          keyExchanged
            ? auth.offered?.length
              ? authDenied(t, auth) // it rejected our credentials, then hung up
              : new SshError('closed', `${whereOf(t)} closed the connection during authentication`)
            : new SshError('closed-before-key-exchange', `${whereOf(t)} closed the connection before the SSH key exchange: nothing about logins can be told`),
        ),
      );
      try {
        client.connect(cfg);
      } catch (err) {
        fail(classifyConnectError(t, err as Error, presented, auth), 0);
      }
    });
  }

  /**
   * Runs one command; resolves with its exit code and output, never rejects on a non-zero exit.
   * Two deadlines: the channel must open and the command start within connectTimeoutMs (a server
   * may never confirm either), then the command must end within `timeoutMs`. Past either, the
   * connection is torn down (a half-open channel leaves it in an unknown state) and the call
   * rejects with SshTimeoutError. Output past maxOutputBytes on either stream stops the command
   * and rejects: a truncated output must never be judged as if it were whole.
   */
  exec(command: string, timeoutMs?: number): Promise<CommandResult> {
    const t = this.target;
    const where = whereOf(t);
    const openMs = t.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const runMs = timeoutMs ?? t.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const runSetting = timeoutMs === undefined ? ' (ssh.commandTimeoutMs)' : '';
    const maxBytes = t.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: SshError | undefined, result?: CommandResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(result!);
      };
      const timeout = (operation: 'channel open' | 'command', ms: number, message: string) => {
        if (done) return;
        this.teardown();
        finish(new SshTimeoutError(where, operation, ms, `${message}: the connection was closed; command: ${command}`));
      };
      let timer = setTimeout(
        () => timeout('channel open', openMs, `${where} did not open a channel and start a command within ${openMs} ms (ssh.connectTimeoutMs)`),
        openMs,
      );
      try {
        this.client.exec(command, (err, stream) => {
          if (done) {
            stream?.close();
            return;
          }
          if (err) return finish(new SshError('closed', `${t.name}: could not start a command: ${err.message}`, { cause: err }));
          clearTimeout(timer);
          timer = setTimeout(() => timeout('command', runMs, `${where}: the command did not finish within ${runMs} ms${runSetting}`), runMs);
          // Raw bytes, decoded once at the end: a UTF-8 character may straddle two chunks.
          const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
          const size = { stdout: 0, stderr: 0 };
          const take = (which: 'stdout' | 'stderr') => (b: Buffer) => {
            if (done) return;
            size[which] += b.length;
            if (size[which] > maxBytes) {
              stream.close();
              return finish(
                new SshError(
                  'output-too-large',
                  `${where}: the output of the command passed ${+(maxBytes / MiB).toFixed(2)} MiB (ssh.maxOutputMiB) on ${which} and was stopped: ` +
                    `output cut off is never judged; raise ssh.maxOutputMiB in this host's target; command: ${command}`,
                ),
              );
            }
            out[which].push(b);
          };
          stream.on('data', take('stdout'));
          stream.stderr.on('data', take('stderr'));
          stream.on('close', (code: number | null, signal?: string) => {
            if (code === undefined || (code === null && !signal)) {
              return finish(new SshError('closed', `${t.name} closed the connection while running: ${command}`));
            }
            const [stdout, stderr] = [Buffer.concat(out.stdout).toString('utf8'), Buffer.concat(out.stderr).toString('utf8')];
            finish(undefined, { command, exitCode: code, ...(signal ? { signal } : {}), stdout, stderr, durationMs: Date.now() - t0 });
          });
        });
      } catch (err) {
        // ssh2 throws when the connection is already gone
        finish(new SshError('closed', `${t.name}: could not start a command: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  /**
   * Ends the session: a polite disconnect, and the socket destroyed if the server has not hung up
   * within connectTimeoutMs. Never rejects (nothing is left to fail); resolves once closed.
   */
  close(): Promise<void> {
    this.closing ??= this.gone ? Promise.resolve() : endConnection(this.client, this.sock, this.target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    return this.closing;
  }

  /** A step went past its deadline: no goodbye, the socket goes now. */
  private teardown(): void {
    this.closing = endConnection(this.client, this.sock, 0);
  }
}

/** Says goodbye and waits up to `graceMs` for the server to hang up, then destroys the socket. */
function endConnection(client: Client, sock: net.Socket, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve();
    sock.once('close', () => {
      clearTimeout(force);
      resolve();
    });
    const force = setTimeout(() => sock.destroy(), graceMs);
    if (graceMs > 0) client.end();
  });
}

function loginTimeout(t: SshTarget, ms: number): SshTimeoutError {
  return new SshTimeoutError(
    whereOf(t),
    'login',
    ms,
    `${whereOf(t)} did not complete the SSH handshake within ${ms} ms (the login: connect, key exchange and authentication; ssh.connectTimeoutMs)`,
  );
}

interface Authentication {
  handler: AuthHandlerMiddleware;
  /** What the server's last authentication failure said can continue (undefined: none came yet). */
  offered: string[] | undefined;
  /** The methods we presented (besides "none"). */
  tried: string[];
}

/**
 * Tries "none" first (its failure is where the server lists the methods it offers), then each
 * method we have that the server still offers, and stops when it offers none: then no login can
 * succeed, whoever tries, which is the only failed login that proves logins are refused.
 */
function authentication(key: boolean, agent: boolean): Authentication {
  const ours: AuthenticationType[] = ['none', ...(key ? ['publickey' as const] : []), ...(agent ? ['agent' as const] : [])];
  const state: Authentication = {
    offered: undefined,
    tried: [],
    // ssh2 takes the method returned, or false for "no more" (lib/client.js, tryNextAuth); its
    // types only know the callback form.
    handler: ((left: AuthenticationType[] | null): AuthenticationType | false => {
      if (left) state.offered = left.filter((m) => m !== 'none'); // null before the first attempt
      if (state.offered?.length === 0) return false;
      for (let m = ours.shift(); m; m = ours.shift()) {
        const wire = m === 'agent' ? 'publickey' : m;
        if (m === 'none' || !state.offered || state.offered.includes(wire)) {
          if (m !== 'none') state.tried.push(m);
          return m;
        }
      }
      return false;
    }) as unknown as AuthHandlerMiddleware,
  };
  return state;
}

function authDenied(t: SshTarget, auth: Authentication): SshError {
  const offers = auth.offered ? `it offers ${auth.offered.join(', ')}` : 'it did not say which methods it offers';
  return new SshError(
    'auth-denied',
    `${whereOf(t)} denied authentication for user "${t.user}": our credentials were rejected (we tried ${auth.tried.join(', ') || 'nothing it offers'}; ${offers}): check ssh.user and the key`,
    auth.offered ? { offeredMethods: auth.offered } : {},
  );
}

function classifyConnectError(t: SshTarget, err: Error & { level?: string; code?: string }, presented: string, auth: Authentication): SshError {
  const where = whereOf(t);
  const msg = err.message ?? String(err);
  if (/host key verification failed|Host denied/i.test(msg) || (presented && !t.pinned.includes(presented)) || (t.revoked ?? []).includes(presented)) {
    if ((t.revoked ?? []).includes(presented)) {
      return new SshError(
        'host-key-revoked',
        `${where} presented host key ${presented}, which known_hosts marks @revoked: refusing to connect; the host must get a new key`,
      );
    }
    if (t.pinned.length === 0 && t.certAuthority) {
      return new SshError(
        'host-key-unknown',
        `${where}: known_hosts trusts a @cert-authority for this host, but driftless does not verify host certificates: refusing to connect; pin the host's own key (ssh.knownHostsFile or hosts[].hostKey)`,
      );
    }
    if (t.pinned.length === 0) {
      return new SshError(
        'host-key-unknown',
        `${where} presented host key ${presented || '(none)'} but no key is pinned for it: refusing to connect; add its fingerprint (ssh.knownHostsFile or hosts[].hostKey) after checking it out of band`,
      );
    }
    return new SshError(
      'host-key-mismatch',
      `${where} presented host key ${presented}, not the pinned ${t.pinned.join(' or ')}: possible man-in-the-middle, refusing to connect; if the host was legitimately rebuilt, update its pinned fingerprint`,
    );
  }
  if (/Encrypted .*private .*key.*no passphrase|no passphrase given/i.test(msg)) {
    return new SshError(
      'identity',
      `identity file ${t.identityFile} is encrypted and no passphrase was given: set ssh.passphraseEnv to the name of an environment variable holding it`,
    );
  }
  if (/Cannot parse privateKey|Unsupported key format|bad passphrase|Failed to decrypt/i.test(msg)) {
    return new SshError('identity', `identity file ${t.identityFile} could not be used (${msg}): check the key and its passphrase`);
  }
  if (err.level === 'client-authentication' || /All configured authentication methods failed/i.test(msg)) {
    if (auth.offered?.length === 0) {
      return new SshError('auth-refused', `${where} offers no authentication method to user "${t.user}": it refuses every login`, { offeredMethods: [] });
    }
    return authDenied(t, auth);
  }
  if (err.level === 'client-timeout' || /Timed out while waiting for handshake/i.test(msg)) {
    return loginTimeout(t, t.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  }
  if (err.code && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT'].includes(err.code)) {
    return new SshError('unreachable', `${where} is unreachable (${err.code})`);
  }
  return new SshError('protocol', `${where}: SSH failed: ${msg}`, { cause: err });
}
