/** What differs between a host's launch configuration and its successor's, from what to what. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeLaunchDiff, launchConfigsOf, launchDiff } from '../../audits/launch-diff.ts';
import type { Host } from '../../core/inventory.ts';
import type { LaunchConfig, Provider } from '../../providers/provider.ts';

/** The lab's cattle: read-only root, tmpfs scratch, its keys bound read-only, no-new-privileges, root. */
const CATTLE: LaunchConfig = {
  readonlyRootfs: true,
  privileged: false,
  capAdd: [],
  securityOpt: ['no-new-privileges'],
  user: '',
  mountDetails: [
    { destination: '/etc/ssh/keys', source: '/lab/hostkeys/dl-cattle-1', type: 'bind', rw: false },
    { destination: '/run', source: 'tmpfs', type: 'tmpfs', rw: true },
    { destination: '/tmp', source: 'tmpfs', type: 'tmpfs', rw: true },
  ],
};

test('the same launch configuration: no difference, whatever the order of its lists', () => {
  assert.deepEqual(launchDiff(CATTLE, { ...CATTLE, mountDetails: [...CATTLE.mountDetails!].reverse(), capAdd: [] }), []);
  assert.deepEqual(launchDiff({ ...CATTLE, capAdd: ['CAP_NET_ADMIN'] }, { ...CATTLE, capAdd: ['net_admin'] }), [], 'capabilities compared by name');
});

test('a replacement from an older template: every drifted setting, from what to what', () => {
  const drifted: LaunchConfig = {
    readonlyRootfs: false,
    privileged: true,
    capAdd: ['SYS_ADMIN'],
    securityOpt: [],
    user: 'app',
    mountDetails: [
      { destination: '/etc/ssh/keys', source: '/lab/hostkeys/dl-cattle-1', type: 'bind', rw: true },
      { destination: '/run', source: 'tmpfs', type: 'tmpfs', rw: true },
      { destination: '/var/run/docker.sock', source: '/var/run/docker.sock', type: 'bind', rw: true },
    ],
  };
  const d = launchDiff(CATTLE, drifted);
  assert.deepEqual(d, [
    { setting: 'read-only root', from: 'yes', to: 'no' },
    { setting: 'privileged', from: 'no', to: 'yes' },
    { setting: 'capabilities added', from: 'none', to: 'SYS_ADMIN' },
    { setting: 'security options', from: 'no-new-privileges', to: 'none' },
    { setting: 'user', from: 'root (no user set)', to: 'app' },
    { setting: 'mount /etc/ssh/keys', from: 'bind from /lab/hostkeys/dl-cattle-1, read-only', to: 'bind from /lab/hostkeys/dl-cattle-1, read-write' },
    { setting: 'mount /tmp', from: 'tmpfs from tmpfs, read-write', to: 'none' },
    { setting: 'mount /var/run/docker.sock', from: 'none', to: 'bind from /var/run/docker.sock, read-write' },
  ]);
  assert.match(
    describeLaunchDiff(d),
    /^read-only root: yes → no; privileged: no → yes; capabilities added: none → SYS_ADMIN; security options: no-new-privileges → none; /,
  );
});

test("the predecessors' settings are read per instance; a provider that cannot say gives none, one that fails says why", async () => {
  const host = (id: string) => ({ id, instanceId: `i-${id}` }) as Host;
  const provider = {
    launchConfig: async (h: Host) => {
      if (h.id === 'gone') throw new Error('no such container');
      return CATTLE;
    },
  } as unknown as Provider;
  assert.deepEqual(await launchConfigsOf(provider, [host('a'), host('gone')]), {
    'i-a': CATTLE,
    'i-gone': { error: 'could not read how gone was launched: no such container' },
  });
  assert.deepEqual(await launchConfigsOf({} as Provider, [host('a')]), {});
});
