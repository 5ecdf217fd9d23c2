/** The checks the SSH edit suite owes: per host, each forbidden edit, the mount table and the sweep; or, under policy forbidden, the login. */
import type { Config, Target } from '../../core/config.ts';
import { type ControlId, controlsOf } from '../../core/controls.ts';
import { type NotApplicable, type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import { catalogue } from '../../probes/edits.ts';
import { traitsOf } from '../../providers/registry.ts';
import { listingCheck, planEmptyFleet } from '../per-host.ts';
import type { PlanInput, SuitePlan } from '../suite.ts';

const suite = 'ssh-edits' as const;

export function sshTargets(target: Target): boolean {
  return !!target.ssh || traitsOf(target.provider).alwaysSsh;
}

/** The edits a host will be asked for, by title and id (the commands are built per host once its home is known). */
export function plannedEdits(config: Config) {
  const p = config.policy.ssh;
  return catalogue({ runId: 'plan', immutablePaths: p.immutablePaths, home: '~', aggressive: p.aggressive });
}

export function planSshEdits({ config, inventory }: PlanInput): SuitePlan {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  const edits = plannedEdits(config);
  const byEdit = new Set<string>([...catalogue({ runId: 'plan', immutablePaths: ['/'], home: '~', aggressive: true }).map((e) => e.control), 'DL-SSH-001']);
  const hostControls = controlsOf(suite)
    .filter((c) => c.scope === 'host' && !byEdit.has(c.id))
    .map((c) => c.id as ControlId);
  for (const snap of inventory) {
    const target = config.targets.find((t) => t.name === snap.target)!;
    if (!sshTargets(target)) {
      notApplicable.push({ fleet: snap.target, suite, reason: `target "${snap.target}" has no ssh section: SSH controls not applicable` });
      continue;
    }
    if (snap.error) {
      checks.push(listingCheck(snap.target, 'DL-SSH-001'));
      continue;
    }
    if (snap.hosts.length === 0) {
      const empty = planEmptyFleet(suite, target, 'DL-SSH-001');
      if (empty.check) checks.push(empty.check);
      if (empty.notApplicable) notApplicable.push(empty.notApplicable);
      continue;
    }
    for (const host of snap.hosts) {
      const where = { fleet: snap.target, host: host.id };
      if (config.policy.ssh.mode === 'forbidden') {
        checks.push(plannedCheck('DL-SSH-001', where));
        continue;
      }
      for (const e of edits) checks.push(plannedCheck(e.control, where, { id: e.id, what: e.title }));
      // Every other per-host control of the suite (the mount table, the sweep, any added later): once per host.
      for (const id of hostControls) checks.push(plannedCheck(id, where));
    }
  }
  return { checks, notApplicable };
}
