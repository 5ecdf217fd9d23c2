/**
 * Every account that can open an interactive shell is a way in. On an immutable host only the
 * audit login (and root, which sshd refuses) may have one: service accounts get nologin.
 */
import { control, expect, test } from 'driftless/test';

const SHELLS = /\/(ba|da|z|k|c|tc|fi)?sh$/;
const ALLOWED = ['root', 'audit'];

control({
  id: 'ACME-ACC-001',
  title: 'no account but the audit login has a login shell',
  category: 'Mutable host',
  proves: 'an account left from an older template can log in with a shell',
  scope: 'host',
});

test('only root and audit have a shell in /etc/passwd', async ({ host }) => {
  const passwd = await host.readFile('/etc/passwd');
  const withShell = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 7 && SHELLS.test(f[6]!.trim()) && !ALLOWED.includes(f[0]!))
    .map((f) => `${f[0]} (${f[6]})`);
  expect(withShell, 'accounts with a login shell besides root and audit').toEqual([]);
});
