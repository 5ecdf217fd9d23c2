/**
 * The new-release suite: after a driven deploy, every instance of the fleet owes the host and
 * image checks (against the release as re-read after the deploy), in the same run. It follows the
 * deploy suite (core/suites.ts) and reads its outcome; the plan owes them per fleet as one set,
 * "deployed-instances", since how many instances the release brings up is unknown before it runs.
 */
import { SLOT_JUDGES, type SlotFacts, slotUnit } from '../replacements/slot-judges.ts';
import { planNewRelease } from '../replacements/slots-plan.ts';
import { defineSuite } from '../suite.ts';

export const newReleaseSuite = defineSuite({
  name: 'new-release',
  plan: planNewRelease,
  async gather(run): Promise<SlotFacts> {
    const { gatherNewRelease } = await import('../replacements/slots-gather.ts'); // loaded on use
    return gatherNewRelease(run);
  },
  unitOf: (facts, check, j) => slotUnit(facts, check, j),
  judges: SLOT_JUDGES,
});
