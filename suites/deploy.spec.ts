/**
 * Replace-only deploys — watch a release roll out.
 *
 * Per fleet the deploy rolls out to: every instance that served before is gone after, every
 * instance after runs the new release, nothing was patched in place, and (when driftless ran the
 * deploy) capacity, the SLO and the state held while it rolled. The checks owed are the run
 * plan's; the watching and the judgement are audits/deploy/.
 */
import { checkBody, checklist, test } from '../fixtures/checklist.ts';

for (const fleet of checklist('deploy')) {
  test.describe(fleet.title, () => {
    for (const check of fleet.checks) test(check.title, checkBody(check));
    for (const host of fleet.hosts) {
      test.describe(host.title, () => {
        for (const check of host.checks) test(check.title, checkBody(check));
      });
    }
  });
}
