/**
 * The compiled config schema (schemas/config.schema.json), built once per process. Validation
 * fills in defaults, so what passes has every section the suites read.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { InternalError } from '../core/errors.ts';
import { HARNESS_AJV_OPTIONS } from '../core/schema-check.ts';
import { REPO_ROOT } from '../core/paths.ts';

// Both packages are CommonJS with a `default` property; NodeNext types the import as the module.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

export const SCHEMA_FILE = path.join(REPO_ROOT, 'schemas', 'config.schema.json');

interface Validators {
  config: ValidateFunction;
  releaseFile: ValidateFunction;
  waiverFile: ValidateFunction;
}

let compiled: Validators | undefined;

export function validators(): Validators {
  if (compiled) return compiled;
  const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as { $id: string };
  // Strict, so a typo in the schema fails here rather than silently allowing anything. Only
  // strictRequired is off: `anyOf: [{ required: [x] }]` names keys defined one level up.
  const ajv = new Ajv2020({ allErrors: true, verbose: true, useDefaults: true, ...HARNESS_AJV_OPTIONS, strictRequired: false });
  ajv.addKeyword({ keyword: 'x-errors', schemaType: 'object' }); // annotation: our wording per keyword
  addFormats(ajv, ['uri', 'date-time', 'date']);
  ajv.addSchema(schema);
  const get = (ref: string) => {
    const v = ajv.getSchema(ref);
    if (!v) throw new InternalError(`schema ${ref} not found in ${SCHEMA_FILE}`);
    return v;
  };
  compiled = { config: get(schema.$id), releaseFile: get(`${schema.$id}#/$defs/releaseFile`), waiverFile: get(`${schema.$id}#/$defs/waiverFile`) };
  return compiled;
}
