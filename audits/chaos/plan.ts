/** The checks the chaos suite owes: four per fleet that has an entrypoint and can be killed. */
import type { Config } from '../../core/config.ts';
import type { ControlId } from '../../core/controls.ts';
import { checkId, type NotApplicable, type PlannedCheck } from '../../core/plan.ts';
import { traitsOf } from '../../providers/registry.ts';

const suite = 'chaos' as const;

export const CHAOS_CONTROLS = { state: 'DL-CHAOS-001', replaced: 'DL-CHAOS-002', recovery: 'DL-CHAOS-003', slo: 'DL-CHAOS-004' } as const satisfies Record<
  string,
  ControlId
>;

const CHECKS: Array<{ control: ControlId; title: string; story: string }> = [
  { control: CHAOS_CONTROLS.state, title: 'no state is lost when instances die', story: 'state survives' },
  { control: CHAOS_CONTROLS.replaced, title: 'every victim is replaced by a NEW instance of the SAME digest', story: 'replaced, not repaired' },
  { control: CHAOS_CONTROLS.recovery, title: 'the fleet is back at desired capacity by the deadline', story: 'recovery' },
  { control: CHAOS_CONTROLS.slo, title: 'errors and p99 latency during the chaos window stay within the SLO', story: 'SLO under chaos' },
];

export function planChaos(config: Config): { checks: PlannedCheck[]; notApplicable: NotApplicable[] } {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  for (const t of config.targets) {
    if (!traitsOf(t.provider).canKill) {
      notApplicable.push({
        fleet: t.name,
        suite,
        reason: `target "${t.name}" is a static list of SSH hosts: driftless cannot kill them, chaos not applicable`,
      });
      continue;
    }
    if (!t.entrypoint) {
      notApplicable.push({ fleet: t.name, suite, reason: `target "${t.name}" has no entrypoint: no load or state to measure, chaos not applicable` });
      continue;
    }
    for (const c of CHECKS) {
      checks.push({ id: checkId(t.name, undefined, c.control), control: c.control, suite, fleet: t.name, title: `${c.control} ${c.title}`, story: c.story });
    }
  }
  return { checks, notApplicable };
}
