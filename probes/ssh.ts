/**
 * SSH sessions to audited hosts (ssh2). Fails closed: a host key that is not pinned, or differs
 * from the pinned one, ends the connection before authentication. Every command has a timeout
 * and the connection keeps alive, so a hung host costs bounded time.
 */
import fs from 'node:fs';
import { Client, type ConnectConfig } from 'ssh2';
import { SshError } from '../core/errors.ts';
import { fingerprintOfBlob } from './hostkey.ts';

export { SshError };
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
}

export interface CommandResult {
  command: string;
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

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
  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    readonly hostKey: string,
  ) {}

  static connect(t: SshTarget): Promise<SshSession> {
    const privateKey = readIdentity(t);
    return new Promise((resolve, reject) => {
      const client = new Client();
      let presented = '';
      let settled = false;
      // Key exchange done: a close after this is the server ending authentication (a refusal);
      // a close before it proves nothing about logins (a proxy, a crash, a tarpit).
      let keyExchanged = false;
      const fail = (err: SshError) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      const cfg: ConnectConfig = {
        host: t.host,
        port: t.port,
        username: t.user,
        readyTimeout: t.connectTimeoutMs ?? 10_000,
        keepaliveInterval: 5_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOfBlob(key);
          return t.pinned.includes(presented) && !(t.revoked ?? []).includes(presented);
        },
        ...(privateKey ? { privateKey, ...(t.passphrase ? { passphrase: t.passphrase } : {}) } : {}),
        ...(t.agent ? { agent: t.agent } : {}),
      };
      client.on('ready', () => {
        settled = true;
        resolve(new SshSession(client, t, presented));
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => fail(classifyConnectError(t, err, presented)));
      client.on('handshake', () => (keyExchanged = true));
      client.on('close', () =>
        fail(
          keyExchanged
            ? new SshError('closed', `${t.name} (${t.host}:${t.port}) closed the connection during authentication`)
            : new SshError(
                'closed-before-key-exchange',
                `${t.name} (${t.host}:${t.port}) closed the connection before the SSH key exchange: nothing about logins can be told`,
              ),
        ),
      );
      try {
        client.connect(cfg);
      } catch (err) {
        fail(classifyConnectError(t, err as Error, presented));
      }
    });
  }

  /** Runs one command; resolves with its exit code and output, never rejects on a non-zero exit. */
  exec(command: string, timeoutMs = this.target.commandTimeoutMs ?? 15_000): Promise<CommandResult> {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new SshError('closed', `${this.target.name}: could not start a command: ${err.message}`, { cause: err }));
        let stdout = '';
        let stderr = '';
        let done = false;
        const timer = setTimeout(() => {
          if (done) return;
          done = true;
          stream.close();
          reject(new SshError('timeout', `${this.target.name}: command did not finish within ${timeoutMs} ms: ${command}`));
        }, timeoutMs);
        stream.on('data', (b: Buffer) => {
          if (stdout.length < MAX_OUTPUT) stdout += b.toString();
        });
        stream.stderr.on('data', (b: Buffer) => {
          if (stderr.length < MAX_OUTPUT) stderr += b.toString();
        });
        stream.on('close', (code: number | null, signal?: string) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (code === undefined || (code === null && !signal)) {
            return reject(new SshError('closed', `${this.target.name} closed the connection while running: ${command}`));
          }
          resolve({ command, exitCode: code, ...(signal ? { signal } : {}), stdout, stderr, durationMs: Date.now() - t0 });
        });
      });
    });
  }

  close(): void {
    this.client.end();
  }
}

function classifyConnectError(t: SshTarget, err: Error & { level?: string; code?: string }, presented: string): SshError {
  const where = `${t.name} (${t.host}:${t.port})`;
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
    return new SshError('auth-denied', `${where} denied authentication for user "${t.user}" (publickey)`);
  }
  if (err.level === 'client-timeout' || /Timed out while waiting for handshake/i.test(msg)) {
    return new SshError('timeout', `${where} did not complete the SSH handshake within ${t.connectTimeoutMs ?? 10_000} ms`);
  }
  if (err.code && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT'].includes(err.code)) {
    return new SshError('unreachable', `${where} is unreachable (${err.code})`);
  }
  return new SshError('protocol', `${where}: SSH failed: ${msg}`, { cause: err });
}
