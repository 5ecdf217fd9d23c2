/** `driftless inventory [--config f] [--snapshot file]`: the fleets' hosts as the suites will see them. */
import fs from 'node:fs';
import path from 'node:path';
import { flag, type Parsed, str } from './parsed.ts';
import { loadConfig } from '../config/load.ts';
import { snapshotFleets } from '../providers/snapshot.ts';
import { ExitCode } from '../core/errors.ts';

export async function inventoryCommand(p: Parsed): Promise<number> {
  const values = { config: str(p, 'config'), snapshot: str(p, 'snapshot'), json: flag(p, 'json') };
  const config = loadConfig(values.config);
  const snap = await snapshotFleets(config);
  if (values.snapshot) {
    fs.mkdirSync(path.dirname(values.snapshot), { recursive: true });
    fs.writeFileSync(values.snapshot, JSON.stringify(snap, null, 2));
  }
  if (values.json) process.stdout.write(JSON.stringify(snap, null, 2) + '\n');
  else if (!values.snapshot) {
    for (const f of snap) {
      process.stdout.write(`${f.target} (${f.provider}): ${f.error ? `ERROR ${f.error}` : `${f.hosts.length} hosts`}\n`);
      for (const h of f.hosts)
        process.stdout.write(
          `  ${h.id}  ${h.state}  ${h.image.id ?? h.image.ami ?? '-'}  ${h.ssh ? `${h.ssh.host}:${h.ssh.port}` : '-'}${h.chaosEligible ? '  chaos opt-in' : ''}\n`,
        );
    }
  }
  return snap.some((f) => f.error) ? ExitCode.HarnessFailure : ExitCode.Compliant;
}
