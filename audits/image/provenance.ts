/**
 * DL-IMG-020's verifier, pure (bytes and keys in, facts out; audits/image/provenance-gather.ts
 * reads the files): does the attestation of the image a host runs verify, offline, against a
 * trusted public key; does its in-toto statement name that image as its subject; does its SLSA
 * provenance come from the expected builder and repository; does it name the source the release
 * declares? Each of the four that breaks is said by name.
 *
 * Key-signed bundles only. Transparency-log entries and timestamps in a bundle are not checked
 * (there is no log's key offline, and the key alone is what is trusted); keyless (Fulcio
 * certificate) bundles need a trusted root and are reported as not verifiable here.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON, type BundleWithDsseEnvelope } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import type { Host } from '../../core/inventory.ts';
import { errorMessage } from '../../core/errors.ts';
import {
  bundleFileName,
  type DigestSet,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPES,
  type InTotoStatement,
  keyFingerprint,
  type ResourceDescriptor,
  SLSA_PROVENANCE_V02,
  SLSA_PROVENANCE_V1,
} from '../../core/provenance.ts';

export interface TrustedKey {
  file: string;
  fingerprint: string;
  key: KeyObject;
}

/** The trusted keys from their PEM text (public keys only: the config refuses private ones). */
export function trustedKey(file: string, pem: string): TrustedKey {
  const key = createPublicKey(pem);
  return { file, fingerprint: keyFingerprint(key), key };
}

/** Which of the four broke (the builder and the repository are the third). */
export type ProvenanceFailure = 'untrusted key' | 'subject mismatch' | 'builder mismatch' | 'repository mismatch' | 'source mismatch';

export interface ProvenanceFacts {
  /** The image the host actually runs: what the subject must name. */
  running: { image: string; sha256: string[]; ami?: string };
  /** Where the attestation was looked for. */
  lookedAt: string[];
  /** The bundle found (absent: no attestation). */
  attestation?: { file: string; from: 'release' | 'bundles'; sha256: string };
  /** It could not be read, parsed or verified here: the check is broken, never passed or failed. */
  error?: string;
  /** The trusted key whose signature verified. */
  signer?: { keyFile: string; keyFingerprint: string };
  statement?: { predicateType: string; subjects: Array<{ name: string; digest: DigestSet }>; builder?: string; sources: ResourceDescriptor[] };
  expected: { builder: string; repository?: string; source?: string };
  /** The source dependency that names the declared source, and the commit the attestation records. */
  source?: { uri?: string; id: string; commit?: string };
  failures: Array<{ which: ProvenanceFailure; detail: string }>;
}

/** The image a host runs, as a subject must name it: the sha256 of its image id and repo digests, or its AMI. */
export function runningImage(image: Host['image']): ProvenanceFacts['running'] {
  const hex = (d: string) => /sha256:([0-9a-f]{64})$/i.exec(d)?.[1]?.toLowerCase();
  const sha256 = [...new Set([image.id, ...(image.repoDigests ?? [])].map((d) => (d ? hex(d) : undefined)).filter((x): x is string => !!x))];
  return { image: image.ami ?? image.id ?? image.repoDigests?.[0] ?? '(unknown)', sha256, ...(image.ami ? { ami: image.ami } : {}) };
}

/** The names a bundles directory may keep this image's attestation under, most specific first. */
export function bundleNames(image: Host['image']): string[] {
  if (image.ami) return [bundleFileName(image.ami)];
  return [...new Set([image.id, ...(image.repoDigests ?? [])].filter((d): d is string => !!d && /sha256:[0-9a-f]{64}$/i.test(d)).map(bundleFileName))];
}

export interface VerifyInput {
  running: ProvenanceFacts['running'];
  lookedAt: string[];
  /** The bundle's bytes, or why it could not be read; absent: none was found. */
  bundle?: { file: string; from: 'release' | 'bundles'; bytes: Buffer } | { file: string; from: 'release' | 'bundles'; error: string };
  keys: readonly TrustedKey[];
  expected: ProvenanceFacts['expected'];
}

