/** How to log in to a host over SSH: its address, the user and key, the passphrase (from the env var named), the pinned host keys. */
import fs from 'node:fs';
import type { Target } from '../core/config.ts';
import type { SnapshotHost } from '../core/inventory.ts';
import { knownHostKeys } from '../probes/known-hosts.ts';
import type { SshTarget } from '../probes/ssh.ts';

export function sshLoginFor(host: SnapshotHost, target: Target): SshTarget | { error: string } {
  const auth = target.ssh;
  if (!auth) return { error: `target "${target.name}" has no ssh section: add ssh.user and ssh.identityFile to audit its hosts over SSH` };
  if (!host.ssh) return { error: `${host.id} has no SSH address (for docker targets, label the container driftless.port.ssh)` };
  const pinned: string[] = [];
  if (target.provider === 'ssh') {
    const fp = target.hosts.find((h) => h.id === host.id)?.hostKey;
    if (fp) pinned.push(fp);
  }
  let revoked: string[] = [];
  let certAuthority = false;
  if (auth.knownHostsFile && fs.existsSync(auth.knownHostsFile)) {
    const known = knownHostKeys(auth.knownHostsFile, host.ssh.host, host.ssh.port);
    pinned.push(...known.pinned);
    revoked = known.revoked;
    certAuthority = known.certAuthority;
  }
  return {
    name: host.id,
    host: host.ssh.host,
    port: host.ssh.port,
    user: auth.user,
    ...(auth.identityFile ? { identityFile: auth.identityFile } : {}),
    ...(auth.passphraseEnv && process.env[auth.passphraseEnv] ? { passphrase: process.env[auth.passphraseEnv] } : {}),
    ...(auth.agent && process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
    pinned: pinned.filter((k) => !revoked.includes(k)),
    revoked,
    certAuthority,
    ...(auth.connectTimeoutMs ? { connectTimeoutMs: auth.connectTimeoutMs } : {}),
    ...(auth.commandTimeoutMs ? { commandTimeoutMs: auth.commandTimeoutMs } : {}),
    ...(auth.maxOutputMiB ? { maxOutputBytes: auth.maxOutputMiB * 1024 * 1024 } : {}),
  };
}
