/**
 * `driftless snapshot -o before.json [--config file]`: the configured fleets as they are now
 * (instances, images), for a later `driftless run --suite deploy --before before.json` that judges
 * a deploy driftless did not run itself. Touches nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Parsed, str } from './parsed.ts';
import { loadConfig } from '../config/load.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import type { DeploySnapshot } from '../core/run.ts';
import { snapshotFleets } from '../providers/snapshot.ts';

export async function snapshotCommand(p: Parsed): Promise<number> {
  const values = { out: str(p, 'out'), config: str(p, 'config') };
  if (!values.out) throw new UsageError('usage: driftless snapshot -o before.json [--config file]');
  const config = loadConfig(values.config);
  const takenAt = new Date().toISOString();
  const fleets = await snapshotFleets(config);
  const snap: DeploySnapshot = { version: 1, takenAt, config: config.source, fleets };
  const out = path.resolve(values.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(snap, null, 2) + '\n');
  for (const f of fleets) process.stdout.write(`  fleet ${f.target} (${f.provider}): ${f.error ? `cannot list: ${f.error}` : `${f.hosts.length} instances`}\n`);
  process.stdout.write(`snapshot: ${out} (taken ${takenAt}); after the deploy: driftless run --suite deploy --before ${values.out}\n`);
  return fleets.some((f) => f.error) ? ExitCode.HarnessFailure : ExitCode.Compliant;
}
