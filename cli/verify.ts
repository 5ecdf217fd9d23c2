/**
 * `driftless verify <results or report dir> [--key public.pem] [--config file]`: checks the
 * evidence bundle's signature against a PUBLIC key it trusts (--key, else the config's
 * report.verifyKey; never report.signingKey, nor any private key: whoever controls the config or
 * the key file could sign with it) and names every file added, removed or changed since it was
 * signed. On success it prints what was verified: the kind, the run id(s), the time and the key.
 * Exit codes: 0 intact and signed by the trusted key; 1 changed or signed by another key (named);
 * 2 usage (no bundle, no key, a private key); 3 not signed, so nothing can be verified.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { type Parsed, str } from './parsed.ts';
import { loadConfig } from '../config/load.ts';
import { ExitCode, UsageError, VerifyKeyError } from '../core/errors.ts';
import { EVIDENCE_FILE, keyFingerprint, readTrustedKey, verifyEvidence } from '../reports/evidence.ts';

/** The public key to trust and where it was named. */
function trustedKey(values: { key?: string; config?: string }): { key: KeyObject; from: string } {
  if (values.key) {
    const file = path.resolve(values.key);
    return { key: readTrustedKey(file, '--key'), from: `--key ${file}` };
  }
  const config = loadConfig(values.config);
  const file = config.report?.verifyKey;
  if (!file)
    throw new VerifyKeyError(
      `no public key to verify against: pass --key <public key PEM>, or name one in the config (${config.source.file}) as report.verifyKey ` +
        '(report.signingKey is what runs sign with, never what a verification trusts)',
    );
  return { key: readTrustedKey(file, 'report.verifyKey'), from: `report.verifyKey ${file}` };
}

export async function verifyCommand(p: Parsed): Promise<number> {
  const values = { key: str(p, 'key'), config: str(p, 'config') };
  const dir = path.resolve(p.positionals[0]!);
  if (!fs.existsSync(path.join(dir, EVIDENCE_FILE)))
    throw new UsageError(`${dir} has no ${EVIDENCE_FILE}: not a driftless results folder or report (or it was removed)`);
  const trusted = trustedKey(values);
  const v = verifyEvidence(dir, trusted.key);
  const log = (s: string) => process.stdout.write(s + '\n');
  for (const p of v.changed) log(`changed: ${p}`);
  for (const p of v.removed) log(`removed: ${p}`);
  for (const p of v.added) log(`added: ${p}`);
  for (const p of v.problems) log(`problem: ${p}`);
  if (!v.signed) {
    log(`${dir}: NOT SIGNED: nothing can be verified`);
    return ExitCode.HarnessFailure;
  }
  const tampered = v.changed.length + v.removed.length + v.added.length > 0 || !v.signatureValid || !v.trustedKey;
  if (tampered) {
    log(`${dir}: FAILED verification`);
    return ExitCode.Violations;
  }
  // Only now is what the bundle says about itself vouched for: the signature covers it.
  const c = v.claims!;
  log(`${dir}: verified: every file as signed by ${keyFingerprint(trusted.key)}`);
  log(`  kind: ${c.kind}`);
  log(`  ${c.runIds.length === 1 ? 'run' : 'runs'}: ${c.runIds.join(', ')}`);
  log(`  created: ${c.createdAt}`);
  log(`  key: ${keyFingerprint(trusted.key)} (${trusted.from})`);
  return ExitCode.Compliant;
}
