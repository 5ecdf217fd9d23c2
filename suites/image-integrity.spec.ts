/**
 * Image integrity — every host runs its declared image digest, unmodified.
 *
 * For every host: the image (Docker image id or AMI) is the one the release declares; nothing in
 * its filesystem differs from that image (the engine's diff, and the golden file manifest read
 * over SSH); its root filesystem is read-only; it was replaced, never restarted in place; nobody
 * got in out of band (docker exec). On EC2: the AMI exists and is available, and the instance was
 * launched after the release was deployed. The probing happens once per run (fixtures/image-audit.ts);
 * these tests read its results, attach the evidence and assert.
 */
import { checksFor, CONTROLS, declaredFor, type HostImageAudit, START_GRACE_MS } from '../fixtures/image-audit.ts';
import { labelCheck, probeError, violation } from '../fixtures/evidence.ts';
import { fleetSnapshot, runConfig } from '../fixtures/run-context.ts';
import { expect, test } from '../fixtures/test.ts';

const config = runConfig();
const EPIC = 'Image integrity';
const FEATURE = 'Image integrity';

function auditOf(audits: HostImageAudit[], host: string, fleet: string): HostImageAudit {
  const a = audits.find((x) => x.host === host && x.fleet === fleet);
  if (!a) throw new Error(`no image audit result for ${host} in fleet ${fleet}`);
  return a;
}

const list = (xs: string[], n = 20) => (xs.length > n ? `${xs.slice(0, n).join(', ')} … (${xs.length} in all)` : xs.join(', '));

