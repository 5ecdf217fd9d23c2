/** DL-IMG-020's judge, from the verifier's facts (provenance.ts). Pure. */
import { type CheckResult, json, type Judgement } from '../../core/check-result.ts';
import { chainParameters, type ProvenanceChain } from '../../core/provenance.ts';
import type { HostImageAudit } from './image-gather.ts';

/** instance → image → attestation (key, builder) → source (commit), as far as it was followed. */
export function chainOf(a: HostImageAudit): ProvenanceChain {
  const p = a.provenance!;
  const source = p.source?.id ?? p.expected.source;
  return {
    instance: a.instanceId,
    image: p.running.image,
    ...(p.attestation ? { attestation: p.attestation.file } : {}),
    ...(p.attestation?.sha256 ? { attestationSha256: p.attestation.sha256 } : {}),
    ...(p.signer ? { keyFingerprint: p.signer.keyFingerprint } : {}),
    ...(p.signer && p.statement?.builder ? { builder: p.statement.builder } : {}),
    ...(source ? { source } : {}),
    ...(p.source?.commit ? { commit: p.source.commit } : {}),
  };
}

export function judgeProvenance(j: Judgement, a: HostImageAudit): CheckResult {
  const p = a.provenance;
  if (!p) return j.broken(`${a.host}: the provenance of its image was not gathered`);
  const chain = chainOf(a);
  for (const [k, v] of Object.entries(chainParameters(chain))) j.param(k, v);
  j.attach(
    json('provenance', {
      host: a.host,
      service: a.service ?? null,
      chain,
      running: p.running,
      lookedAt: p.lookedAt,
      attestation: p.attestation ?? null,
      signer: p.signer ?? null,
      statement: p.statement ?? null,
      expected: p.expected,
      verifiedSource: p.source ?? null,
      failures: p.failures,
      ...(p.error ? { error: p.error } : {}),
    }),
  );
  const image = `${a.host} runs ${p.running.image}`;
  if (p.error) return j.broken(`${image}, whose attestation could not be verified: ${p.error}`);
  if (!p.attestation) return j.fail('unattested-image', `no attestation: ${image}, and nothing attests it (looked at ${p.lookedAt.join(', ')})`);
  if (p.failures.length)
    return j.fail('unattested-image', `${p.failures.map((f) => `${f.which}: ${f.detail}`).join('; ')} (${image}; attestation ${p.attestation.file})`);
  return j.pass();
}
