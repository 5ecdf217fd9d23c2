/**
 * Every schema in schemas/ is a valid JSON Schema 2020-12 document. The harness compiles them
 * without checking them against the meta-schema (a fixed cost of every run), so it is done here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Ajv2020Module from 'ajv/dist/2020.js';
import { REPO_ROOT } from '../../core/paths.ts';

const dir = path.join(REPO_ROOT, 'schemas');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json'));

test('schemas/ holds the schemas the harness compiles', () => {
  for (const f of ['config', 'plan', 'verdict', 'results', 'manifest']) assert.ok(files.includes(`${f}.schema.json`), f);
});

for (const f of files) {
  test(`${f} is valid against the 2020-12 meta-schema`, () => {
    const ajv = new Ajv2020Module.default({ strict: false });
    const schema = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as object;
    assert.equal(ajv.validateSchema(schema), true, JSON.stringify(ajv.errors?.slice(0, 3)));
  });
}

test('a schema that breaks the meta-schema is caught (the negative control)', () => {
  const ajv = new Ajv2020Module.default({ strict: false });
  assert.equal(ajv.validateSchema({ type: 'object', properties: { a: { type: 'no-such-type' } } }), false);
  assert.equal(ajv.validateSchema({ type: 'object', required: 'a' }), false);
});
