/** The lab reads this machine's own Debian mirror from its apt sources, in either format. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findMirror, parseAptSources } from '../../lab/mirror.ts';

test('deb822 sources: the stanza carrying the suite itself, not -security', () => {
  const text = `Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n`;
  const s = parseAptSources(text, 'x.sources');
  assert.deepEqual(
    s.map((x) => x.uri),
    ['http://security.example/debian-security', 'http://mirror.example/debian'],
  );
});

test('one-line sources with options and comments', () => {
  const s = parseAptSources(
    '# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb-src http://m.example/debian bookworm main\n',
    'sources.list',
  );
  assert.deepEqual(s, [{ uri: 'http://m.example/debian', suites: ['bookworm'], file: 'sources.list' }]);
});

test('findMirror reads /etc/apt-like trees; disabled stanzas and other suites are skipped; none found is a clear error', () => {
  const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-apt-'));
  fs.mkdirSync(path.join(etc, 'sources.list.d'));
  fs.writeFileSync(
    path.join(etc, 'sources.list.d', 'a.sources'),
    'Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\nTypes: deb\nURIs: http://on.example/debian\nSuites: bookworm\n',
  );
  assert.equal(findMirror('bookworm', etc), 'http://on.example/debian');
  assert.throws(() => findMirror('trixie', etc), /no apt source for Debian "trixie"/);
});

test('lab up refuses ports in the kernel ephemeral range unless they are reserved', async () => {
  const { refuseEphemeralPorts } = await import('../../lab/lab.ts');
  const { makePlan } = await import('../../lab/lab-plan.ts');
  const sys = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-sysctl-'));
  fs.writeFileSync(path.join(sys, 'ip_local_port_range'), '32768\t60999\n');
  fs.writeFileSync(path.join(sys, 'ip_local_reserved_ports'), '\n');
  assert.doesNotThrow(() => refuseEphemeralPorts(makePlan(21000, sys), sys));
  assert.throws(
    () => refuseEphemeralPorts(makePlan(42000, sys), sys),
    /lab's ports 42000\.\.42062 lie in the kernel's ephemeral port range 32768-60999: .*choose a port base below 32768/,
  );
  fs.writeFileSync(path.join(sys, 'ip_local_reserved_ports'), '42000-42100\n');
  assert.doesNotThrow(() => refuseEphemeralPorts(makePlan(42000, sys), sys));
});
