/**
 * Logins by password are guessable and shareable; a fleet reached only with keys can be audited
 * key by key (and an immutable host should need no interactive login at all).
 */
import { control, expect, test } from 'driftless/test';

control({
  id: 'ACME-SSH-001',
  title: 'sshd refuses password authentication',
  category: 'Out-of-band access',
  proves: 'anyone who learns a password can log in to the host, outside the deploy path',
  scope: 'host',
});

test('PasswordAuthentication no in sshd_config', async ({ host }) => {
  const config = await host.readFile('/etc/ssh/sshd_config');
  // sshd takes the first value it reads for a keyword; Match blocks are out of scope here.
  const first = config
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^passwordauthentication\s/i.test(l));
  expect(first?.split(/\s+/)[1]?.toLowerCase(), 'the first PasswordAuthentication line of /etc/ssh/sshd_config').toBe('no');
});
