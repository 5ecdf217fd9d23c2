/**
 * Waivers, InSpec-style: the file is checked like the config (an unknown control id is exit 2 with
 * the file and pointer named), a waiver matches by control, fleet and host globs, and it holds
 * through its `expires` day and not a moment after.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import { describeWaiver, isExpired, type Waiver, waiverFor } from '../../core/waivers.ts';
import { config, opts, problems, tmp, useTempDirs, write } from '../helpers/config.ts';
import { driftless } from '../helpers/cli.ts';

useTempDirs();

describe('the waiver file', () => {
  test('a waiver naming an unknown control, or without a reason or a date, is refused with the file named', () => {
    const wf = path.join(tmp.dir, 'waivers.yaml');
    fs.writeFileSync(
      wf,
      'waivers:\n  - { control: DL-SSH-999, host: "dl-*", reason: "legacy host until migration", approver: Ann, expires: 2099-01-01 }\n' +
        '  - { control: DL-SSH-010, reason: "short", approver: Bob, expires: "next week" }\n',
    );
    const f = write(config({ extra: 'waivers: waivers.yaml' }));
    const p = problems(f);
    assert.equal(p.length, 3, p.join('\n'));
    assert.match(p[0]!, /^waivers\.yaml: \/waivers\/1\/reason: must say why/);
    assert.match(p[1]!, /^waivers\.yaml: \/waivers\/1\/expires: must be a date such as 2026-12-31/);
    assert.match(p[2]!, /^waivers\.yaml: \/waivers\/0\/control: unknown control "DL-SSH-999"/);
  });

  test('a missing waiver file is named with where it was looked for', () => {
    const f = write(config({ extra: 'waivers: nowhere.yaml' }));
    const p = problems(f);
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, new RegExp(`^${f}: /waivers: cannot read waiver file nowhere\\.yaml: no such file`));
  });

  test('driftless validate: an unknown control in the waiver file is exit 2, one line naming file, pointer and fix', async () => {
    fs.writeFileSync(
      path.join(tmp.dir, 'typo-waivers.yaml'),
      'waivers:\n  - { control: DL-IMG-500, reason: "engine events are not kept", approver: Ann, expires: 2099-01-01 }\n',
    );
    const f = write(config({ extra: 'waivers: typo-waivers.yaml' }));
    const r = await driftless(['validate', f], { env: { HOME: tmp.home } });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /typo-waivers\.yaml: \/waivers\/0\/control: unknown control "DL-IMG-500": the controls are DL-SSH-001, .* \(docs\/controls\.md\)/);
  });

  test('a valid waiver file is loaded', () => {
    fs.writeFileSync(
      path.join(tmp.dir, 'ok-waivers.yaml'),
      'waivers:\n  - { control: DL-IMG-005, fleet: legacy, reason: "engine events not kept here (OPS-1)", approver: Ann, expires: 2099-01-01 }\n',
    );
    const c = loadConfig(write(config({ extra: 'waivers: ok-waivers.yaml' })), opts());
    assert.equal(c.waiverList.length, 1);
    assert.equal(c.waiverList[0]!.approver, 'Ann');
  });
});

describe('matching and expiry', () => {
  const w = (more: Partial<Waiver>): Waiver => ({
    control: 'DL-IMG-005',
    reason: 'engine events not kept here',
    approver: 'Ann',
    expires: '2026-12-31',
    ...more,
  });

  test('by control, fleet glob and host glob; the first that matches wins', () => {
    const list = [w({ fleet: 'legacy-*', host: 'db-?' }), w({ fleet: 'legacy-*', host: 'web-*', approver: 'Bob' })];
    assert.equal(waiverFor(list, { control: 'DL-IMG-005', fleet: 'legacy-eu', host: 'web-1' })?.approver, 'Bob');
    assert.equal(waiverFor(list, { control: 'DL-IMG-005', fleet: 'prod-eu', host: 'web-1' }), undefined, 'another fleet');
    assert.equal(waiverFor(list, { control: 'DL-IMG-004', fleet: 'legacy-eu', host: 'web-1' }), undefined, 'another control');
    assert.equal(waiverFor(list, { control: 'DL-IMG-005', fleet: 'legacy-eu', host: 'db-?' })?.approver, 'Ann', '? is literal, only * is a wildcard');
    assert.equal(waiverFor(list, { control: 'DL-IMG-005', fleet: 'legacy-eu', host: 'db-1' }), undefined);
    assert.equal(waiverFor([w({ host: 'web-*' })], { control: 'DL-IMG-005', fleet: 'f' }), undefined, 'a host waiver does not cover a fleet-wide check');
    assert.ok(waiverFor([w({})], { control: 'DL-IMG-005', fleet: 'any', host: 'any' }), 'no fleet, no host: every host');
  });

  test('a glob with many stars against a long name that does not match is decided at once (no backtracking regex)', () => {
    // A 12-star glob compiled to a regex took about 1 s per check at 30 characters, and grows
    // with the name's length to the 12th power: a waiver file must not be able to stall a run.
    for (const [pattern, name] of [
      ['a*'.repeat(12) + 'b', 'a'.repeat(32)],
      ['a*'.repeat(12) + 'b', 'a'.repeat(10_000)],
      ['*-'.repeat(12) + 'z', 'web-'.repeat(2_500)],
    ] as const) {
      const t0 = performance.now();
      assert.equal(waiverFor([w({ host: pattern })], { control: 'DL-IMG-005', fleet: 'f', host: name }), undefined);
      const ms = performance.now() - t0;
      assert.ok(ms < 50, `${pattern} against ${name.length} characters took ${ms.toFixed(0)} ms`);
    }
    assert.ok(waiverFor([w({ host: 'a*'.repeat(12) + 'b' })], { control: 'DL-IMG-005', fleet: 'f', host: 'a'.repeat(40) + 'b' }), 'and it still matches');
  });

  test('only * is a wildcard: every other character, regex syntax included, is literal', () => {
    const m = (host: string, name: string) => !!waiverFor([w({ host })], { control: 'DL-IMG-005', fleet: 'f', host: name });
    assert.ok(m('*', ''), '* matches the empty run');
    assert.ok(m('web-*', 'web-'));
    assert.ok(m('*.eu-*', 'db.eu-west'));
    assert.ok(!m('*.eu-*', 'dbxeu-west'), '. is literal');
    assert.ok(m('[a]*', '[a]1') && !m('[a]*', 'a1'), 'brackets are literal');
    assert.ok(m('{a,b}', '{a,b}') && !m('{a,b}', 'a'), 'braces are literal');
    assert.ok(m('a\\*', 'a\\x') && !m('a\\*', 'ax'), 'a backslash is literal, not an escape');
    assert.ok(m('**', 'x/y'), 'a star matches / too (names, not paths)');
    assert.ok(!m('web', 'web-1') && !m('web', 'a-web'), 'anchored at both ends');
  });

  test('a waiver holds through its expiry day (UTC) and has expired from the next midnight', () => {
    assert.equal(isExpired(w({}), new Date('2026-12-31T23:59:59.999Z')), false);
    assert.equal(isExpired(w({}), new Date('2027-01-01T00:00:00.000Z')), true);
  });

  test('its description names control, scope, approver, expiry and reason', () => {
    assert.equal(
      describeWaiver(w({ fleet: 'legacy', host: 'web-1' })),
      'DL-IMG-005 on fleet legacy, host web-1, approved by Ann, until 2026-12-31: engine events not kept here',
    );
  });
});
