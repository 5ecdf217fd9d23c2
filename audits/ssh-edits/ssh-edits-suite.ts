/** The ssh-edits suite: forbidden edits tried over SSH on every host, one result per (host, control, edit). */
import { hostCount, owedFleets } from '../owed-fleets.ts';
import { hostUnit } from '../per-host.ts';
import { defineSuite } from '../suite.ts';
import type { HostAudit } from './ssh-edits-gather.ts';
import { SSH_EDITS_JUDGES } from './ssh-edits-judges.ts';
import { planSshEdits, sshTargets } from './ssh-edits-plan.ts';

export const sshEditsSuite = defineSuite({
  name: 'ssh-edits',
  plan: planSshEdits,
  async gather(run): Promise<HostAudit[]> {
    const p = run.config.policy.ssh;
    const fleets = await owedFleets(run, sshTargets);
    const t0 = Date.now();
    run.progress(`auditing ${hostCount(fleets)} hosts over SSH, ${p.concurrency} at a time (mode ${p.mode})`);
    const { auditFleets } = await import('./ssh-edits-gather.ts'); // loaded on use: the plan never needs the probes
    const audits = await auditFleets(fleets, p, run.runId, (done, all, violations, last) =>
      run.progress(
        `${done}/${all} hosts done, ${violations} violations so far (last: ${last.host}${last.login.ok ? '' : `, login failed: ${last.login.kind}`}${last.tainted ? ', TAINTED' : ''})`,
      ),
    );
    run.progress(`audit finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return audits;
  },
  unitOf: hostUnit<HostAudit>('SSH audit'),
  judges: SSH_EDITS_JUDGES,
});
