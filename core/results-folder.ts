/**
 * A results folder, as `driftless run` leaves it and `driftless report` reads it:
 *
 *   driftless-run.json       the run record: the plan, the inventory, the shard, how it ended
 *   checks/<suite>.json      the typed results (schemas/results.schema.json): the only source of the verdict
 *   evidence/<sha256>.<ext>  evidence bodies, redacted, named by their hash
 *   verdict.json             this folder's verdict (a shard's own, before the merge)
 *   outputs/                 what renderers wrote for this folder (JUnit, SARIF, ...)
 *   driftless-evidence.json  the evidence bundle over all of it (signed when a key is configured)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Attachment } from './check-result.ts';
import type { CheckRecord, EvidenceRef } from './check-record.ts';
import { RunContextError } from './errors.ts';
import { schemaProblems } from './schema-check.ts';
import type { SuiteName } from './suites.ts';

export const CHECKS_DIR = 'checks';
export const EVIDENCE_DIR = 'evidence';

const EXT: Record<Attachment['contentType'], string> = {
  'application/json': 'json',
  'text/plain': 'txt',
  'text/x-diff': 'diff',
  'image/svg+xml': 'svg',
};

export interface ChecksFile {
  version: 1;
  runId: string;
  suite: SuiteName;
  records: CheckRecord[];
}

/** Files written at once: enough to keep the disk busy while the CPU builds the next records. */
const PARALLEL_WRITES = 32;

/**
 * Evidence bodies, stored once per content (a thousand hosts' identical attachments are one
 * file). `ref` is synchronous so judging never waits on the disk; `flush` writes what is queued.
 */
export class EvidenceStore {
  private readonly queued = new Map<string, string>();
  private readonly known = new Set<string>();
  constructor(private readonly dir: string) {}

  ref = (a: Attachment): EvidenceRef => {
    const sha256 = createHash('sha256').update(a.body).digest('hex');
    const file = `${EVIDENCE_DIR}/${sha256}.${EXT[a.contentType] ?? 'txt'}`;
    if (!this.known.has(file)) {
      this.known.add(file);
      this.queued.set(file, a.body);
    }
    return { name: a.name, contentType: a.contentType, file, sha256, bytes: Buffer.byteLength(a.body) };
  };

  async flush(): Promise<void> {
    const files = [...this.queued];
    this.queued.clear();
    fs.mkdirSync(path.join(this.dir, EVIDENCE_DIR), { recursive: true });
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < files.length) {
        const [name, body] = files[next++]!;
        await fs.promises.writeFile(path.join(this.dir, name), body);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_WRITES }, writer));
  }
}

/** Writes a suite's typed results (atomically: a reader never sees half a file). */
export async function writeChecks(dir: string, file: ChecksFile): Promise<string> {
  const out = path.join(dir, CHECKS_DIR, `${file.suite}.json`);
  await fs.promises.mkdir(path.dirname(out), { recursive: true });
  await fs.promises.writeFile(`${out}.tmp`, JSON.stringify(file));
  await fs.promises.rename(`${out}.tmp`, out);
  return out;
}

export interface ChecksRead {
  records: CheckRecord[];
  /** Files that could not be read or do not match the schema, each named: the run is then not fully checked. */
  problems: string[];
}

/** Every typed result of a results folder, validated against schemas/results.schema.json. */
export function readChecks(dir: string): ChecksRead {
  const out: ChecksRead = { records: [], problems: [] };
  const checksDir = path.join(dir, CHECKS_DIR);
  if (!fs.existsSync(checksDir)) return out;
  for (const name of fs
    .readdirSync(checksDir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const file = path.join(checksDir, name);
    let body: unknown;
    try {
      body = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      out.problems.push(`${file} is not readable JSON (${(err as Error).message}): its checks count as not run`);
      continue;
    }
    const problems = schemaProblems('results', body);
    if (problems.length) {
      out.problems.push(`${file} does not match schemas/results.schema.json (${problems.slice(0, 3).join('; ')}): its checks count as not run`);
      continue;
    }
    out.records.push(...(body as ChecksFile).records);
  }
  return out;
}

/** An evidence body of a folder's record (renderers that show it read it here). */
export function evidenceBody(dir: string, ref: EvidenceRef): string {
  const file = path.join(dir, ref.file);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new RunContextError(`the evidence ${ref.name} (${ref.file}) of ${dir} cannot be read: ${(err as Error).message}`);
  }
}
