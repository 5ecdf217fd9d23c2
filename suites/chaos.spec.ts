/**
 * Statelessness — kill random instances under load.
 *
 * Per fleet with an entrypoint: steady state first; K keys written; load on; opted-in victims
 * killed (seeded, capped); then: no state lost, every victim replaced by a NEW instance of the
 * SAME digest, the fleet back at capacity by the deadline, errors and p99 within the SLO. The
 * checks owed are the run plan's; the experiment and its judgement are audits/chaos/.
 */
import { checkBody, checklist, test } from '../fixtures/checklist.ts';

for (const fleet of checklist('chaos')) {
  test.describe(fleet.title, () => {
    for (const check of fleet.checks) test(check.title, checkBody(check));
    for (const host of fleet.hosts) {
      test.describe(host.title, () => {
        for (const check of host.checks) test(check.title, checkBody(check));
      });
    }
  });
}
