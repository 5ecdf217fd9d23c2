/** Validation of the files the harness itself writes (plan, typed results, verdict) against their schemas in schemas/. */
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fs from 'node:fs';
import { schemaFile } from './paths.ts';

const compiled = new Map<string, ValidateFunction>();

/** The problems of `value` against schemas/<name>.schema.json, one line each; empty when valid. */
export function schemaProblems(name: 'plan' | 'verdict' | 'results', value: unknown): string[] {
  let validate = compiled.get(name);
  if (!validate) {
    // Both packages are CommonJS with a `default` property under NodeNext.
    const ajv = new Ajv2020Module.default({ allErrors: true, strict: true });
    addFormatsModule.default(ajv);
    validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile(name), 'utf8')));
    compiled.set(name, validate);
  }
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}`);
}
