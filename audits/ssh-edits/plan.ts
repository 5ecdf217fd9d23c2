/** The checks the SSH edit suite owes: per host, each forbidden edit and the sweep; or, under policy forbidden, the login. */
import type { Config, Target } from '../../core/config.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';
import { checkId, type NotApplicable, type PlannedCheck } from '../../core/plan.ts';
import { traitsOf } from '../../providers/registry.ts';
import { listingCheck, planEmptyFleet } from '../per-host.ts';
import { catalogue, CONTROLS } from '../../probes/edits.ts';

const suite = 'ssh-edits' as const;

export function sshTargets(target: Target): boolean {
  return !!target.ssh || traitsOf(target.provider).alwaysSsh;
}

/** The edits a host will be asked for, by title and id (the commands are built per host once its home is known). */
export function plannedEdits(config: Config) {
  const p = config.policy.ssh;
  return catalogue({ runId: 'plan', immutablePaths: p.immutablePaths, home: '~', aggressive: p.aggressive });
}

export function planSshEdits(config: Config, inventory: FleetSnapshot[]): { checks: PlannedCheck[]; notApplicable: NotApplicable[] } {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  const edits = plannedEdits(config);
  for (const snap of inventory) {
    const target = config.targets.find((t) => t.name === snap.target)!;
    if (!sshTargets(target)) {
      notApplicable.push({ fleet: snap.target, suite, reason: `target "${snap.target}" has no ssh section: SSH controls not applicable` });
      continue;
    }
    if (snap.error) {
      checks.push(listingCheck(suite, snap.target, CONTROLS.login));
      continue;
    }
    if (snap.hosts.length === 0) {
      const empty = planEmptyFleet(suite, target, CONTROLS.login);
      if (empty.check) checks.push(empty.check);
      if (empty.notApplicable) notApplicable.push(empty.notApplicable);
      continue;
    }
    for (const host of snap.hosts) {
      const at = (control: PlannedCheck['control'], title: string, story: string, item?: string): PlannedCheck => ({
        id: checkId(snap.target, host.id, control, item),
        control,
        suite,
        fleet: snap.target,
        host: host.id,
        ...(item ? { item } : {}),
        title: `${control} ${title}`,
        story,
      });
      if (config.policy.ssh.mode === 'forbidden') {
        checks.push(at(CONTROLS.login, 'login is refused (policy: forbidden)', 'login refused'));
        continue;
      }
      for (const e of edits) checks.push(at(e.control, e.title, e.title, e.id));
      checks.push(at(CONTROLS.mounts, 'every immutable path is on a read-only mount', 'read-only mounts'));
      checks.push(at(CONTROLS.sweep, 'no canary of this run remains', 'nothing left behind'));
    }
  }
  return { checks, notApplicable };
}
