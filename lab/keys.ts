/**
 * SSH material for the lab, generated at run time into the lab's state directory (never committed):
 * the harness's login key pair, and one host key per host slot, recorded in known_hosts form
 * and as fingerprints so the harness can pin them.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LabError } from '../core/errors.ts';
import { fingerprintOfPublicKey } from '../probes/hostkey.ts';
import type { LabPlan } from './lab-plan.ts';

export function keygen(file: string, comment: string): void {
  if (fs.existsSync(file)) return;
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'pipe' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new LabError(
      e.code === 'ENOENT'
        ? 'ssh-keygen is not installed: install openssh-client (Debian: apt-get install -y openssh-client)'
        : `ssh-keygen failed for ${file}: ${String((err as { stderr?: Buffer }).stderr ?? e.message)}`,
    );
  }
}

export interface LabKeys {
  identityFile: string;
  knownHostsFile: string;
  fingerprints: Record<string, string>;
}

export function labKeyPaths(plan: LabPlan) {
  return {
    identityFile: path.join(plan.dir, 'id_ed25519'),
    authorizedKeys: path.join(plan.dir, 'authorized_keys'),
    knownHostsFile: path.join(plan.dir, 'known_hosts'),
    hostKeyDir: (name: string) => path.join(plan.dir, 'hostkeys', name),
  };
}

/**
 * The lab's evidence signing key (Ed25519, PKCS#8 PEM), made once, and its public half next to
 * it (`.pub.pem`, SPKI): the lab config signs with the one and `driftless verify` trusts the other.
 * The public half is rewritten from the private key whenever it is missing (a lab made before it).
 */
export function ensureEvidenceKey(plan: Pick<LabPlan, 'dir'>): { signingKey: string; verifyKey: string } {
  const file = path.join(plan.dir, 'evidence_ed25519.pem');
  const pub = evidencePublicKeyPath(file);
  fs.mkdirSync(plan.dir, { recursive: true, mode: 0o700 }); // a fresh checkout has no lab dir yet
  if (!fs.existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.rmSync(pub, { force: true }); // the half of a key that no longer exists
  }
  if (!fs.existsSync(pub)) {
    const publicKey = createPublicKey(createPrivateKey(fs.readFileSync(file, 'utf8')));
    fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  }
  return { signingKey: file, verifyKey: pub };
}

/** Where the public half of a signing key file is written. */
export const evidencePublicKeyPath = (signingKey: string) => signingKey.replace(/\.pem$/, '') + '.pub.pem';
/**
 * The lab pipeline's provenance key (ECDSA P-256, as `cosign generate-key-pair` makes), made once:
 * it signs every attestation of a lab build; the lab config trusts its public half
 * (policy.provenance.keys). Returns the private key's file.
 */
export function ensureProvenanceKey(plan: LabPlan): string {
  const file = path.join(plan.dir, 'provenance_ecdsa.pem');
  fs.mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(file)) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.writeFileSync(file.replace(/\.pem$/, '.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  }
  return file;
}

export function ensureKeys(plan: LabPlan): LabKeys {
  const p = labKeyPaths(plan);
  fs.mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
  ensureEvidenceKey(plan);
  keygen(p.identityFile, 'driftless-lab-auditor');
  fs.writeFileSync(p.authorizedKeys, fs.readFileSync(p.identityFile + '.pub'), { mode: 0o644 });
  fs.chmodSync(p.authorizedKeys, 0o644);
  const known: string[] = [];
  const fingerprints: Record<string, string> = {};
  for (const h of plan.hosts) {
    const dir = p.hostKeyDir(h.name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    keygen(path.join(dir, 'ssh_host_ed25519_key'), `${h.name}-hostkey`);
    const pub = fs.readFileSync(path.join(dir, 'ssh_host_ed25519_key.pub'), 'utf8').trim();
    const [type, blob] = pub.split(/\s+/);
    known.push(`[127.0.0.1]:${h.sshPort} ${type} ${blob}`);
    fingerprints[h.name] = fingerprintOfPublicKey(pub);
  }
  fs.writeFileSync(p.knownHostsFile, known.join('\n') + '\n');
  return { identityFile: p.identityFile, knownHostsFile: p.knownHostsFile, fingerprints };
}
