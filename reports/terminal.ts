/**
 * The terminal renderer of the typed results: one line per violation (where, control, what was
 * found, where its evidence is), one line per broken check with the reason, then the verdict.
 * No stack trace of driftless's own code: a crash of driftless is reported by the CLI, exit 3.
 */
import path from 'node:path';
import { type CheckRecord, firstLine } from '../core/check-record.ts';
import type { Verdict } from './verdict.ts';

const SHOWN = 100;

const where = (r: CheckRecord) => (r.host ? `${r.fleet}/${r.host}` : r.resource ? `${r.fleet} ${r.resource}` : `fleet ${r.fleet}`);

function evidenceOf(r: CheckRecord, resultsDir: string): string {
  const e = r.evidence[0];
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  return e ? rel(path.join(resultsDir, e.file)) : `${rel(path.join(resultsDir, 'checks', `${r.suite}.json`))} (${r.check})`;
}

/** The lines for the findings of a set of records (violations first, then what could not be checked). */
export function findingLines(records: readonly CheckRecord[], resultsDir: string): string[] {
  const failed = records.filter((r) => r.outcome === 'failed');
  const broken = records.filter((r) => r.outcome === 'broken');
  const out: string[] = [];
  for (const r of failed.slice(0, SHOWN))
    out.push(`  VIOLATION ${where(r)} ${r.control} [${r.category}]: ${firstLine(r.message)} (evidence: ${evidenceOf(r, resultsDir)})`);
  if (failed.length > SHOWN) out.push(`  … ${failed.length - SHOWN} more violations (verdict.json, violations)`);
  for (const r of broken.slice(0, SHOWN)) out.push(`  BROKEN ${where(r)} ${r.control}: ${firstLine(r.message)}`);
  if (broken.length > SHOWN) out.push(`  … ${broken.length - SHOWN} more broken checks (verdict.json, uncheckedHosts)`);
  return out;
}

export function verdictLines(v: Verdict, opts: { shard?: { index: number; total: number } | null; verdictFile: string }): string[] {
  const c = v.coverage.total;
  const out = [
    `verdict${opts.shard ? ` of shard ${opts.shard.index}/${opts.shard.total} (merge the shards with \`driftless report\`)` : ''}: ${v.verdict} — ${c.owed} owed: ` +
      `${c.passed} passed, ${c.failed} failed (violations), ${c.broken} broken (could not tell), ${c.waived} waived, ${c.notApplicable} not applicable, ` +
      `${c.skipped} skipped, ${c.missing} not run; exit ${v.exitCode} (${path.relative(process.cwd(), opts.verdictFile) || opts.verdictFile})`,
  ];
  for (const f of v.coverage.fleets) {
    const fc = f.coverage;
    out.push(
      `  fleet ${f.fleet}: ${f.verdict} — ${fc.owed} owed: ${fc.passed} passed, ${fc.failed} failed, ${fc.broken} broken, ${fc.waived} waived, ${fc.notApplicable} n/a, ${fc.skipped} skipped, ${fc.missing} not run`,
    );
  }
  for (const why of v.incomplete) out.push(`  not fully checked: ${why}`);
  for (const n of v.notRun.slice(0, 20)) out.push(`  not run: ${n.check}: ${n.reason}`);
  if (v.notRun.length > 20) out.push(`  … ${v.notRun.length - 20} more not run (verdict.json, notRun)`);
  if (v.taintedHosts.length) out.push(`  tainted hosts (changed in place during the audit: replace them): ${v.taintedHosts.join(', ')}`);
  return out;
}

/** What changed since the baseline: the counts, then each new and each fixed violation on its own line. */
export function changeLines(v: Verdict, baseline: { file?: string; skipped?: string }): string[] {
  const ch = v.changes;
  if (!ch)
    return baseline.skipped
      ? [`  since the last run: ${baseline.skipped}`]
      : ['  since the last run: no earlier verdict to compare with (--baseline verdict.json)'];
  const rel = path.relative(process.cwd(), ch.baseline.file) || ch.baseline.file;
  const out = [
    `  since run ${ch.baseline.runId} (${rel}): ${ch.newViolations.length} new violations, ${ch.fixed.length} fixed, ${ch.stillFailing.length} still failing, ` +
      `${ch.newlyBroken.length} newly broken${ch.unresolved.length ? `, ${ch.unresolved.length} earlier violations not passing now (waived, not checked or not owed)` : ''}`,
  ];
  const at = (c: { fleet: string; host?: string }) => (c.host ? `${c.fleet}/${c.host}` : `fleet ${c.fleet}`);
  for (const c of ch.newViolations.slice(0, SHOWN)) out.push(`    NEW ${at(c)} ${c.control} [${c.category ?? 'Other violation'}]: ${c.message}`);
  if (ch.newViolations.length > SHOWN) out.push(`    … ${ch.newViolations.length - SHOWN} more new (verdict.json, changes.newViolations)`);
  for (const c of ch.fixed.slice(0, SHOWN)) out.push(`    FIXED ${at(c)} ${c.control}: was ${c.message}`);
  if (ch.fixed.length > SHOWN) out.push(`    … ${ch.fixed.length - SHOWN} more fixed (verdict.json, changes.fixed)`);
  for (const c of ch.newlyBroken.slice(0, 20)) out.push(`    NEWLY BROKEN ${at(c)} ${c.control}: ${c.message}`);
  if (ch.newlyBroken.length > 20) out.push(`    … ${ch.newlyBroken.length - 20} more newly broken (verdict.json, changes.newlyBroken)`);
  return out;
}
