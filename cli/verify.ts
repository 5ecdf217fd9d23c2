/**
 * `driftless verify <results or report dir> [--key public.pem] [--config file]`: checks the
 * evidence bundle's signature against a key it trusts (--key, else the config's
 * report.signingKey) and names every file added, removed or changed since it was signed.
 * Exit codes: 0 intact and signed by the trusted key; 1 changed or signed by another key (named);
 * 2 usage (no bundle, no key); 3 not signed, so nothing can be verified.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Parsed, str } from './parsed.ts';
import { loadConfig } from '../config/load.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import { EVIDENCE_FILE, keyFingerprint, publicKeyOf, verifyEvidence } from '../reports/evidence.ts';

export async function verifyCommand(p: Parsed): Promise<number> {
  const positionals = p.positionals;
  const values = { key: str(p, 'key'), config: str(p, 'config') };
  const dir = path.resolve(positionals[0]!);
  if (!fs.existsSync(path.join(dir, EVIDENCE_FILE)))
    throw new UsageError(`${dir} has no ${EVIDENCE_FILE}: not a driftless results folder or report (or it was removed)`);
  const keyFile = values.key ? path.resolve(values.key) : loadConfig(values.config).report?.signingKey;
  if (!keyFile) throw new UsageError('no trusted key: pass --key <public key PEM>, or a config whose report.signingKey is the key that signs');
  const trusted = publicKeyOf(keyFile);
  const v = verifyEvidence(dir, trusted);
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
  log(tampered ? `${dir}: FAILED verification` : `${dir}: verified: every file as signed by ${keyFingerprint(trusted)}`);
  return tampered ? ExitCode.Violations : ExitCode.Compliant;
}
