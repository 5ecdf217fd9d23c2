/**
 * release.file: the build pipeline's record of what it shipped (the lab writes one on `lab up`).
 * Its services are schema-checked like inline ones and merged under them; inline entries win.
 */
import path from 'node:path';
import type { Release, ReleaseService } from '../core/config.ts';
import type { Ctx } from './context.ts';
import { ConfigError, problem } from './errors.ts';
import { translateErrors } from './messages.ts';
import { parseText, readFileBytes } from './parse.ts';
import { resolveLocal, unreadableFile } from './paths.ts';
import { validators } from './schema.ts';

interface ReleaseFile {
  release?: string;
  name?: string;
  source?: string;
  services: Record<string, ReleaseService>;
}

/** A service's files (golden manifest, attestation) are relative to the file that names them. */
function withManifestsResolved(services: Record<string, ReleaseService>, dir: string, home: string): Record<string, ReleaseService> {
  return Object.fromEntries(
    Object.entries(services).map(([name, s]) => [
      name,
      {
        ...s,
        ...(s.manifest ? { manifest: resolveLocal(s.manifest, dir, home) } : {}),
        ...(s.attestation ? { attestation: resolveLocal(s.attestation, dir, home) } : {}),
      },
    ]),
  );
}

/** Reads release.file; returns undefined (with problems recorded) when it cannot be used. */
function readReleaseFile(written: string, ctx: Ctx): { abs: string; data: ReleaseFile } | undefined {
  const abs = resolveLocal(written, ctx.baseDir, ctx.home);
  const unreadable = unreadableFile('release file', written, abs);
  if (unreadable) {
    ctx.problems.push(problem(ctx.display, '/release/file', unreadable));
    return undefined;
  }
  try {
    // Problems inside the release file are reported against it, as the config names it.
    const data = parseText(readFileBytes(abs, written).toString('utf8'), written);
    const validate = validators().releaseFile;
    if (data === null || data === undefined) {
      ctx.problems.push(problem(written, '', 'the release file is empty: it must have `services: { <name>: { digest: ... } }`'));
      return undefined;
    }
    if (!validate(data)) {
      ctx.problems.push(...translateErrors(written, validate.errors ?? []));
      return undefined;
    }
    return { abs, data: data as ReleaseFile };
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.problems.push(...err.problems);
      return undefined;
    }
    throw err;
  }
}

/** The release with the file merged in and manifests absolute; `complete` is false if the file failed. */
export function mergeRelease(release: Release, ctx: Ctx): { release: Release; complete: boolean } {
  const inline = withManifestsResolved(release.services, ctx.baseDir, ctx.home);
  if (!release.file) return { release: { ...release, services: inline }, complete: true };
  const loaded = readReleaseFile(release.file, ctx);
  const file = resolveLocal(release.file, ctx.baseDir, ctx.home);
  if (!loaded) return { release: { ...release, file, services: inline }, complete: false };
  const fromFile = withManifestsResolved(loaded.data.services, path.dirname(loaded.abs), ctx.home);
  const name = release.name ?? loaded.data.name ?? loaded.data.release;
  const source = release.source ?? loaded.data.source;
  return {
    release: { ...(name ? { name } : {}), file, ...(source ? { source } : {}), services: { ...fromFile, ...inline } },
    complete: true,
  };
}
