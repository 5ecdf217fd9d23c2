/**
 * Reads OpenSSH known_hosts files (plain and hashed entries) for one host: the keys pinned for
 * it, the keys revoked for it (@revoked: refused even when also pinned), and whether a
 * @cert-authority line names it (driftless does not verify host certificates, and says so rather
 * than treat a CA's key as the host's own).
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { fingerprintOfBlob } from './hostkey.ts';

export interface KnownHostKeys {
  pinned: string[];
  revoked: string[];
  certAuthority: boolean;
}

function hostPatterns(address: string, port: number): string[] {
  return port === 22 ? [address, `[${address}]:22`] : [`[${address}]:${port}`];
}

function matchesHashed(entry: string, candidates: string[]): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  return candidates.some((c) => createHmac('sha1', Buffer.from(salt, 'base64')).update(c).digest('base64') === hash);
}

export function knownHostKeys(file: string, address: string, port: number): KnownHostKeys {
  const candidates = hostPatterns(address, port);
  const out: KnownHostKeys = { pinned: [], revoked: [], certAuthority: false };
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const marker = line.startsWith('@') ? line.split(/\s+/, 1)[0]! : undefined;
    const parts = (marker ? line.slice(marker.length) : line).trim().split(/\s+/);
    const [hosts, , blob] = parts;
    if (!hosts || !blob) continue;
    const match = hosts.startsWith('|1|') ? matchesHashed(hosts, candidates) : hosts.split(',').some((h) => candidates.includes(h));
    // @revoked lines name the key only (no host pattern applies to them in OpenSSH: "*" is usual).
    if (marker === '@revoked') {
      out.revoked.push(fingerprintOfBlob(Buffer.from(blob, 'base64')));
      continue;
    }
    if (!match) continue;
    if (marker === '@cert-authority') out.certAuthority = true;
    else if (!marker) out.pinned.push(fingerprintOfBlob(Buffer.from(blob, 'base64')));
  }
  out.pinned = out.pinned.filter((k) => !out.revoked.includes(k));
  return out;
}

/** Fingerprints pinned for address:port (revoked ones left out). */
export function pinnedFromKnownHosts(file: string, address: string, port: number): string[] {
  return knownHostKeys(file, address, port).pinned;
}
