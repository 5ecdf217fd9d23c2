/** Host-key fingerprints in OpenSSH's form (SHA256:base64, no padding), for pinning. */
import { createHash } from 'node:crypto';
import { UsageError } from '../core/errors.ts';

export function fingerprintOfBlob(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** `ssh-ed25519 AAAA... comment` -> SHA256:... */
export function fingerprintOfPublicKey(line: string): string {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new UsageError(`not an OpenSSH public key line: "${line.slice(0, 40)}"`);
  return fingerprintOfBlob(Buffer.from(b64, 'base64'));
}
