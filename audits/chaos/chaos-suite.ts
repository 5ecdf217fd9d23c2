/** The chaos suite: kill random opted-in instances under load, fleet by fleet, within one kill budget for the whole run. */
import { errorMessage } from '../../core/errors.ts';
import { defineSuite } from '../suite.ts';
import { chaosUnit, CHAOS_JUDGES } from './chaos-judges.ts';
import { planChaos } from './chaos-plan.ts';
import type { ChaosOutcome } from './experiment.ts';

type Outcomes = Map<string, ChaosOutcome | { error: string }>;

export const chaosSuite = defineSuite({
  name: 'chaos',
  plan: planChaos,
  async gather(run): Promise<Outcomes> {
    const { runChaos } = await import('./experiment.ts'); // loaded on use: the plan never needs the load generator
    const out: Outcomes = new Map();
    // One fleet at a time: the stop condition and the kill budget see one experiment at once.
    for (const fleet of [...new Set(run.owed.map((c) => c.fleet))]) {
      const target = run.config.targets.find((t) => t.name === fleet)!;
      try {
        out.set(fleet, await runChaos(target, run.config, run.seed, run.runId, run.budget));
      } catch (err) {
        const error = `the chaos experiment on fleet ${fleet} failed: ${errorMessage(err)}`;
        run.progress(error);
        out.set(fleet, { error });
      }
    }
    return out;
  },
  unitOf: (facts, check, j) => chaosUnit(facts, check, j),
  judges: CHAOS_JUDGES,
});
