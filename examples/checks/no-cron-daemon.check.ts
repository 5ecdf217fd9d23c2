/**
 * An immutable host runs what its image starts, on the deploy path: a cron daemon runs jobs that
 * can change it behind that path, on a schedule nobody audits.
 */
import { control, expect, test } from 'driftless/test';

control({
  id: 'ACME-RUN-001',
  title: 'no cron daemon runs',
  category: 'Mutable host',
  proves: 'a scheduler runs on the host: jobs can change it outside the deploy path',
  scope: 'host',
});

test('no cron, crond, anacron or atd process', async ({ host }) => {
  // /proc/<pid>/comm is readable by any user; `ps` may not be installed.
  const ps = await host.run('cat /proc/[0-9]*/comm 2>/dev/null');
  const names = ps.stdout.split('\n').map((l) => l.trim());
  expect(names, 'processes running on the host').not.toContain('cron');
  for (const daemon of ['crond', 'anacron', 'atd']) expect(names).not.toContain(daemon);
});
