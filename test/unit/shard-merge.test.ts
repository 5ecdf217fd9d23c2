/**
 * A missing shard is named at 1,000 hosts too (issue 28, item 3): a nightly run of 1,000 hosts ×
 * 26 checks as 10 shards (synthetic results folders, as 10 CI jobs leave them: bench/synthetic-
 * results.ts), merged without shard 4: the merge names that shard first among what was not fully
 * checked, counts its 2,600 checks as not run, and the answer is never compliant; the terminal and
 * the job summary name the shard before any of its checks, however many there are.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { writeSyntheticResults } from '../../bench/synthetic-results.ts';
import { readChecks } from '../../core/results-folder.ts';
import { mergeRecords, readRunRecord } from '../../reports/run-record.ts';
import { summaryMarkdown } from '../../reports/summary.ts';
import { verdictLines } from '../../reports/terminal.ts';
import { answersOf, verdictOf } from '../../reports/verdict.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-shard-merge-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('1,000 hosts in 10 shards, shard 4 never uploaded: it is named, its 2,600 checks are not run, exit 3', async () => {
  const run = await writeSyntheticResults({ dir: tmp, hosts: 1000, shards: 10, runId: 'nightly-42', lean: true });
  assert.equal(run.dirs.length, 10);
  const uploaded = run.dirs.filter((d) => path.basename(d) !== 'shard-4');
  const merged = mergeRecords(uploaded.map(readRunRecord), true);
  assert.deepEqual(merged.refused, []);
  assert.deepEqual(merged.incomplete, ['shard 4/10 of run nightly-42 is missing: its checks were not run or not uploaded']);

  const records = uploaded.flatMap((d) => readChecks(d).records);
  assert.equal(records.length, 23_400);
  const v = verdictOf(records, merged);
  assert.equal(v.verdict, 'not-fully-checked');
  assert.equal(v.exitCode, 3);
  assert.deepEqual([v.coverage.total.owed, v.coverage.total.passed, v.coverage.total.missing], [26_000, 23_400, 2_600]);
  assert.match(v.incomplete[0]!, /^shard 4\/10 of run nightly-42 is missing/);
  // Its hosts are the hundred --shard 4/10 deals (every tenth in sorted order), all 26 checks of each.
  const hosts = new Set(v.notRun.map((n) => n.host!));
  assert.equal(hosts.size, 100);
  const sorted = Array.from({ length: 1000 }, (_, i) => `dl-bench-${i + 1}`).sort();
  assert.deepEqual(
    [...hosts].sort(),
    sorted.filter((_, i) => i % 10 === 3),
  );

  // Named before any of its 2,600 checks, wherever the answer is read.
  const lines = verdictLines(v, { verdictFile: path.join(tmp, 'verdict.json') });
  const named = lines.findIndex((l) => l === '  not fully checked: shard 4/10 of run nightly-42 is missing: its checks were not run or not uploaded');
  assert.ok(named > 0 && named < lines.findIndex((l) => l.startsWith('  not run: ')), lines.slice(0, 5).join('\n'));
  assert.ok(lines.length < 40, `the terminal stays short: ${lines.length} lines`);
  const { owed, byCheck } = answersOf(records, merged);
  const summary = summaryMarkdown({ owed, byCheck, verdict: v, runs: merged.runs, evidencePath: () => '' });
  assert.match(summary, /### Not checked \(2600 checks\)\n\n- shard 4\/10 of run nightly-42 is missing/);
});
