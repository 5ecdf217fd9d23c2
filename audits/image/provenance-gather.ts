/**
 * DL-IMG-020's facts for one host: which attestation to verify (the release's `attestation:` for
 * the host's service, else the bundle named by the running image in policy.provenance.bundles),
 * read from disk and handed to the pure verifier (provenance.ts) with the trusted keys and what
 * the config expects. Nothing here touches the host: the running image is the snapshot's.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config, ReleaseService } from '../../core/config.ts';
import { errorMessage } from '../../core/errors.ts';
import type { Host } from '../../core/inventory.ts';
import { bundleNames, type ProvenanceFacts, runningImage, type TrustedKey, trustedKey, verifyProvenance, type VerifyInput } from './provenance.ts';

/** policy.provenance.keys, read once per audit; or why they could not be (every host's check is then broken). */
export function loadTrustedKeys(config: Config): TrustedKey[] | { error: string } {
  try {
    return (config.policy.provenance?.keys ?? []).map((f) => trustedKey(f, fs.readFileSync(f, 'utf8')));
  } catch (err) {
    return { error: `the trusted keys (policy.provenance.keys) could not be read: ${errorMessage(err)}` };
  }
}

/** The source the release declares for the service: its own, else the release's. */
export function declaredSource(config: Config, declared: ReleaseService | undefined): string | undefined {
  return declared?.source ?? config.release.source;
}

export function gatherProvenance(
  host: { image: Host['image'] },
  service: string | undefined,
  declared: ReleaseService | undefined,
  config: Config,
  keys: TrustedKey[] | { error: string },
): ProvenanceFacts {
  const policy = config.policy.provenance!;
  const source = declaredSource(config, declared);
  const base = {
    running: runningImage(host.image),
    keys: Array.isArray(keys) ? keys : [],
    expected: { builder: policy.builder, ...(policy.repository ? { repository: policy.repository } : {}), ...(source ? { source } : {}) },
  };
  if (!Array.isArray(keys)) return { ...verifyProvenance({ ...base, lookedAt: [] }), error: keys.error };
  // The release's own attestation for the service wins; it must be readable (a named file that is gone is broken).
  if (declared?.attestation) {
    const file = declared.attestation;
    return verifyProvenance({ ...base, lookedAt: [file], bundle: read(file, 'release') });
  }
  const candidates = policy.bundles ? bundleNames(host.image).map((n) => path.join(policy.bundles!, n)) : [];
  const found = candidates.find((f) => fs.existsSync(f));
  const lookedAt = candidates.length
    ? candidates
    : [`nowhere: the release names no attestation for service ${service ?? '(none)'} and policy.provenance.bundles is not set`];
  return verifyProvenance({ ...base, lookedAt, ...(found ? { bundle: read(found, 'bundles') } : {}) });
}

function read(file: string, from: 'release' | 'bundles'): NonNullable<VerifyInput['bundle']> {
  try {
    return { file, from, bytes: fs.readFileSync(file) };
  } catch (err) {
    return { file, from, error: errorMessage(err) };
  }
}
