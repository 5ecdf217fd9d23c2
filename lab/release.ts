/**
 * The lab's release file, as its pipeline publishes it: per service, the id of the image its
 * hosts run and the source that image was built from (the source its attestation names).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LabPlan } from './lab-plan.ts';

export const releasePath = (plan: LabPlan) => path.join(plan.dir, 'release.json');
/** Where the pipeline keeps its attestations, by digest (the lab config's policy.provenance.bundles). */
export const attestationsDir = (plan: LabPlan) => path.join(plan.dir, 'attestations');

export interface LabRelease {
  release: string;
  services: Record<string, { digest: string; source: string }>;
}

/** Every service of the plan, with the image its hosts run. */
export function labRelease(plan: LabPlan, name: string, images: Record<'cattle' | 'snowflake', { digest: string; source: string }>): LabRelease {
  return { release: name, services: Object.fromEntries(plan.hosts.map((h) => [h.service, images[h.image]])) };
}

export function readRelease(plan: LabPlan): LabRelease | undefined {
  try {
    return JSON.parse(fs.readFileSync(releasePath(plan), 'utf8')) as LabRelease;
  } catch {
    return undefined;
  }
}

export function writeRelease(plan: LabPlan, release: LabRelease): void {
  fs.writeFileSync(releasePath(plan), JSON.stringify(release, null, 2) + '\n');
}

/** A release written before the lab signed its builds names no source: that lab is brought up again. */
export function releaseNamesSources(plan: LabPlan): boolean {
  const r = readRelease(plan);
  return !!r && Object.values(r.services ?? {}).every((s) => !!s.source);
}
