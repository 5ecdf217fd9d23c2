/** Victim choice under the safety rules, replacement verdicts, time to recovery, the timeline SVG. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runExperiment } from '../../audits/chaos/kill-loop.ts';
import { timeToRecovery, verifyReplacements } from '../../audits/chaos/replacements.ts';
import { ChaosSafetyError, chooseVictims, NoEligibleHostError } from '../../audits/chaos/victims.ts';
import { IneligibleVictimError } from '../../core/errors.ts';
import { mulberry32, newSeed } from '../../core/seed.ts';
import type { Provider } from '../../providers/provider.ts';
import type { Host } from '../../core/inventory.ts';
import type { Bucket } from '../../probes/http-load.ts';
import { bucketsJson, renderTimelineSvg } from '../../audits/chaos/timeline-chart.ts';

const IMG = 'sha256:' + 'a'.repeat(64);
const OTHER = 'sha256:' + 'b'.repeat(64);

function host(id: string, over: Partial<Host> = {}): Host {
  return {
    id,
    instanceId: `${id}-i1`,
    fleet: 'web',
    provider: 'docker',
    image: { id: IMG },
    launchedAt: new Date('2025-01-01T00:00:00Z'),
    labels: {},
    chaosEligible: true,
    state: 'running',
    ...over,
  };
}

/** 10 hosts: odd ones opted in, plus one opted in but exited. */
const mixed: Host[] = [...Array.from({ length: 10 }, (_, i) => host(`h${i}`, { chaosEligible: i % 2 === 1 })), host('h-exited', { state: 'exited' })];

describe('mulberry32', () => {
  test('is deterministic per seed and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    for (let i = 0; i < 1000; i++) {
      const v = a();
      assert.equal(v, b());
      assert.ok(v >= 0 && v < 1);
    }
    assert.notEqual(mulberry32(1)(), mulberry32(2)());
  });
  test('newSeed is a 32-bit unsigned integer', () => {
    for (let i = 0; i < 100; i++) {
      const s = newSeed();
      assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
    }
  });
});

