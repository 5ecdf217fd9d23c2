/** The image-integrity suite: every host runs exactly the image its release declares, and nothing in it differs from that image. */
import { hostCount, owedFleets } from '../owed-fleets.ts';
import { hostUnit } from '../per-host.ts';
import { defineSuite } from '../suite.ts';
import type { HostImageAudit } from './image-gather.ts';
import { IMAGE_JUDGES } from './image-judges.ts';
import { planImages } from './image-plan.ts';

export const imageIntegritySuite = defineSuite({
  name: 'image-integrity',
  plan: planImages,
  async gather(run): Promise<HostImageAudit[]> {
    const fleets = await owedFleets(run, () => true);
    const t0 = Date.now();
    run.progress(`auditing the images of ${hostCount(fleets)} hosts, ${run.config.policy.ssh.concurrency} at a time`);
    // Processes are read only where DL-IMG-017 is owed (switched off, or not this shard's, it costs nothing).
    const { auditImages, processesOwed } = await import('./image-gather.ts'); // loaded on use: the plan never needs the probes
    const audits = await auditImages(
      fleets,
      run.config,
      (done, all, last) =>
        run.progress(`${done}/${all} hosts done (last: ${last.host}${last.manifest?.result ? `, ${last.manifest.result.driftCount} manifest drifts` : ''})`),
      processesOwed(run.owed),
    );
    run.progress(`audit finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return audits;
  },
  unitOf: hostUnit<HostImageAudit>('image audit'),
  judges: IMAGE_JUDGES,
});
