/**
 * Immutability — forbidden edits over SSH.
 *
 * Per host: log in as the configured user and try what a tired operator would (canary files in
 * each immutable path, zero-byte appends to critical files, chmod, sudo, optionally remount /);
 * every attempt must be refused, and nothing of the run may be left behind. Under policy
 * `forbidden`, the login itself must be refused. The checks owed are the run plan's; the
 * probing and judging are audits/ssh-edits/.
 */
import { checkBody, checklist, test } from '../fixtures/checklist.ts';

for (const fleet of checklist('ssh-edits')) {
  test.describe(fleet.title, () => {
    for (const check of fleet.checks) test(check.title, checkBody(check));
    for (const host of fleet.hosts) {
      test.describe(host.title, () => {
        for (const check of host.checks) test(check.title, checkBody(check));
      });
    }
  });
}
