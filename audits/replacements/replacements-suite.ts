/**
 * The replacements suite: every instance that replaced a chaos victim owes the host and image
 * checks the instance it replaced owed, in the same run. It follows the chaos suite (core/suites.ts)
 * and reads its outcome; the plan owes them per planned kill (slots-plan.ts).
 */
import { defineSuite } from '../suite.ts';
import { SLOT_JUDGES, type SlotFacts, slotUnit } from './slot-judges.ts';
import { planReplacements } from './slots-plan.ts';

export const replacementsSuite = defineSuite({
  name: 'replacements',
  plan: planReplacements,
  async gather(run): Promise<SlotFacts> {
    const { gatherReplacements } = await import('./slots-gather.ts'); // loaded on use: the plan never needs the probes
    return gatherReplacements(run);
  },
  unitOf: (facts, check, j) => slotUnit(facts, check, j),
  judges: SLOT_JUDGES,
});
