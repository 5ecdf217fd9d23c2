/** The architecture rule can fail: imports against the design's layers, and protocol clients outside probes/, are lint errors. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { REPO_ROOT } from '../../core/paths.ts';

const eslint = new ESLint({ cwd: REPO_ROOT });
const lint = async (file: string, code: string) =>
  (await eslint.lintText(code, { filePath: path.join(REPO_ROOT, file) }))[0]!.messages.map((m) => `${m.ruleId}: ${m.message}`);

test('core/ may not import config/; reports/ may not import audits/', async () => {
  assert.match(
    (await lint('core/probe.ts', "import { loadConfig } from '../config/load.ts';\nexport const x = loadConfig;\n")).join('\n'),
    /boundaries\/dependencies/,
  );
  assert.match(
    (await lint('reports/probe.ts', "import { computePlan } from '../audits/plan-run.ts';\nexport const x = computePlan;\n")).join('\n'),
    /boundaries\/dependencies/,
  );
});

test('audits/ may import probes/ and providers/, and that is clean', async () => {
  const code =
    "import { shQuote } from '../probes/shell.ts';\nimport { providerFor } from '../providers/registry.ts';\nexport const x = [shQuote, providerFor];\n";
  assert.deepEqual(await lint('audits/probe.ts', code), []);
});

test('a protocol client outside probes/ is an error', async () => {
  assert.match((await lint('audits/probe.ts', "import { Client } from 'ssh2';\nexport const x = Client;\n")).join('\n'), /only probes\/ speak a protocol/);
});

test('a source file over 400 lines is an error', async () => {
  const code = Array.from({ length: 401 }, (_, i) => `export const x${i} = ${i};`).join('\n') + '\n';
  assert.match((await lint('core/probe.ts', code)).join('\n'), /max-lines/);
});
