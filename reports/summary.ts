/**
 * The job summary renderer (outputs/summary.md): Markdown for a CI job's page (the CLI appends it
 * to $GITHUB_STEP_SUMMARY when that is set). Answers first: the verdict and one line per fleet,
 * then the counts per category, the violations new and fixed since the baseline, and what was not
 * checked. Lists are cut at 50 lines (GitHub takes at most 1 MiB per step); verdict.json has all.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChangeEntry } from './baseline.ts';
import type { RenderInput } from './outputs.ts';

export const SUMMARY_FILE = 'summary.md';
const SHOWN = 50;

/** Text from the records, safe inside Markdown: nothing in a message can open a link, an HTML tag or a table cell. */
export function md(s: string): string {
  return s.replace(/\r?\n/g, ' ').replace(/([\\`*_{}[\]()<>#+!|~])/g, '\\$1');
}

const where = (c: { fleet?: string; host?: string }) => (c.host ? `${c.fleet}/${c.host}` : `fleet ${c.fleet}`);

function list<T>(items: readonly T[], line: (x: T) => string, more: string): string[] {
  const out = items.slice(0, SHOWN).map((x) => `- ${line(x)}`);
  if (items.length > SHOWN) out.push(`- … and ${items.length - SHOWN} more (${more})`);
  return out;
}

const change = (c: ChangeEntry) => `**${md(where(c))}** \`${c.control}\`${c.category ? ` ${md(c.category)}` : ''}: ${md(c.message)}`;

/** The summary's Markdown. */
export function summaryMarkdown(input: RenderInput): string {
  const v = input.verdict;
  const c = v.coverage.total;
  const out: string[] = [
    `## driftless: ${v.verdict.toUpperCase()} (exit ${v.exitCode})`,
    '',
    `Run \`${md(v.runId)}\` · plan ${input.runs.map((r) => `\`${r.planHash.slice(0, 19)}…\``).join(', ') || 'none'} · ${md(v.evidence?.statement ?? 'UNSIGNED')}` +
      (v.changes ? ` · compared with run \`${md(v.changes.baseline.runId)}\`` : ' · no baseline to compare with'),
    '',
    '| fleet | verdict | owed | passed | failed | broken | waived | n/a | not run |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...v.coverage.fleets.map(
      (f) =>
        `| ${md(f.fleet)} | **${f.verdict}** | ${f.coverage.owed} | ${f.coverage.passed} | ${f.coverage.failed} | ${f.coverage.broken} | ${f.coverage.waived} | ${f.coverage.notApplicable} | ${f.coverage.missing + f.coverage.skipped} |`,
    ),
    `| **all** | **${v.verdict}** | ${c.owed} | ${c.passed} | ${c.failed} | ${c.broken} | ${c.waived} | ${c.notApplicable} | ${c.missing + c.skipped} |`,
  ];
  const cats = Object.entries(v.categories).filter(([, n]) => n > 0);
  if (cats.length) out.push('', '### Per category', '', '| category | checks |', '|---|---:|', ...cats.map(([k, n]) => `| ${md(k)} | ${n} |`));
  if (v.changes) {
    const ch = v.changes;
    out.push('', `### Since run \`${md(ch.baseline.runId)}\``, '');
    out.push(
      `${ch.newViolations.length} new violations, ${ch.fixed.length} fixed, ${ch.stillFailing.length} still failing, ${ch.newlyBroken.length} newly broken` +
        (ch.unresolved.length ? `, ${ch.unresolved.length} earlier violations not passing now (waived, not checked or not owed)` : ''),
    );
    if (ch.newViolations.length)
      out.push('', '**New violations**', '', ...list(ch.newViolations, (x) => `🆕 NEW ${change(x)}`, 'verdict.json, changes.newViolations'));
    if (ch.fixed.length) out.push('', '**Fixed**', '', ...list(ch.fixed, (x) => `✅ FIXED ${change(x)}`, 'verdict.json, changes.fixed'));
    if (ch.newlyBroken.length) out.push('', '**Newly broken (could not tell)**', '', ...list(ch.newlyBroken, change, 'verdict.json, changes.newlyBroken'));
    if (ch.unresolved.length)
      out.push(
        '',
        '**Earlier violations not passing now (not fixed)**',
        '',
        ...list(ch.unresolved, (x) => `${change(x)} (now: ${md(x.now)})`, 'verdict.json, changes.unresolved'),
      );
    for (const n of ch.notes) out.push('', `_${md(n)}_`);
  }
  if (v.violations.length) {
    const fresh = new Set((v.changes?.newViolations ?? []).map((x) => x.id));
    out.push('', `### Violations (${v.violations.length})`, '');
    out.push(
      ...list(
        v.violations,
        (x) => `${fresh.has(x.id) ? '🆕 NEW ' : ''}**${md(where(x))}** \`${x.control}\` ${md(x.category)}: ${md(x.message)}`,
        'verdict.json, violations',
      ),
    );
  }
  const notChecked = [
    ...v.incomplete.map((x) => md(x)),
    ...v.broken.map((b) => `BROKEN **${md(where(b))}** \`${b.control}\`: ${md(b.message)}`),
    ...v.notRun.map((n) => `NOT RUN **${md(where(n))}** \`${n.control}\`: ${md(n.reason)}`),
  ];
  if (notChecked.length) out.push('', `### Not checked (${v.broken.length + v.notRun.length} checks)`, '', ...list(notChecked, (x) => x, 'verdict.json'));
  if (v.taintedHosts.length) out.push('', `**Tainted hosts** (changed in place during the audit: replace them): ${v.taintedHosts.map(md).join(', ')}`);
  return out.join('\n') + '\n';
}

/** Renders outputs/summary.md; returns its path and text. */
export function writeSummary(dir: string, input: RenderInput): { file: string; text: string } {
  const text = summaryMarkdown(input);
  const file = path.join(dir, SUMMARY_FILE);
  fs.writeFileSync(file, text);
  return { file, text };
}
