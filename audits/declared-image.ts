/**
 * "Runs the declared image", decided in one place for the image audit and the chaos suite's
 * replacement check. A release may name a Docker image id, a registry (repo) digest of it (with
 * or without its repo@ prefix), or an AMI.
 */
import type { ReleaseService } from '../core/config.ts';
import type { Host, ProviderKind } from '../core/inventory.ts';
import { traitsOf } from '../providers/registry.ts';

type ImageOf = Host['image'];

/** What the release says this kind of host must run (the kind's traits name the field: AMI, image digest). */
export function declaredImage(declared: ReleaseService | undefined, provider: ProviderKind): string | undefined {
  const field = traitsOf(provider).declaredImageField;
  return declared && field ? declared[field] : undefined;
}

/** What a host runs, as the provider reports it: AMI for EC2, else the image id, else a repo digest. */
export function runningImage(image: ImageOf): string | undefined {
  return image.ami ?? image.id ?? image.repoDigests?.[0];
}

export function runsImage(image: ImageOf, want: string): boolean {
  if (image.id === want || image.ami === want) return true;
  const wantDigest = want.includes('@') ? want.split('@')[1] : want;
  return (image.repoDigests ?? []).some((d) => d === want || d.split('@')[1] === wantDigest);
}
