/**
 * Image integrity — every host runs its declared image digest, unmodified.
 *
 * For every host: the image (Docker image id or AMI) is the one the release declares; nothing in
 * its filesystem differs from that image (the engine's diff, and the golden file manifest read
 * over SSH); its root filesystem is read-only; it was replaced, never restarted in place; nobody
 * got in out of band (docker exec). On EC2: the AMI exists and is available, and the instance was
 * launched after the release was deployed. The checks owed are the run plan's; the probing and
 * judging are audits/image/.
 */
import { checkBody, checklist, test } from '../fixtures/checklist.ts';

for (const fleet of checklist('image-integrity')) {
  test.describe(fleet.title, () => {
    for (const check of fleet.checks) test(check.title, checkBody(check));
    for (const host of fleet.hosts) {
      test.describe(host.title, () => {
        for (const check of host.checks) test(check.title, checkBody(check));
      });
    }
  });
}
