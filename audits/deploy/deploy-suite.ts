/** The deploy suite: watch a release roll out (driven by deploy.command, or observed from a snapshot) and judge that it replaced the fleet. */
import { InternalError } from '../../core/errors.ts';
import { defineSuite } from '../suite.ts';
import { deployUnit, DEPLOY_JUDGES } from './deploy-judges.ts';
import { planDeploy } from './deploy-plan.ts';
import type { DeployOutcome } from './watch.ts';

export const deploySuite = defineSuite({
  name: 'deploy',
  plan: planDeploy,
  async gather(run): Promise<DeployOutcome> {
    const { judgeObserved, watchDeploy } = await import('./watch.ts'); // loaded on use
    const fleets = [...new Set(run.owed.map((c) => c.fleet))];
    if (run.deployBefore) return judgeObserved(run.config, fleets, run.deployBefore, run.inventory);
    // Judging against the release read before the deploy would pass a deploy of the old one.
    if (!run.reloadRelease) throw new InternalError('internal: the deploy audit was started without a way to re-read the release after the deploy');
    return watchDeploy(run.config, fleets, run.runId, run.reloadRelease);
  },
  unitOf: (o, check, j) => deployUnit(o, check, j),
  judges: DEPLOY_JUDGES,
});
