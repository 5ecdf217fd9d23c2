/**
 * The key a verification trusts is a PUBLIC key. A private key is never accepted for it: whoever
 * can replace a private key file (in a config they control) can sign anything with it and then
 * "verify" their own signature. Shared by the config check (report.verifyKey) and `driftless verify`.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** The command that prints a private key's public half. */
export const pubOutHint = (file: string) => `openssl pkey -in ${file} -pubout -out ${file.replace(/\.pem$/, '')}.pub.pem`;

/** An Ed25519 public key (SPKI PEM), or why `pem` (read from `written`) is not one. */
export function parseTrustedKey(pem: string, written: string): { key: KeyObject } | { why: string } {
  // createPublicKey would take a private key too (and derive its public half): look first.
  let isPrivate = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem);
  if (!isPrivate) {
    try {
      createPrivateKey(pem);
      isPrivate = true;
    } catch {
      /* not a private key: good */
    }
  }
  if (isPrivate)
    return { why: `${written} is a private key: verification trusts a public key only, never a private one; pass its public half (${pubOutHint(written)})` };
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return { why: `${written} is not a public key in PEM ("-----BEGIN PUBLIC KEY-----"): make it from the signing key with ${pubOutHint('key.pem')}` };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { why: `${written} is a ${key.asymmetricKeyType} key: the evidence is signed with Ed25519` };
  return { key };
}
