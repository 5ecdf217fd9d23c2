/** `driftless manifest <image | rootfs dir> -o manifest.json [--paths a,b] [--excludes c,d]` */
import fs from 'node:fs';
import path from 'node:path';
import { type Parsed, str } from './parsed.ts';
import { connectEngine } from '../probes/docker.ts';
import { errorMessage, ExitCode, UsageError } from '../core/errors.ts';
import { type Manifest, MANIFEST_DEFAULTS, manifestDigest, manifestOfDirectory, manifestOfImage, normalizeScope } from '../probes/manifest.ts';

const USAGE = 'usage: driftless manifest <image | rootfs dir> -o manifest.json [--paths /etc,/usr/bin,...] [--excludes /etc/hostname,...]';

const list = (s: string | undefined, dflt: readonly string[]): string[] =>
  s === undefined
    ? [...dflt]
    : s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);

/** A path-looking argument, or anything that exists on disk, is a directory; the rest names an image. */
function looksLikeDirectory(arg: string): boolean {
  return arg.startsWith('/') || arg.startsWith('./') || arg.startsWith('../') || arg === '.' || arg === '..' || fs.existsSync(arg);
}

export async function manifestCommand(p: Parsed): Promise<number> {
  const positionals = p.positionals;
  const values = { output: str(p, 'output'), paths: str(p, 'paths'), excludes: str(p, 'excludes') };
  const target = positionals[0]!;
  const out = values.output;
  if (!out) throw new UsageError(`manifest needs an output file: -o manifest.json; ${USAGE}`);
  const outDir = path.dirname(path.resolve(out));
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) throw new UsageError(`cannot write ${out}: no such directory ${outDir}`);
  const paths = list(values.paths, MANIFEST_DEFAULTS.paths);
  const excludes = list(values.excludes, MANIFEST_DEFAULTS.excludes);
  normalizeScope(paths, excludes); // bad --paths fail before any work

  let manifest: Manifest;
  if (looksLikeDirectory(target)) {
    manifest = await manifestOfDirectory(target, paths, excludes);
  } else {
    manifest = await manifestOfImage(await connectEngine(), target, paths, excludes);
  }
  try {
    fs.writeFileSync(out, JSON.stringify(manifest, null, 2) + '\n');
  } catch (err) {
    throw new UsageError(`cannot write ${out}: ${errorMessage(err)}`);
  }
  process.stdout.write(`wrote ${out}: ${manifest.entries.length} entries, filesystem digest ${manifestDigest(manifest)}\n`);
  return ExitCode.Compliant;
}
