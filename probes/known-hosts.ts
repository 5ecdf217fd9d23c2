/** Reads OpenSSH known_hosts files (plain and hashed entries) into pinned fingerprints. */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { fingerprintOfBlob } from './hostkey.ts';

function hostPatterns(address: string, port: number): string[] {
  return port === 22 ? [address, `[${address}]:22`] : [`[${address}]:${port}`];
}

function matchesHashed(entry: string, candidates: string[]): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  return candidates.some((c) => createHmac('sha1', Buffer.from(salt, 'base64')).update(c).digest('base64') === hash);
}

/** Fingerprints pinned for address:port in a known_hosts file (empty when none). */
export function pinnedFromKnownHosts(file: string, address: string, port: number): string[] {
  const candidates = hostPatterns(address, port);
  const out: string[] = [];
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@revoked')) continue;
    const parts = line.replace(/^@cert-authority\s+/, '').split(/\s+/);
    const [hosts, , blob] = parts;
    if (!hosts || !blob) continue;
    const match = hosts.startsWith('|1|') ? matchesHashed(hosts, candidates) : hosts.split(',').some((h) => candidates.includes(h));
    if (match) out.push(fingerprintOfBlob(Buffer.from(blob, 'base64')));
  }
  return out;
}
