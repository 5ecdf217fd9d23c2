/**
 * What a team's check may ask of a host, read-only by construction: run a command as the login
 * user over the pinned SSH session (with a deadline), read a file, the mount table, the listening
 * sockets, and the engine's or EC2's facts. Every command is recorded for the check's evidence.
 * Sessions are pooled per worker and host; each host has one worker (its lane, checks-run.ts), so a
 * host is logged into once per run, not once per test.
 */
import type { Config, Target } from '../../core/config.ts';
import type { SnapshotHost } from '../../core/inventory.ts';
import { type CommandResult, SshSession } from '../../probes/ssh.ts';
import { shQuote } from '../../probes/shell.ts';
import type { ImageFacts } from '../../providers/provider.ts';
import { providerFor } from '../../providers/registry.ts';
import { sshLoginFor } from '../../providers/ssh-login.ts';
import { requireEndpoint } from '../endpoint-identity.ts';
import { type Mount, parseMountinfo } from '../ssh-edits/mounts.ts';

export interface CommandRecord {
  command: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  error?: string;
}

/** Evidence keeps the head of long outputs; the check itself sees all of it. */
const KEEP = 8192;
const cut = (s: string) => (s.length > KEEP ? `${s.slice(0, KEEP)}… (${s.length - KEEP} more characters)` : s);

/**
 * A worker keeps its session to a host for the whole run, idle between that host's checks: a
 * keepalive every 5 s from every idle session cost more CPU than the checks themselves
 * (bench/README.md). Once a minute still keeps NAT state alive and finds a dead server; every
 * command has its own deadline.
 */
export const POOLED_KEEPALIVE_MS = 60_000;

export class SessionPool {
  private readonly sessions = new Map<string, Promise<SshSession>>();

  get(host: SnapshotHost, target: Target): Promise<SshSession> {
    const key = `${target.name}/${host.id}`;
    let s = this.sessions.get(key);
    if (!s) {
      const login = sshLoginFor(host, target);
      // Like the built-in suites, a check runs only on an endpoint proven to be the host it names.
      s =
        'error' in login
          ? Promise.reject(new Error(login.error))
          : SshSession.connect({ ...login, keepaliveMs: POOLED_KEEPALIVE_MS }).then(async (session) => {
              try {
                await requireEndpoint(session, host, `${login.host}:${login.port}`);
              } catch (err) {
                await session.close();
                throw err;
              }
              return session;
            });
      // A failed login is not cached: the next test of the host tries again, and says why.
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.close()));
  }
}

export interface ListeningSocket {
  proto: 'tcp' | 'tcp6';
  address: string;
  port: number;
}

/** /proc/net/tcp{,6} lines in state LISTEN (0A): address and port. */
export function parseListening(proto: 'tcp' | 'tcp6', text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const [hex, portHex] = f[1]!.split(':') as [string, string];
    let address: string;
    if (proto === 'tcp') address = [0, 1, 2, 3].map((i) => parseInt(hex.slice(6 - 2 * i, 8 - 2 * i), 16)).join('.');
    else address = hex === '0'.repeat(32) ? '::' : hex;
    out.push({ proto, address, port: parseInt(portHex, 16) });
  }
  return out;
}

/** One host as a check sees it. */
export class HostAccess {
  readonly commands: CommandRecord[] = [];
  constructor(
    readonly id: string,
    readonly fleet: string,
    private readonly host: SnapshotHost,
    private readonly target: Target,
    private readonly config: Config,
    private readonly pool: SessionPool,
    private readonly timeoutMs: number,
  ) {}

  /** Runs a command as the login user; resolves whatever its exit code (check it), rejects if it could not run. */
  async run(command: string, opts: { timeoutMs?: number } = {}): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
    const t0 = Date.now();
    let r: CommandResult;
    try {
      r = await (await this.pool.get(this.host, this.target)).exec(command, opts.timeoutMs ?? this.timeoutMs);
    } catch (err) {
      this.commands.push({ command, exitCode: null, stdout: '', stderr: '', durationMs: Date.now() - t0, error: (err as Error).message });
      throw err;
    }
    this.commands.push({ command, exitCode: r.exitCode, stdout: cut(r.stdout), stderr: cut(r.stderr), durationMs: r.durationMs });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  /** A file's contents; rejects (the check breaks, it does not fail) when it cannot be read. */
  async readFile(file: string): Promise<string> {
    const r = await this.run(`cat -- ${shQuote(file)}`);
    if (r.exitCode !== 0) throw new Error(`${this.id}: cannot read ${file} (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
    return r.stdout;
  }

  /** Whether a path exists (as the login user sees it). */
  async exists(file: string): Promise<boolean> {
    return (await this.run(`test -e ${shQuote(file)} || test -L ${shQuote(file)}`)).exitCode === 0;
  }

  /** The host's mount table (/proc/self/mountinfo). */
  async mounts(): Promise<Mount[]> {
    return parseMountinfo(await this.readFile('/proc/self/mountinfo'));
  }

  /** The TCP sockets listening on the host (/proc/net/tcp and tcp6, readable by any user). */
  async listening(): Promise<ListeningSocket[]> {
    const v4 = await this.run('cat /proc/net/tcp');
    const v6 = await this.run('cat /proc/net/tcp6 2>/dev/null');
    return [...parseListening('tcp', v4.stdout), ...parseListening('tcp6', v6.stdout)];
  }

  /** What the provider says of the instance: the container's settings (docker) or the instance (EC2). */
  async facts(): Promise<ImageFacts> {
    return (await providerFor(this.target, this.config)).imageFacts(this.host);
  }
}
