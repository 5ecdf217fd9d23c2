/**
 * The goals the bench is held to (issue 28's four, and issue 26's cost of a custom check), each
 * judged from one result file: a goal whose figure is missing or whose row is invalid is not met,
 * never assumed.
 */
import type { BenchResults } from './readme.ts';
import { times } from './stats.ts';

export interface GoalRow {
  /** Where the goal comes from. */
  issue: number;
  goal: string;
  target: string;
  measured: string;
  met: boolean;
}

const s1 = (x: number | null | undefined) => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(1));
const NOT_MEASURED = 'not measured';

/** The peer comparison at the default scope, 100 hosts (or the largest measured), one concurrency. */
function defaultScopePeer(r: BenchResults, concurrency: number) {
  const rows = (r.peer?.comparisons ?? []).filter((c) => c.scope === 'default' && c.concurrency === concurrency);
  return rows.sort((a, b) => b.hosts - a.hosts)[0];
}

export function goalsOf(r: BenchResults): GoalRow[] {
  const out: GoalRow[] = [];
  const rep = r.report;
  const grouped = rep?.reports.find((x) => x.what.endsWith('grouped'));
  const at1000 = rep?.hosts === 1000;
  const reportRow = (goal: string, target: string, figure: (x: NonNullable<typeof grouped>) => [string, boolean]) => {
    if (!grouped || !at1000) {
      out.push({ issue: 28, goal, target, measured: NOT_MEASURED, met: false });
      return;
    }
    const [measured, ok] = figure(grouped);
    out.push({ issue: 28, goal, target, measured: grouped.valid ? measured : `${measured} (invalid: ${grouped.problem ?? ''})`, met: grouped.valid && ok });
  };
  reportRow('report at 1,000 hosts (26,000 checks): generation', '≤ 60 s', (g) => [`${s1(g.wallSeconds)} s (${s1(g.cpuSeconds)} CPU s)`, g.wallSeconds <= 60]);
  reportRow('report at 1,000 hosts: peak memory', '≤ 1 GiB', (g) => [`${g.peakTreeMiB.toFixed(0)} MiB`, g.peakTreeMiB <= 1024]);
  reportRow('report at 1,000 hosts: single file', '≤ 25 MB', (g) => {
    const mb = g.singleFileMiB === undefined ? undefined : (g.singleFileMiB * 2 ** 20) / 1e6;
    return mb === undefined ? [NOT_MEASURED, false] : [`${s1(mb)} MB (${g.bytesPerCheck ?? '?'} bytes a check)`, mb <= 25];
  });
  // Allure 3: the goal is that it was measured side by side and a decision taken from the figures.
  const gens = rep?.generators ?? [];
  const a2 = gens.find((x) => x.what.startsWith('Allure 2') && x.what.endsWith('grouped'));
  const a3 = gens.find((x) => x.what.startsWith('Allure 3') && x.what.endsWith('grouped'));
  if (a2?.valid && a3?.valid && a2.singleFileMiB !== undefined && a3.singleFileMiB !== undefined) {
    const faster = a3.wallSeconds < a2.wallSeconds;
    const smaller = a3.singleFileMiB < a2.singleFileMiB;
    const adopt = faster && smaller;
    out.push({
      issue: 28,
      goal: 'Allure 3 measured against Allure 2 (grouped results): adopt if faster and smaller',
      target: 'measured, decided',
      measured: `${s1(a3.wallSeconds)} vs ${s1(a2.wallSeconds)} s, ${s1(a3.singleFileMiB)} vs ${s1(a2.singleFileMiB)} MiB: ${adopt ? 'adopt' : `not adopted (${faster ? 'faster' : 'slower'}, ${smaller ? 'smaller' : 'bigger'})`}`,
      met: true,
    });
  } else out.push({ issue: 28, goal: 'Allure 3 measured against Allure 2', target: 'measured, decided', measured: NOT_MEASURED, met: false });
  for (const c of [8, 32]) {
    const p = defaultScopePeer(r, c);
    out.push(
      p
        ? {
            issue: 28,
            goal: `default scope, ${p.hosts} hosts, c${c}: harness CPU, testinfra / driftless`,
            target: '≥ 3×',
            measured: `${s1(p.testinfraCpuSeconds)} / ${s1(p.driftlessCpuSeconds)} CPU s = ${times(p.cpuRatio)}`,
            met: p.valid && p.cpuRatio >= 3,
          }
        : { issue: 28, goal: `default scope, c${c}: harness CPU, testinfra / driftless`, target: '≥ 3×', measured: NOT_MEASURED, met: false },
      p
        ? {
            issue: 28,
            goal: `default scope, ${p.hosts} hosts, c${c}: wall time, testinfra / driftless`,
            target: '> 1× (ahead)',
            measured: `${s1(p.testinfraSeconds)} / ${s1(p.driftlessSeconds)} s = ${times(p.speedup)}`,
            met: p.valid && p.speedup > 1,
          }
        : { issue: 28, goal: `default scope, c${c}: wall time, testinfra / driftless`, target: '> 1× (ahead)', measured: NOT_MEASURED, met: false },
    );
  }
  const hosts = r.large?.hosts;
  for (const n of [4, 10]) {
    const sh = r.large?.shards?.find((x) => x.total === n);
    out.push(
      sh?.merge
        ? {
            issue: 28,
            goal: `the ${hosts}-host run as ${n} shards, merged by \`driftless report\``,
            target: 'measured, valid',
            measured: `slowest shard ${s1(sh.slowestShardSeconds)} s, merge ${s1(sh.merge.wallSeconds)} s and ${sh.merge.peakTreeMiB.toFixed(0)} MiB`,
            met: sh.valid,
          }
        : { issue: 28, goal: `the large run as ${n} shards, merged`, target: 'measured, valid', measured: sh?.problem ?? NOT_MEASURED, met: false },
    );
  }
  const missing = rep?.shards.filter((x) => x.what.includes('missing')) ?? [];
  out.push({
    issue: 28,
    goal: `a missing shard named by the merge at ${rep?.hosts ?? '?'} hosts`,
    target: 'named',
    measured: missing.length ? missing.map((x) => `${x.what}: ${x.valid ? 'named' : `NOT named (${x.problem ?? ''})`}`).join('; ') : NOT_MEASURED,
    met: at1000 && missing.length > 0 && missing.every((x) => x.valid),
  });
  const cu = r.custom;
  out.push(
    cu?.ratioToEmptyTest !== undefined && cu.harnessMsPerCheck !== undefined
      ? {
          issue: 26,
          goal: `a custom check's harness CPU against an empty Playwright test (${cu.hosts} hosts × ${cu.checks} checks, c${cu.concurrency})`,
          target: `≤ ${cu.goal}×`,
          measured: `${s1(cu.harnessMsPerCheck)} vs ${s1(cu.empty?.msPerTest ?? NaN)} ms = ${times(cu.ratioToEmptyTest)}`,
          met: cu.valid && cu.ratioToEmptyTest <= cu.goal,
        }
      : { issue: 26, goal: "a custom check's harness CPU against an empty Playwright test", target: '≤ 1.5×', measured: cu?.error ?? NOT_MEASURED, met: false },
  );
  return out;
}
