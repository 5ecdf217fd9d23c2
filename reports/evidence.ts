/**
 * The evidence bundle: a manifest of every file of a results folder or report (sha256 and size),
 * the hashes of the run's inputs (config, release file, known_hosts, manifests, waivers, harness
 * version and lockfile), the plan's hash and the verdict, signed with an Ed25519 key
 * (report.signingKey). `driftless verify` checks the signature against a PUBLIC key it trusts (never
 * a private key: whoever can swap one can sign anything) and names every file added, removed or
 * changed since. The signature covers the whole bundle, its run ids and time included, so a bundle
 * cannot be passed off as another run's. An unsigned bundle says so; it verifies nothing.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BUILT_IN_CONFIG, type Config } from '../core/config.ts';
import { VerifyKeyError } from '../core/errors.ts';
import { parseTrustedKey } from '../core/public-key.ts';
import { keyFingerprint } from '../core/provenance.ts';
import type { Verdict } from './verdict.ts';

export const EVIDENCE_FILE = 'driftless-evidence.json';

export interface EvidenceBundle {
  version: 1;
  kind: 'results' | 'report';
  runIds: string[];
  createdAt: string;
  harness: { version: string; lockfileSha256: string | null };
  inputs: Array<{ what: string; file: string; sha256: string | null }>;
  planHashes: string[];
  verdict: { verdict: string; exitCode: number } | null;
  files: Array<{ path: string; sha256: string; bytes: number }>;
  signature: { algorithm: 'ed25519'; keyFingerprint: string; publicKey: string; value: string } | null;
  unsigned?: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function fileSha256(file: string): string | null {
  try {
    return sha256(fs.readFileSync(file));
  } catch {
    return null;
  }
}

/** Every file under `dir` (relative, sorted), the bundle itself left out. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (r !== EVIDENCE_FILE) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The bytes the signature covers: the bundle without its signature, keys in a fixed order. */
function signedBytes(b: Omit<EvidenceBundle, 'signature'>): Buffer {
  const canonical = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(canonical).join(',')}]`
      : v && typeof v === 'object'
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
        : JSON.stringify(v);
  return Buffer.from(canonical(b));
}

export { keyFingerprint };

/** The key a verification trusts, from a public key file (SPKI PEM); a private key is refused. `from` says where it was named. */
export function readTrustedKey(file: string, from: string): KeyObject {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new VerifyKeyError(`cannot read ${from} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = parseTrustedKey(pem, file);
  if ('why' in parsed) throw new VerifyKeyError(`${from}: ${parsed.why}`);
  return parsed.key;
}

/** The public half of a key file, private (PKCS#8) or public (SPKI) PEM (the signer's own use: never to decide trust). */
export function publicKeyOf(file: string): KeyObject {
  const pem = fs.readFileSync(file, 'utf8');
  return pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
}

export function writeEvidence(
  dir: string,
  opts: Omit<EvidenceBundle, 'version' | 'files' | 'signature' | 'unsigned' | 'createdAt'> & { signingKey?: string },
): EvidenceBundle {
  const { signingKey, ...rest } = opts;
  const files = listFiles(dir).map((p) => {
    const bytes = fs.readFileSync(path.join(dir, p));
    return { path: p, sha256: sha256(bytes), bytes: bytes.length };
  });
  const body: Omit<EvidenceBundle, 'signature'> = { version: 1, ...rest, createdAt: new Date().toISOString(), files };
  let bundle: EvidenceBundle;
  if (signingKey) {
    const key = createPrivateKey(fs.readFileSync(signingKey, 'utf8'));
    const pub = createPublicKey(key);
    bundle = {
      ...body,
      signature: {
        algorithm: 'ed25519',
        keyFingerprint: keyFingerprint(pub),
        publicKey: pub.export({ type: 'spki', format: 'pem' }).toString(),
        value: sign(null, signedBytes(body), key).toString('base64'),
      },
    };
  } else {
    bundle = { ...body, signature: null, unsigned: 'no report.signingKey in the config: nothing proves these files were not edited after the run' };
  }
  fs.writeFileSync(path.join(dir, EVIDENCE_FILE), JSON.stringify(bundle, null, 2) + '\n');
  return bundle;
}

export interface Verification {
  signed: boolean;
  signatureValid: boolean;
  trustedKey: boolean;
  added: string[];
  removed: string[];
  changed: string[];
  problems: string[];
  /** What the bundle says it seals (run ids, time, kind): vouched for only when the signature is valid and by the trusted key. */
  claims?: Pick<EvidenceBundle, 'kind' | 'runIds' | 'createdAt'>;
}

