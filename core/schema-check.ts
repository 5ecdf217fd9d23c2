/** Validation of the files the harness itself writes (plan, typed results, verdict) against their schemas in schemas/. */
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fs from 'node:fs';
import { schemaFile } from './paths.ts';

const compiled = new Map<string, ValidateFunction>();
let ajv: InstanceType<typeof Ajv2020Module.default> | undefined;

/**
 * Ajv as every run uses it: compiling the schemas is a fixed cost of each run, so one instance
 * for all of them, without the code optimizer and without checking the schemas against the
 * meta-schema (test/unit/schemas-meta.test.ts does that, once): about a third of the cost.
 */
export const HARNESS_AJV_OPTIONS = { strict: true, validateSchema: false, code: { optimize: false } } as const;

/** The problems of `value` against schemas/<name>.schema.json, one line each; empty when valid. */
export function schemaProblems(name: 'plan' | 'verdict' | 'results', value: unknown): string[] {
  let validate = compiled.get(name);
  if (!validate) {
    if (!ajv) {
      // Both packages are CommonJS with a `default` property under NodeNext.
      ajv = new Ajv2020Module.default({ allErrors: true, ...HARNESS_AJV_OPTIONS });
      addFormatsModule.default(ajv);
    }
    validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile(name), 'utf8')));
    compiled.set(name, validate);
  }
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}`);
}
