/**
 * Finds this machine's own Debian mirror in its apt sources, so the lab's base image is built
 * from wherever this machine already gets its packages (never a hard-coded host).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LabError } from '../core/errors.ts';

export interface AptSource {
  uri: string;
  suites: string[];
  file: string;
}

/** Parses both one-line (`deb URI suite comps`) and deb822 (`URIs:` / `Suites:`) sources. */
export function parseAptSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  if (/^\s*(Types|URIs)\s*:/im.test(text)) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'im'))?.[1]?.trim();
      const types = field('Types') ?? '';
      const enabled = (field('Enabled') ?? 'yes').toLowerCase() !== 'no';
      const uris = field('URIs');
      if (!enabled || !uris || !types.split(/\s+/).includes('deb')) continue;
      const suites = (field('Suites') ?? '').split(/\s+/).filter(Boolean);
      for (const uri of uris.split(/\s+/)) out.push({ uri, suites, file });
    }
    return out;
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
    if (m) out.push({ uri: m[1]!, suites: [m[2]!], file });
  }
  return out;
}

/** The first source that carries the suite itself (not -updates or -security). */
export function findMirror(suite = 'bookworm', etc = '/etc/apt'): string {
  const files: string[] = [];
  if (fs.existsSync(path.join(etc, 'sources.list'))) files.push(path.join(etc, 'sources.list'));
  const dir = path.join(etc, 'sources.list.d');
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) if (/\.(list|sources)$/.test(f)) files.push(path.join(dir, f));
  }
  for (const file of files) {
    for (const s of parseAptSources(fs.readFileSync(file, 'utf8'), file)) {
      if (s.suites.includes(suite) && /^https?:\/\//.test(s.uri)) return s.uri;
    }
  }
  throw new LabError(
    `no apt source for Debian "${suite}" in ${etc}/sources.list or ${etc}/sources.list.d: ` +
      `the lab builds its base image from this machine's own mirror; add one, or make debian:bookworm-slim pullable`,
  );
}