/** Checks a folder against its bundle: the signature (by `trusted`, when given), and every file. */
export function verifyEvidence(dir: string, trusted?: KeyObject): Verification {
  const out: Verification = { signed: false, signatureValid: false, trustedKey: false, added: [], removed: [], changed: [], problems: [] };
  let bundle: EvidenceBundle;
  try {
    bundle = JSON.parse(fs.readFileSync(path.join(dir, EVIDENCE_FILE), 'utf8')) as EvidenceBundle;
    if (!Array.isArray(bundle.files)) throw new TypeError('no files list');
  } catch (err) {
    // A bundle that does not parse was edited (or truncated): nothing in the folder is vouched for.
    out.signed = true;
    out.problems.push(`${EVIDENCE_FILE} is not a readable evidence bundle (${err instanceof Error ? err.message : String(err)}): it was edited or truncated`);
    return out;
  }
  out.signed = !!bundle.signature;
  out.claims = { kind: bundle.kind, runIds: bundle.runIds, createdAt: bundle.createdAt };
  if (bundle.signature) {
    const { signature, ...body } = bundle;
    let pub: KeyObject | undefined;
    try {
      pub = createPublicKey(signature.publicKey);
      out.signatureValid = verify(null, signedBytes(body), pub, Buffer.from(signature.value, 'base64'));
    } catch {
      out.signatureValid = false; // an unreadable key or signature is an edited bundle
    }
    if (!out.signatureValid) out.problems.push(`the signature does not match the bundle: ${EVIDENCE_FILE} was edited after it was signed`);
    if (trusted) {
      out.trustedKey = !!pub && keyFingerprint(trusted) === keyFingerprint(pub);
      if (!out.trustedKey) out.problems.push(`signed by key ${signature.keyFingerprint}, not by the trusted key ${keyFingerprint(trusted)}`);
    }
  } else out.problems.push(`the bundle is not signed (${bundle.unsigned ?? 'no signature'})`);
  const listed = new Map(bundle.files.map((f) => [f.path, f]));
  const present = new Set(listFiles(dir));
  for (const [p, f] of listed) {
    if (!present.has(p)) out.removed.push(p);
    else if (fileSha256(path.join(dir, p)) !== f.sha256) out.changed.push(p);
  }
  for (const p of present) if (!listed.has(p)) out.added.push(p);
  return out;
}

/**
 * The inputs that decided a run, by hash: config (built-in defaults: the hash of their JSON),
 * release file, pinned host keys, golden manifests, the keys trusted for provenance and the
 * attestations verified (`attestations`: the files the run's DL-IMG-020 results name, besides
 * those the release names), waivers, the plan files gated, lockfile.
 */
export function inputsOf(config: Config, lockfile: string, attestations: readonly string[] = []): EvidenceBundle['inputs'] {
  const builtIn = config.source.file === BUILT_IN_CONFIG;
  const out: EvidenceBundle['inputs'] = [{ what: 'config', file: config.source.file, sha256: builtIn ? config.source.sha256 : fileSha256(config.source.file) }];
  if (config.release.file) out.push({ what: 'release file', file: config.release.file, sha256: fileSha256(config.release.file) });
  for (const f of [...new Set(config.targets.map((t) => t.ssh?.knownHostsFile).filter((x): x is string => !!x))])
    out.push({ what: 'known_hosts', file: f, sha256: fileSha256(f) });
  for (const [service, s] of Object.entries(config.release.services))
    if (s.manifest) out.push({ what: `golden manifest of ${service}`, file: s.manifest, sha256: fileSha256(s.manifest) });
  for (const f of config.policy?.provenance?.keys ?? []) out.push({ what: 'provenance key', file: f, sha256: fileSha256(f) });
  const named = Object.values(config.release.services).flatMap((s) => (s.attestation ? [s.attestation] : []));
  for (const f of [...new Set([...named, ...attestations])]) out.push({ what: 'attestation', file: f, sha256: fileSha256(f) });
  if (config.waivers) {
    const f = path.resolve(path.dirname(config.source.file), config.waivers);
    out.push({ what: 'waivers', file: f, sha256: fileSha256(f) });
  }
  for (const p of config.planFiles ?? []) out.push({ what: `plan file ${p.name}`, file: p.file, sha256: fileSha256(p.file) });
  out.push({ what: 'lockfile', file: lockfile, sha256: fileSha256(lockfile) });
  return out;
}

/** What the verdict says of its own evidence: signed (by which key), or UNSIGNED and what that means. */
export function evidenceState(s: { signed: boolean; keyFingerprint?: string }): NonNullable<Verdict['evidence']> {
  return s.signed
    ? { signed: true, statement: `signed (Ed25519 ${s.keyFingerprint}): check with driftless verify`, keyFingerprint: s.keyFingerprint! }
    : { signed: false, statement: 'UNSIGNED: nothing proves these results were not edited after the run (set report.signingKey)' };
}
