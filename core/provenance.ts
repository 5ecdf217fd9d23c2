/**
 * Provenance attestations as driftless reads them (audits/image/provenance.ts) and the lab writes
 * them (lab/attest.ts): a Sigstore bundle whose DSSE envelope carries an in-toto statement with a
 * SLSA provenance predicate. Here only what both sides and the verdict must agree on: the names,
 * where a bundle of an image is kept, and the chain (instance → image → attestation → source) a
 * DL-IMG-020 result carries in its parameters, from which the verdict lists it.
 */
import { createHash, type KeyObject } from 'node:crypto';

export const PROVENANCE_CONTROL = 'DL-IMG-020';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** cosign's `attest` still writes v0.1 statements. */
export const IN_TOTO_STATEMENT_TYPES: readonly string[] = [IN_TOTO_STATEMENT_V1, 'https://in-toto.io/Statement/v0.1'];
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';

export type DigestSet = Record<string, string>;
export interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest?: DigestSet;
}
export interface InTotoStatement {
  _type: string;
  subject: Array<{ name: string; digest: DigestSet }>;
  predicateType: string;
  predicate: unknown;
}

/**
 * The file a bundles directory keeps an image's attestation in: `sha256-<hex>.sigstore.json` for
 * an image id or repo digest (`repo@sha256:<hex>`), `<ami id>.sigstore.json` for an AMI.
 */
export function bundleFileName(image: string): string {
  const id = image.includes('@') ? image.slice(image.lastIndexOf('@') + 1) : image;
  return `${id.replace(':', '-')}.sigstore.json`;
}

/** SHA256:<base64> of the key's SPKI DER, as the evidence bundle and `driftless verify` print it. */
export function keyFingerprint(publicKey: KeyObject): string {
  return `SHA256:${createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64')
    .replace(/=+$/, '')}`;
}

/** What traces one running instance to its source, as far as it could be followed. */
export interface ProvenanceChain {
  instance?: string;
  /** The image the host actually runs (Docker image id, or AMI). */
  image?: string;
  attestation?: string;
  attestationSha256?: string;
  keyFingerprint?: string;
  builder?: string;
  /** The source the attestation was verified to name (else the one the release declares). */
  source?: string;
  commit?: string;
}

const CHAIN_KEYS = ['instance', 'image', 'attestation', 'attestationSha256', 'keyFingerprint', 'builder', 'source', 'commit'] as const;

/** The chain as a result's parameters (strings only, absent links left out). */
export function chainParameters(c: ProvenanceChain): Record<string, string> {
  return Object.fromEntries(CHAIN_KEYS.flatMap((k) => (c[k] ? [[k, c[k]]] : [])));
}

/** The chain back from a result's parameters. */
export function chainOf(parameters: Readonly<Record<string, string>>): ProvenanceChain {
  return Object.fromEntries(CHAIN_KEYS.flatMap((k) => (parameters[k] ? [[k, parameters[k]]] : [])));
}
