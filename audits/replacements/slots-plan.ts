/**
 * What the instances that come up during a run owe, planned before anything runs. Chaos draws its
 * victims at kill time and a deploy brings up instances nobody has named yet, so the plan owes
 * them by slot: per planned kill k of a chaos fleet, "replacement-of-kill-k"; per fleet of a
 * driven deploy, "deployed-instances" (every instance running after it, however many). Each slot
 * owes exactly what the ssh-edits and image-integrity suites owe one host of its fleet, under the
 * same control ids: their plans are asked, so the two never drift apart.
 */
import type { Config } from '../../core/config.ts';
import type { FleetSnapshot, SnapshotHost } from '../../core/inventory.ts';
import type { NotApplicable, PlannedCheck } from '../../core/run-plan.ts';
import type { SuiteName } from '../../core/suites.ts';
import { planChaos } from '../chaos/chaos-plan.ts';
import { deployMode, planDeploy } from '../deploy/deploy-plan.ts';
import { planImages } from '../image/image-plan.ts';
import { planSshEdits } from '../ssh-edits/ssh-edits-plan.ts';
import type { PlanInput, SuitePlan } from '../suite.ts';

/** The slot of the instance that replaces the victim of kill `k` (1-based, in kill order) of its fleet. */
export const replacementSlot = (k: number) => `replacement-of-kill-${k}`;
/** The slot of every instance of a fleet running after a driven deploy. */
export const DEPLOYED_SLOT = 'deployed-instances';

/** Kill k of a slot name, or undefined if it is not a replacement slot. */
export function killOf(slot: string | undefined): number | undefined {
  const m = /^replacement-of-kill-(\d+)$/.exec(slot ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * What the ssh-edits and image-integrity suites owe one host of `snap`'s fleet, planned under
 * `slot` for `suite`: their own plans, asked for a host of that fleet (of its service) named `slot`.
 */
export function slotChecks(config: Config, snap: FleetSnapshot, slot: string, suite: SuiteName): SuitePlan {
  const target = config.targets.find((t) => t.name === snap.target)!;
  const like: SnapshotHost = snap.hosts[0] ?? {
    id: slot,
    instanceId: slot,
    fleet: snap.target,
    provider: snap.provider,
    ...(target.service ? { service: target.service } : {}),
    image: {},
    labels: {},
    chaosEligible: false,
    state: 'running',
  };
  const inventory: FleetSnapshot[] = [{ target: snap.target, provider: snap.provider, hosts: [{ ...like, id: slot }] }];
  const parts = [planSshEdits({ config, inventory }), planImages({ config, inventory })];
  return {
    checks: parts.flatMap((p) => p.checks).map((c) => ({ ...c, suite })),
    notApplicable: parts.flatMap((p) => p.notApplicable).map((n) => ({ ...n, suite })),
  };
}

/**
 * How many kills chaos plans on a fleet: chaos.kill.count, or chaos.kill.percent of its opted-in
 * running hosts (rounded down), never more than those hosts nor safety.maxKills. The run's one
 * budget may still cut a later fleet's kills: those slots are then not applicable, with the reason.
 */
export function plannedKills(config: Config, snap: FleetSnapshot | undefined, fleet: string): { kills: number; why?: string } {
  const k = config.chaos.kill;
  const eligible = snap && !snap.error ? snap.hosts.filter((h) => h.chaosEligible && h.state === 'running').length : undefined;
  if (eligible === 0)
    return { kills: 0, why: `no host of fleet ${fleet} is opted in to chaos and running: nothing will be killed, so nothing will replace one` };
  const wanted = k.count ?? (eligible !== undefined && k.percent !== undefined ? Math.floor((k.percent / 100) * eligible + 1e-9) : undefined);
  if (wanted === undefined)
    return {
      kills: 0,
      why: `fleet ${fleet} could not be listed, so how many hosts chaos.kill.percent ${k.percent} kills is unknown (the chaos checks say why)`,
    };
  if (wanted < 1) return { kills: 0, why: `chaos.kill.percent ${k.percent} of the ${eligible} eligible hosts of fleet ${fleet} rounds down to no kill` };
  return { kills: Math.min(wanted, eligible ?? wanted, config.safety.maxKills) };
}

const once = (list: NotApplicable[]) => [...new Map(list.map((n) => [JSON.stringify(n), n])).values()];

/** The replacements suite: per planned kill of every fleet chaos owes, the host checks of its replacement. */
export function planReplacements(input: PlanInput): SuitePlan {
  const { config, inventory } = input;
  const suite = 'replacements' as const;
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  const chaos = planChaos(input);
  const fleets = [...new Set(chaos.checks.map((c) => c.fleet))];
  for (const n of chaos.notApplicable) notApplicable.push({ ...n, suite, reason: `${n.reason}: nothing is killed, so nothing replaces a victim` });
  for (const fleet of fleets) {
    const snap = inventory.find((s) => s.target === fleet);
    const { kills, why } = plannedKills(config, snap, fleet);
    if (why) notApplicable.push({ fleet, suite, reason: why });
    const shape: FleetSnapshot = snap && !snap.error ? snap : { target: fleet, provider: config.targets.find((t) => t.name === fleet)!.provider, hosts: [] };
    for (let k = 1; k <= kills; k++) {
      const part = slotChecks(config, shape, replacementSlot(k), suite);
      checks.push(...part.checks);
      notApplicable.push(...part.notApplicable);
    }
  }
  return { checks, notApplicable: once(notApplicable) };
}

/** The new-release suite: per fleet a driven deploy rolls out to, the host checks of every instance running after it. */
export function planNewRelease(input: PlanInput): SuitePlan {
  const { config, inventory, deployBefore } = input;
  const suite = 'new-release' as const;
  const mode = deployMode(config, deployBefore);
  const deploy = planDeploy(input);
  const fleets = [...new Set(deploy.checks.map((c) => c.fleet))];
  if (mode !== 'driven') {
    const why =
      mode === 'observed'
        ? "observed mode (--before): the instances after the deploy are this run's inventory, which the ssh-edits and image-integrity suites audit (run them in the same run)"
        : 'no deploy.command in the config: no release is deployed in this run';
    return { checks: [], notApplicable: config.targets.map((t) => ({ fleet: t.name, suite, reason: why })) };
  }
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = deploy.notApplicable.filter((n) => !n.control).map((n) => ({ ...n, suite }));
  for (const fleet of fleets) {
    const snap = inventory.find((s) => s.target === fleet);
    const shape: FleetSnapshot = snap && !snap.error ? snap : { target: fleet, provider: config.targets.find((t) => t.name === fleet)!.provider, hosts: [] };
    const part = slotChecks(config, shape, DEPLOYED_SLOT, suite);
    checks.push(...part.checks);
    notApplicable.push(...part.notApplicable);
  }
  return { checks, notApplicable: once(notApplicable) };
}
