/** `driftless lab up | down | status | deploy` */
import { type Parsed, str } from './parsed.ts';
import { connectEngine } from '../probes/docker.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import { labDeploy } from '../lab/deploy.ts';
import { formatStatus, labDown, labStatus, labUp } from '../lab/lab.ts';
import { makePlan, portBaseFrom } from '../lab/lab-plan.ts';

const log = (line: string) => process.stdout.write(line + '\n');

export async function labCommand(p: Parsed): Promise<number> {
  const positionals = p.positionals;
  const portBase = portBaseFrom(str(p, 'port-base') ?? process.env.DRIFTLESS_LAB_PORT_BASE);
  switch (positionals[0]) {
    case 'up': {
      const r = await labUp({ portBase, log });
      const docker = await connectEngine();
      log(formatStatus(await labStatus(docker, r.plan)));
      log(`lab up in ${r.seconds.toFixed(1)} s; state in ${r.plan.dir}; cattle entrypoint http://127.0.0.1:${r.plan.lbs[0]!.port}`);
      return ExitCode.Compliant;
    }
    case 'down': {
      const docker = await connectEngine();
      const removed = await labDown(docker, makePlan(portBase), log);
      if (removed.length === 0) log('the lab was already down');
      return ExitCode.Compliant;
    }
    case 'deploy': {
      await labDeploy({ portBase, log });
      return ExitCode.Compliant;
    }
    case 'status': {
      const docker = await connectEngine();
      log(formatStatus(await labStatus(docker, makePlan(portBase))));
      return ExitCode.Compliant;
    }
    default:
      throw new UsageError(`lab needs a subcommand: up, down, status or deploy (got "${positionals[0] ?? ''}")`);
  }
}