const OFFLINE = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };

/** Whether `key` made the envelope's signature (the Sigstore verifier, offline, with that key alone). */
function signedBy(bundle: BundleWithDsseEnvelope, key: KeyObject): boolean {
  const trust = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => ({ publicKey: key, validFor: () => true }) };
  try {
    new Verifier(trust, OFFLINE).verify({ ...toSignedEntity(bundle), tlogEntries: [], timestamps: [] });
    return true;
  } catch {
    return false;
  }
}

const obj = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {});
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const digestSet = (x: unknown): DigestSet => Object.fromEntries(Object.entries(obj(x)).filter((e): e is [string, string] => typeof e[1] === 'string'));
const descriptor = (x: unknown): ResourceDescriptor => {
  const o = obj(x);
  return { ...(str(o.uri) ? { uri: str(o.uri) } : {}), ...(str(o.name) ? { name: str(o.name) } : {}), digest: digestSet(o.digest) };
};

/** The builder and the sources of a SLSA provenance predicate, v1 or v0.2. */
function predicateFacts(st: InTotoStatement): { builder?: string; sources: ResourceDescriptor[] } {
  const p = obj(st.predicate);
  if (st.predicateType === SLSA_PROVENANCE_V1) {
    const deps = obj(p.buildDefinition).resolvedDependencies;
    return { builder: str(obj(obj(p.runDetails).builder).id), sources: Array.isArray(deps) ? deps.map(descriptor) : [] };
  }
  const materials = Array.isArray(p.materials) ? p.materials.map(descriptor) : [];
  const config = obj(p.invocation).configSource;
  return { builder: str(obj(p.builder).id), sources: [...(config ? [descriptor(config)] : []), ...materials] };
}

/** `git+https://h/o/r` matches itself and `git+https://h/o/r@refs/heads/main`. */
const fromRepository = (uri: string | undefined, repo: string) => !!uri && (uri === repo || uri.startsWith(`${repo}@`));
/** A declared source names a digest as `<value>` or `<algorithm>:<value>`. */
const namesDigest = (d: DigestSet, source: string) =>
  Object.entries(d).some(([alg, v]) => v.toLowerCase() === source.toLowerCase() || `${alg}:${v}`.toLowerCase() === source.toLowerCase());
const shownDigest = (d: DigestSet | undefined) =>
  Object.entries(d ?? {})
    .map(([a, v]) => `${a}:${v}`)
    .join(', ') || 'no digest';