describe('chooseVictims', () => {
  test('never picks a host that is not opted in or not running, for 1000 seeds', () => {
    for (let seed = 0; seed < 1000; seed++) {
      const c = chooseVictims({ hosts: mixed, seed: seed * 7919 + 13, percent: 100, maxKills: 100 });
      assert.equal(c.eligible.length, 5);
      assert.equal(c.victims.length, 5);
      for (const v of c.victims) {
        assert.equal(v.chaosEligible, true, `seed ${seed} chose ${v.id}`);
        assert.equal(v.state, 'running');
      }
      const one = chooseVictims({ hosts: mixed, seed, count: 1, maxKills: 1 });
      assert.ok(one.victims[0]!.chaosEligible && one.victims[0]!.state === 'running', `seed ${seed} chose ${one.victims[0]!.id}`);
    }
  });

  test('same seed and hosts (in any order) give the same victims', () => {
    const shuffled = [...mixed].reverse();
    for (const seed of [0, 1, 42, 2 ** 32 - 1]) {
      const a = chooseVictims({ hosts: mixed, seed, count: 2, maxKills: 5 });
      const b = chooseVictims({ hosts: shuffled, seed, count: 2, maxKills: 5 });
      assert.deepEqual(
        a.victims.map((h) => h.id),
        b.victims.map((h) => h.id),
      );
      assert.equal(a.seed, seed >>> 0);
      assert.match(a.reason, new RegExp(`seed ${seed >>> 0} chose`));
    }
  });

  test('different seeds spread over every eligible host', () => {
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 1000; seed++) {
      const [v] = chooseVictims({ hosts: mixed, seed, count: 1, maxKills: 1 }).victims;
      counts.set(v!.id, (counts.get(v!.id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['h1', 'h3', 'h5', 'h7', 'h9']);
    for (const [id, n] of counts) assert.ok(n > 120 && n < 280, `${id} chosen ${n} of 1000 times`);
  });

  test('percent of eligible, rounded down: never more victims than the share opted into', () => {
    const five = mixed; // 5 eligible
    const n = (percent: number) => chooseVictims({ hosts: five, seed: 7, percent, maxKills: 100 }).victims.length;
    assert.equal(n(20), 1);
    assert.equal(n(39), 1);
    assert.equal(n(40), 2);
    assert.equal(n(50), 2);
    assert.equal(n(100), 5);
    assert.match(chooseVictims({ hosts: five, seed: 7, percent: 50, maxKills: 100 }).reason, /50% of 5 eligible, rounded down: 2/);
  });

  test('a percent that rounds to zero victims is an error naming the fleet and the fix, not a silent no-op or a silent one', () => {
    assert.throws(
      () => chooseVictims({ hosts: mixed, seed: 7, percent: 19, maxKills: 100, fleet: 'web' }),
      (err: unknown) =>
        err instanceof ChaosSafetyError &&
        err.exitCode === 2 &&
        /chaos\.kill\.percent 19 of the 5 eligible hosts of fleet web is 0\.95 of a host: it rounds down to zero victims\. Set chaos\.kill\.percent to at least 20, or use chaos\.kill\.count/.test(
          err.message,
        ),
    );
  });

  test('count larger than the eligible set takes them all; the default is one', () => {
    assert.equal(chooseVictims({ hosts: mixed, seed: 3, count: 50, maxKills: 100 }).victims.length, 5);
    assert.equal(chooseVictims({ hosts: mixed, seed: 3, maxKills: 100 }).victims.length, 1);
  });

  test('safety.maxKills caps count and percent', () => {
    const c = chooseVictims({ hosts: mixed, seed: 9, count: 4, maxKills: 2 });
    assert.equal(c.victims.length, 2);
    assert.match(c.reason, /capped by safety\.maxKills: 2/);
    assert.equal(chooseVictims({ hosts: mixed, seed: 9, percent: 100, maxKills: 1 }).victims.length, 1);
  });

  test('no eligible host: NoEligibleHostError naming the fleet and the opt-in label', () => {
    const none = mixed.map((h) => ({ ...h, chaosEligible: false }));
    assert.throws(
      () => chooseVictims({ hosts: none, seed: 1, maxKills: 1 }),
      (e: unknown) =>
        e instanceof NoEligibleHostError &&
        /no host in fleet "web" opted in to chaos \(label driftless\.chaos=opt-in\): nothing to kill/.test(e.message) &&
        e.exitCode === 2,
    );
    // opted in but none running
    assert.throws(() => chooseVictims({ hosts: [host('x', { state: 'exited' })], seed: 1, maxKills: 1 }), /none of them running/);
    assert.throws(() => chooseVictims({ hosts: [], seed: 1, maxKills: 1, fleet: 'empty-fleet' }), /fleet "empty-fleet".*no hosts/);
  });

  test('a cap of zero is an error, not a silent no-op; bad count/percent too', () => {
    assert.throws(
      () => chooseVictims({ hosts: mixed, seed: 1, maxKills: 0 }),
      (e: unknown) => e instanceof ChaosSafetyError && /^safety\.maxKills is 0: /.test(e.message),
    );
    assert.throws(() => chooseVictims({ hosts: mixed, seed: 1, maxKills: -1 }), ChaosSafetyError);
    assert.throws(() => chooseVictims({ hosts: mixed, seed: 1, count: 0, maxKills: 1 }), /chaos\.kill\.count is 0/);
    assert.throws(() => chooseVictims({ hosts: mixed, seed: 1, percent: 0, maxKills: 1 }), /chaos\.kill\.percent is 0/);
    assert.throws(() => chooseVictims({ hosts: mixed, seed: 1, count: 1, percent: 10, maxKills: 1 }), /not both/);
  });
});

describe('runExperiment (against a recording inventory)', () => {
  function recorder(desired = 3) {
    const kills: string[] = [];
    const inv: Provider = {
      fleet: 'web',
      kind: 'docker',
      list: async () => [],
      imageFacts: async () => ({ kind: 'none' }),
      lookup: async (h) => h,
      desiredCapacity: async () => desired,
      kill: async (h) => void kills.push(h.id),
      waitForCapacity: async () => ({ desired, running: desired, hosts: [], reachedAt: new Date() }),
    };
    return { inv, kills };
  }

  test('a dry run reports its victims and kills nothing', async () => {
    const { inv, kills } = recorder();
    const r = await runExperiment({ inventory: inv, victims: [host('a'), host('b')], kind: 'sigkill', dryRun: true });
    assert.deepEqual(kills, []);
    assert.deepEqual(
      r.timeline.filter((e) => e.kind === 'dry-run').map((e) => e.host),
      ['a', 'b'],
    );
    assert.equal(
      r.timeline.some((e) => e.kind === 'kill'),
      false,
    );
  });

  test('kills one by one and stops at once when the abort condition holds', async () => {
    const { inv, kills } = recorder();
    const events: string[] = [];
    const r = await runExperiment({
      inventory: inv,
      victims: [host('a'), host('b'), host('c')],
      kind: 'sigkill',
      dryRun: false,
      abortWhen: () => kills.length >= 1,
      abortReason: () => 'error rate 60% > 50%',
      onEvent: (e) => events.push(e.kind),
    });
    assert.deepEqual(kills, ['a']);
    assert.equal(r.aborted, true);
    assert.deepEqual(events, ['start', 'kill', 'abort', 'recovered', 'end']);
    assert.match(r.timeline.find((e) => e.kind === 'abort')!.message, /stopped killing at once: error rate 60% > 50%; 2 victim\(s\) spared: b, c/);
  });

  test('refuses victims that are not opted in or of another fleet, before killing anything', async () => {
    const { inv, kills } = recorder();
    await assert.rejects(
      runExperiment({ inventory: inv, victims: [host('a'), host('b', { chaosEligible: false })], kind: 'sigkill', dryRun: false }),
      IneligibleVictimError,
    );
    await assert.rejects(
      runExperiment({ inventory: inv, victims: [host('a', { fleet: 'other' })], kind: 'sigkill', dryRun: true }),
      /belongs to fleet "other"/,
    );
    assert.deepEqual(kills, []);
  });
});

describe('verifyReplacements', () => {
  const t0 = new Date('2025-01-01T00:00:00Z');
  const t1 = new Date('2025-01-01T00:01:00Z');
  const before = [host('a'), host('b'), host('c'), host('d'), host('e')];

  test('replaced / restarted in place / wrong image / missing / unchanged', () => {
    const after = [
      host('a', { instanceId: 'a-i2', launchedAt: t1 }), // new instance, same image
      host('b', { instanceId: 'b-i1', launchedAt: t1 }), // same instance, started again
      host('c', { instanceId: 'c-i2', launchedAt: t1, image: { id: OTHER } }), // new instance, other image
      host('d', { state: 'exited' }), // dead, not replaced
      host('e'), // untouched
    ];
    const v = verifyReplacements(before, after, before, IMG);
    const by = Object.fromEntries(v.map((c) => [c.host, c]));
    assert.equal(by.a!.verdict, 'replaced');
    assert.equal(by.a!.newInstanceId, 'a-i2');
    assert.equal(by.a!.digest, IMG);
    assert.deepEqual(by.a!.oldStart, t0);
    assert.deepEqual(by.a!.newStart, t1);
    assert.equal(by.b!.verdict, 'restarted-in-place');
    assert.match(by.b!.detail, /restarted in place, not replaced/);
    assert.equal(by.c!.verdict, 'wrong-image');
    assert.equal(by.c!.digest, OTHER);
    assert.equal(by.d!.verdict, 'missing');
    assert.match(by.d!.detail, /exited/);
    assert.equal(by.e!.verdict, 'unchanged');
  });

  test("without an expected digest the victim's own image is the reference; repo digests count", () => {
    const victim = host('a', { image: { id: 'sha256:x', repoDigests: ['lab/web@sha256:dd'] } });
    const after = [host('a', { instanceId: 'a-i2', launchedAt: t1, image: { id: 'sha256:x' } })];
    assert.equal(verifyReplacements([victim], after, [victim])[0]!.verdict, 'replaced');
    const byRepoDigest = [host('a', { instanceId: 'a-i2', launchedAt: t1, image: { id: 'sha256:y', repoDigests: ['lab/web@sha256:dd'] } })];
    assert.equal(verifyReplacements([victim], byRepoDigest, [victim], 'sha256:dd')[0]!.verdict, 'replaced');
  });

  test("EC2-style: a replacement under a new id is matched to one victim only, never a bystander's", () => {
    const ec2 = (id: string, over: Partial<Host> = {}) => host(id, { provider: 'ec2', instanceId: id, image: { ami: 'ami-1' }, ...over });
    const b = [ec2('i-1'), ec2('i-2'), ec2('i-3')];
    const after = [ec2('i-2'), ec2('i-3'), ec2('i-9', { launchedAt: t1 })];
    const [one, two] = verifyReplacements(b, after, [b[0]!, b[1]!], 'ami-1');
    assert.equal(one!.verdict, 'replaced');
    assert.equal(one!.newInstanceId, 'i-9');
    assert.equal(two!.verdict, 'unchanged'); // i-2 still runs: it was not killed
    const bad = verifyReplacements(b, [ec2('i-2'), ec2('i-3'), ec2('i-8', { launchedAt: t1, image: { ami: 'ami-2' } })], [b[0]!], 'ami-1');
    assert.equal(bad[0]!.verdict, 'wrong-image');
  });
});

describe('timeToRecovery', () => {
  test('timeToRecovery: capacity and the last error bucket both count', () => {
    const bucket = (t: number, errors: number): Bucket => ({ t, sent: 10, ok: 10 - errors, errors, p50: 1, p99: 1, max: 1 });
    const b = Array.from({ length: 50 }, (_, i) => bucket(i * 100, i >= 20 && i < 25 ? 2 : 0));
    assert.equal(timeToRecovery(2000, b, 2200), 500); // errors until 2.5 s
    assert.equal(timeToRecovery(2000, b, 3100), 1100); // capacity later than the errors
    assert.equal(timeToRecovery(2000, b, undefined), undefined);
    assert.equal(timeToRecovery(2000, b.slice(0, 25), 2200), undefined); // no healthy bucket seen
  });
});

/** A small well-formedness check: tags nest and close, attributes are quoted, entities known. */
function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>/, '').trim();
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  let roots = 0;
  while ((m = re.exec(body))) {
    const [, close, name, , self, text, stray] = m;
    if (stray) assert.fail(`stray "<" at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (text !== undefined) {
      assert.ok(stack.length > 0 || !text.trim(), `text outside the root: ${text.slice(0, 40)}`);
      for (const ent of text.match(/&[^;\s]*;?/g) ?? []) assert.match(ent, /^&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);$/i);
      continue;
    }
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
}

describe('timeline chart', () => {
  const buckets = Array.from({ length: 120 }, (_, i): Bucket => ({
    t: i * 100,
    sent: 5,
    ok: i > 40 && i < 45 ? 3 : 5,
    errors: i > 40 && i < 45 ? 2 : 0,
    p50: 2,
    p99: 9,
    max: 12,
  }));

  test('a standalone, well-formed SVG with a kill marker per kill, axes, legend and title', () => {
    const svg = renderTimelineSvg({
      title: 'cattle: sigkill <2 victims> & recovery',
      buckets,
      healthy: [
        { t: 0, healthy: 3 },
        { t: 4000, healthy: 1 },
        { t: 5200, healthy: 3 },
      ],
      desired: 3,
      kills: [
        { t: 4000, host: 'dl-cattle-1' },
        { t: 4100, host: 'dl-cattle-3' },
      ],
      marks: [{ t: 5200, label: 'recovered' }],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assertWellFormedXml(svg);
    assert.equal(svg.match(/<g class="kill">/g)?.length, 2);
    assert.match(svg, />kill dl-cattle-1</);
    assert.match(svg, />kill dl-cattle-3</);
    assert.match(svg, /cattle: sigkill &lt;2 victims&gt; &amp; recovery/);
    assert.match(svg, /time since load start \(s\)/);
    assert.match(svg, /requests per second/);
    assert.match(svg, /class="legend"/);
    assert.match(svg, /<polyline class="healthy"/);
    assert.match(svg, /<polyline class="errors"/);
    assert.ok(!/NaN|undefined|Infinity/.test(svg), 'no NaN/undefined/Infinity in coordinates');
  });

  test('renders with no data at all', () => {
    const svg = renderTimelineSvg({ title: 'empty', buckets: [] });
    assertWellFormedXml(svg);
    assert.ok(!/NaN|undefined|Infinity/.test(svg));
    assert.equal(svg.match(/<g class="kill">/g), null);
  });

  test('the well-formedness check itself catches broken XML', () => {
    assert.throws(() => assertWellFormedXml('<svg><g></svg>'));
    assert.throws(() => assertWellFormedXml('<svg><text>a < b</text></svg>'));
    assert.throws(() => assertWellFormedXml('<svg/><svg/>'));
  });

  test('bucketsJson is the raw buckets with the bucket width', () => {
    const parsed = JSON.parse(bucketsJson({ buckets }, { seed: 7 })) as { bucketMs: number; seed: number; buckets: Bucket[] };
    assert.equal(parsed.bucketMs, 100);
    assert.equal(parsed.seed, 7);
    assert.deepEqual(parsed.buckets, buckets);
  });
});
