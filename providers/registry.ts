/**
 * The kinds of fleet driftless knows, one line each. A new kind is a folder providers/<kind>/
 * with a class implementing Provider, a line here, and its target shape in
 * schemas/config.schema.json (README, "Extending"). Kinds are imported on first use: the AWS
 * SDK costs ~0.5 s in every process that loads it, and most runs never touch EC2.
 */
import type { Config, Target } from '../core/config.ts';
import type { ProviderKind } from '../core/inventory.ts';
import type { Provider } from './provider.ts';

type Factory<K extends ProviderKind> = (target: Extract<Target, { provider: K }>, config: Config) => Promise<Provider>;

export const PROVIDER_KINDS: { [K in ProviderKind]: Factory<K> } = {
  docker: async (t, c) => {
    const { DockerProvider, dockerFleetOf } = await import('./docker/provider.ts');
    return new DockerProvider(dockerFleetOf(t, c.safety.optInLabel));
  },
  ec2: async (t, c) => new (await import('./ec2/provider.ts')).Ec2Provider(t, c.safety.optInTag),
  ssh: async (t) => new (await import('./ssh/provider.ts')).StaticSshProvider(t),
};

export function providerFor(target: Target, config: Config): Promise<Provider> {
  const make = PROVIDER_KINDS[target.provider] as Factory<ProviderKind>;
  return make(target as never, config);
}