export function verifyProvenance(input: VerifyInput): ProvenanceFacts {
  const facts: ProvenanceFacts = { running: input.running, lookedAt: input.lookedAt, expected: input.expected, failures: [] };
  const b = input.bundle;
  if (!b) return facts;
  if ('error' in b) return { ...facts, attestation: { file: b.file, from: b.from, sha256: '' }, error: `cannot read ${b.file}: ${b.error}` };
  facts.attestation = { file: b.file, from: b.from, sha256: createHash('sha256').update(b.bytes).digest('hex') };
  const broken = (why: string): ProvenanceFacts => ({ ...facts, error: `${b.file}: ${why}` });

  let bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(b.bytes.toString('utf8')));
  } catch (err) {
    return broken(`not a Sigstore bundle (${errorMessage(err)})`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') return broken('a signature over a file, not an attestation (a DSSE envelope)');
  if (bundle.verificationMaterial.content.$case !== 'publicKey')
    return broken(
      'a keyless bundle (a Fulcio certificate): verifying it needs a trusted root and the transparency log, which driftless does not do; sign with a key (cosign attest --key)',
    );
  const dsse = bundle as BundleWithDsseEnvelope;
  if (dsse.content.dsseEnvelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return broken(`its payload is ${dsse.content.dsseEnvelope.payloadType || 'untyped'}, not an in-toto statement (${IN_TOTO_PAYLOAD_TYPE})`);

  const signer = input.keys.find((k) => signedBy(dsse, k.key));
  if (!signer) {
    const material = dsse.verificationMaterial.content;
    const hint = material.$case === 'publicKey' ? material.publicKey.hint : '';
    facts.failures.push({
      which: 'untrusted key',
      detail: `its signature verifies against none of the trusted keys (policy.provenance.keys: ${input.keys.map((k) => k.fingerprint).join(', ')}); the bundle names key ${hint || '(no hint)'}`,
    });
    return facts;
  }
  facts.signer = { keyFile: signer.file, keyFingerprint: signer.fingerprint };

  let st: InTotoStatement;
  try {
    st = JSON.parse(dsse.content.dsseEnvelope.payload.toString('utf8')) as InTotoStatement;
  } catch (err) {
    return broken(`its signed payload is not JSON (${errorMessage(err)})`);
  }
  if (!IN_TOTO_STATEMENT_TYPES.includes(st?._type) || !Array.isArray(st.subject))
    return broken(`its payload is not an in-toto statement (_type ${String(st?._type)})`);
  if (st.predicateType !== SLSA_PROVENANCE_V1 && st.predicateType !== SLSA_PROVENANCE_V02)
    return broken(`it attests ${String(st.predicateType)}, not SLSA provenance (${SLSA_PROVENANCE_V1} or ${SLSA_PROVENANCE_V02})`);
  const subjects = st.subject.map((s) => ({ name: str(obj(s).name) ?? '', digest: digestSet(obj(s).digest) }));
  const { builder, sources } = predicateFacts(st);
  facts.statement = { predicateType: st.predicateType, subjects, ...(builder ? { builder } : {}), sources };

  // (b) the subject is the image the host runs, not the one a file declares
  const r = input.running;
  const isSubject = (s: (typeof subjects)[number]) =>
    r.ami ? s.name === r.ami || s.name.endsWith(`/${r.ami}`) : !!s.digest.sha256 && r.sha256.includes(s.digest.sha256.toLowerCase());
  if (!subjects.some(isSubject))
    facts.failures.push({
      which: 'subject mismatch',
      detail: `it attests ${subjects.map((s) => `${s.name} (${shownDigest(s.digest)})`).join('; ') || 'no subject'}, not the image the host runs, ${r.image}`,
    });
  // (c) from the expected builder and repository
  const e = input.expected;
  if (builder !== e.builder)
    facts.failures.push({ which: 'builder mismatch', detail: `built by ${builder ?? '(no builder id)'}, policy.provenance.builder expects ${e.builder}` });
  const repoSources = e.repository ? sources.filter((s) => fromRepository(s.uri, e.repository!)) : sources;
  if (e.repository && repoSources.length === 0)
    facts.failures.push({
      which: 'repository mismatch',
      detail: `no source from ${e.repository} (policy.provenance.repository); its sources: ${sources.map((s) => s.uri ?? '(no uri)').join(', ') || 'none'}`,
    });
  // (d) the source the release declares
  if (!e.source)
    return facts.failures.length ? facts : broken('the release declares no source to compare with (release.source or release.services.<name>.source)');
  const match = repoSources.find((s) => namesDigest(s.digest ?? {}, e.source!));
  if (!match) {
    // no source from the repository at all is the repository's failure, said above
    if (!e.repository || repoSources.length)
      facts.failures.push({
        which: 'source mismatch',
        detail: `the release declares source ${e.source}; the attestation names ${repoSources.map((s) => shownDigest(s.digest)).join('; ') || 'no source'}`,
      });
    return facts;
  }
  const commit = match.digest?.gitCommit ?? repoSources.map((s) => s.digest?.gitCommit ?? s.digest?.sha1).find(Boolean);
  facts.source = { ...(match.uri ? { uri: match.uri } : {}), id: e.source, ...(commit ? { commit } : {}) };
  return facts;
}