for (const snap of fleetSnapshot()) {
  const target = config.targets.find((t) => t.name === snap.target)!;

  test.describe(`fleet ${snap.target}`, () => {
    if (snap.error) {
      test(`${CONTROLS.declaredImage} hosts of fleet ${snap.target} can be listed`, async ({ config }) => {
        await labelCheck({ epic: EPIC, feature: FEATURE, story: 'inventory', control: CONTROLS.declaredImage, fleet: snap.target, config });
        await probeError(`could not list the hosts of fleet ${snap.target}: ${snap.error}`);
      });
      return;
    }

    for (const host of snap.hosts) {
      const service = host.service ?? target.service;
      const checks = new Set(checksFor(snap.provider, declaredFor(config, service)));
      const label = (story: string, control: string) => ({ epic: EPIC, feature: FEATURE, story, control, host: host.id, fleet: snap.target, config } as const);

      test.describe(host.id, () => {
        if (checks.has(CONTROLS.declaredImage)) {
          test(`${CONTROLS.declaredImage} runs the image the release declares`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('declared image', CONTROLS.declaredImage), config, severity: 'blocker' });
            const a = auditOf(imageAudit, host.id, snap.target);
            const running = snap.provider === 'ec2' ? a.image.ami : a.image.id;
            await evidence.json('image', { host: host.id, service: a.service, running, ref: a.image.ref, repoDigests: a.image.repoDigests ?? [], declared: a.declared ?? null, release: config.release.name ?? null });
            if (!running) await probeError(`${host.id}: the provider did not say which ${snap.provider === 'ec2' ? 'AMI' : 'image'} it runs`);
            if (!a.declared) {
              await violation('undeclared-image');
              expect(a.declared, `image ${running} is not declared in the release (service ${a.service ?? '(none)'}); repo digests: ${list(a.image.repoDigests ?? []) || 'none'}`).toBeDefined();
              return;
            }
            if (snap.provider === 'ec2') {
              if (!a.declared.ami) await probeError(`the release declares no ami for service ${a.service}`);
              if (running !== a.declared.ami) await violation('wrong-image');
              expect(running, `${host.id} runs AMI ${running}, the release declares ${a.declared.ami} (service ${a.service})`).toBe(a.declared.ami);
            } else {
              const want = a.declared.digest;
              if (!want) await probeError(`the release declares no digest for service ${a.service}`);
              // the release may name the image id or a registry (repo) digest of it
              const ok = running === want || (a.image.repoDigests ?? []).some((d) => d.endsWith(`@${want}`));
              if (!ok) await violation('wrong-image');
              expect(ok, `${host.id} runs image ${running} (${a.image.ref ?? 'no tag'}; repo digests: ${list(a.image.repoDigests ?? []) || 'none'}), the release declares ${want} for service ${a.service}`).toBe(true);
            }
          });
        }

        if (checks.has(CONTROLS.noFilesystemDrift)) {
          test(`${CONTROLS.noFilesystemDrift} no filesystem drift from the image`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('no filesystem drift', CONTROLS.noFilesystemDrift), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            if (!a.diff || a.diff.error) await probeError(a.diff?.error ?? `${host.id}: no filesystem diff was taken`);
            const d = a.diff!;
            await evidence.json('filesystem diff', { host: host.id, drift: d.drift, driftCount: d.driftCount, ignored: d.ignored, writablePaths: d.writablePaths });
            if (d.driftCount > 0) {
              await evidence.text('drift', d.drift.map((x) => `${x.kind.padEnd(8)} ${x.path}`).join('\n'));
              await violation('filesystem-drift');
            }
            expect(d.drift, `${host.id} differs from its image outside the writable paths (${d.writablePaths.join(', ')}): ${d.driftCount} entries: ${list(d.drift.map((x) => `${x.kind} ${x.path}`))}`).toEqual([]);
          });
        }

        if (checks.has(CONTROLS.readOnlyRoot)) {
          test(`${CONTROLS.readOnlyRoot} root filesystem is read-only`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('read-only root', CONTROLS.readOnlyRoot), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            if (!a.container || a.container.error) await probeError(a.container?.error ?? `${host.id}: not inspected`);
            await evidence.json('container', a.container);
            if (!a.container!.readonlyRootfs) await violation('writable-root');
            expect(a.container!.readonlyRootfs, `${host.id} runs with a writable root filesystem (HostConfig.ReadonlyRootfs is false)`).toBe(true);
          });
        }

        if (checks.has(CONTROLS.replacedNotRestarted)) {
          test(`${CONTROLS.replacedNotRestarted} replaced, not restarted in place`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('replaced, not restarted', CONTROLS.replacedNotRestarted), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            if (!a.container || a.container.error) await probeError(a.container?.error ?? `${host.id}: not inspected`);
            if (!a.events || a.events.error) await probeError(a.events?.error ?? `${host.id}: the engine's events were not read`);
            const c = a.container!;
            const ev = a.events!;
            const starts = ev.starts;
            // Every start moves StartedAt: a run that began well after creation is a later start.
            const startGapMs = Date.parse(c.startedAt ?? '') - Date.parse(c.created ?? '');
            await evidence.json('starts', { host: host.id, created: c.created, startedAt: c.startedAt, startGapMs, restartCount: c.restartCount, startEvents: starts, history: { since: ev.since, until: ev.until, complete: ev.complete } });
            const byEvents = ev.complete && starts.length > 1;
            const byStartTime = !ev.complete && startGapMs > START_GRACE_MS;
            const restarted = (c.restartCount ?? 0) > 0 || byEvents || byStartTime;
            if (restarted) await violation('restarted-in-place');
            expect(
              restarted,
              `${host.id} was restarted in place, not replaced: RestartCount ${c.restartCount}, ` +
                (ev.complete ? `${starts.length} start events since it was created at ${c.created} (${starts.map((s) => s.time).join(', ')})` : `its current run began at ${c.startedAt}, ${Math.round(startGapMs / 1000)} s after it was created at ${c.created}`),
            ).toBe(false);
          });
        }

        if (checks.has(CONTROLS.noOutOfBandAccess)) {
          test(`${CONTROLS.noOutOfBandAccess} no out-of-band access (docker exec)`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('no out-of-band access', CONTROLS.noOutOfBandAccess), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            if (!a.events || a.events.error) await probeError(a.events?.error ?? `${host.id}: the engine's events were not read`);
            const execs = a.events!.execs;
            await evidence.json('exec events', { host: host.id, history: { since: a.events!.since, until: a.events!.until, complete: a.events!.complete }, execs });
            const creates = execs.filter((e) => e.action.startsWith('exec_create'));
            const shown = (creates.length ? creates : execs).map((e) => `${e.time} ${e.command ?? e.action}${e.execId ? ` (exec ${e.execId.slice(0, 12)})` : ''}`);
            if (execs.length) {
              await evidence.text('exec commands', shown.join('\n'));
              await violation('out-of-band-access');
            }
            expect(execs.length, `${host.id} was entered out of band: ${creates.length || execs.length} docker exec since ${a.events!.since}: ${list(shown, 5)}`).toBe(0);
            if (!a.events!.complete) {
              await probeError(
                `the engine's event log no longer reaches back to the creation of ${host.id} (it keeps only its most recent events in memory): ` +
                  `that nobody ran docker exec in it cannot be proven (the oldest of its events the engine still holds is after its creation at ${a.events!.since}); record engine events continuously to close this gap`,
              );
            }
          });
        }

        if (checks.has(CONTROLS.goldenManifest)) {
          test(`${CONTROLS.goldenManifest} files match the golden manifest (over SSH)`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('golden manifest', CONTROLS.goldenManifest), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            if (!a.manifest || a.manifest.error || !a.manifest.result) await probeError(`${host.id}: the golden manifest could not be compared: ${a.manifest?.error ?? 'not taken'}`);
            const m = a.manifest!.result!;
            await evidence.json('manifest', {
              host: host.id,
              expected: { source: m.expectedSource, filesystemDigest: m.expectedDigest, comparedDigest: m.comparedExpectedDigest, entries: m.entries.expected },
              actual: { login: m.login, filesystemDigest: m.actualDigest, comparedDigest: m.comparedActualDigest, entries: m.entries.actual, durationMs: m.durationMs },
              driftCount: m.driftCount,
              added: m.added,
              removed: m.removed,
              changed: m.changed,
            });
            for (const d of m.textDiffs) await evidence.file(`diff ${d.path}`, d.diff, 'text/x-diff');
            if (m.couldNotRead.length) await evidence.json('could not read (compared on metadata only)', m.couldNotRead);
            const drift = [...m.added.map((p) => `added ${p}`), ...m.removed.map((p) => `removed ${p}`), ...m.changed.map((c) => `changed ${c.path} (${c.fields.join(', ')})`)];
            if (m.driftCount) {
              await evidence.text('drift', drift.join('\n'));
              await violation('manifest-drift');
            }
            expect(drift, `${host.id} differs from its golden manifest (${m.expectedSource}): ${m.driftCount} entries: ${list(drift)}`).toEqual([]);
          });
        }

        if (checks.has(CONTROLS.amiAvailable)) {
          test(`${CONTROLS.amiAvailable} AMI exists and is available`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('AMI available', CONTROLS.amiAvailable), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            if (!a.ami || a.ami.error || !a.ami.info) await probeError(a.ami?.error ?? `${host.id}: the AMI was not described`);
            const info = a.ami!.info!;
            await evidence.json('ami', info);
            const ok = info.exists && info.state === 'available';
            if (!ok) await violation('ami-unavailable');
            expect(ok, `${host.id} runs AMI ${info.imageId}, which ${info.exists ? `is ${info.state ?? 'in an unknown state'}` : `does not exist${info.reason ? ` (${info.reason})` : ''}`}`).toBe(true);
          });
        }

        if (checks.has(CONTROLS.launchedAfterDeploy)) {
          test(`${CONTROLS.launchedAfterDeploy} launched after the release was deployed`, async ({ imageAudit, config, evidence }) => {
            await labelCheck({ ...label('replaced on deploy', CONTROLS.launchedAfterDeploy), config });
            const a = auditOf(imageAudit, host.id, snap.target);
            await evidence.json('launch', { host: host.id, launchedAt: a.launchedAt ?? null, deployedAt: a.declared?.deployedAt ?? null, service: a.service });
            if (!a.declared) await probeError(`service ${a.service ?? '(none)'} is not declared in the release: no deploy time to compare with (see ${CONTROLS.declaredImage})`);
            if (!a.declared!.deployedAt) await probeError(`the release declares no deployedAt for service ${a.service}`);
            if (!a.launchedAt) await probeError(`EC2 did not report a launch time for ${host.id}`);
            const ok = Date.parse(a.launchedAt!) >= Date.parse(a.declared!.deployedAt!);
            if (!ok) await violation('not-replaced-on-deploy');
            expect(ok, `${host.id} was launched at ${a.launchedAt}, before the release was deployed at ${a.declared!.deployedAt}: not replaced on deploy`).toBe(true);
          });
        }
      });
    }
  });
}
