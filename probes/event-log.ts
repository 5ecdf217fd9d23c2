/**
 * A recorded log of the Docker engine's events (one JSON object a line, as the engine's API and
 * `docker events --format '{{json .}}'` give them; lab/images/infra/event-recorder.py writes one).
 * The engine keeps only its last 256 events in memory; a log recorded continuously since before a
 * container was created still holds that container's whole history. The recorder writes a marker
 * {"driftless": "recorder-start"} each time it starts: a marker after the creation means the
 * recording has a gap, so that history is not complete.
 */
import fs from 'node:fs';
import type Docker from 'dockerode';
import { errorMessage } from '../core/errors.ts';
import { type EngineEvent, TMP_LABEL, toEvent } from './docker.ts';
import { sleep } from './net.ts';

interface ParsedLog {
  /** Bytes read so far: the log is append-only, so each look reads only what was added since. */
  offset: number;
  /** A last line without its newline yet (the recorder mid-write). */
  partial: string;
  /** The last whole line did not parse: torn if nothing follows it, corrupt if something does. */
  pendingBad: boolean;
  /** Seconds of each recorder start (marker lines), in file order. */
  starts: number[];
  /** Seconds of the first line of any kind: the log covers nothing before it. */
  firstSec?: number;
  byContainer: Map<string, Array<{ sec: number; raw: Record<string, unknown> }>>;
  /** Unreadable lines with lines after them: the log was damaged, so it proves nothing. */
  badLines: number;
}

const cache = new Map<string, ParsedLog>();

const secondsOf = (e: Record<string, unknown>) => (e.timeNano ? Number(e.timeNano) / 1e9 : Number(e.time ?? 0));

/** The bytes of `file` from `offset` to its current end. */
function readFrom(file: string, offset: number): { text: string; end: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const end = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, end - offset));
    if (buf.length) fs.readSync(fd, buf, 0, buf.length, offset);
    return { text: buf.toString('utf8'), end };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The log as parsed so far, brought up to date by reading only the bytes appended since the last
 * look (a fleet of a thousand hosts must not re-read a growing log once per host).
 */
function parse(file: string): ParsedLog {
  let log = cache.get(file);
  if (!log || fs.statSync(file).size < log.offset) {
    // first look, or the file was truncated or replaced: from the start
    log = { offset: 0, partial: '', pendingBad: false, starts: [], byContainer: new Map(), badLines: 0 };
    cache.set(file, log);
  }
  const { text, end } = readFrom(file, log.offset);
  log.offset = end;
  const lines = (log.partial + text).split('\n');
  log.partial = lines.pop()!;
  for (const line of lines) {
    if (!line.trim()) continue;
    if (log.pendingBad) log.badLines++;
    log.pendingBad = false;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.pendingBad = true; // a torn last line is skipped; one with lines after it is damage
      continue;
    }
    const sec = secondsOf(e);
    log.firstSec ??= sec;
    if (e.driftless === 'recorder-start') {
      log.starts.push(sec);
      continue;
    }
    const id = String(e.id ?? (e.Actor as { ID?: string } | undefined)?.ID ?? '');
    if (!id) continue;
    const list = log.byContainer.get(id) ?? [];
    list.push({ sec, raw: e });
    log.byContainer.set(id, list);
  }
  return log;
}

export interface RecordedHistory {
  /** The log holds this container's history from its creation until the log's end, without a gap. */
  complete: boolean;
  /** Why not, in words an operator can act on. */
  why?: string;
  events: EngineEvent[];
}

/** One container's recorded events of the given actions ("exec_create" matches "exec_create: sh -c …"). */
export function recordedHistory(file: string, containerId: string, createdSec: number, actions: string[]): RecordedHistory {
  const log = parse(file);
  const mine = log.byContainer.get(containerId) ?? [];
  const events = mine.filter((e) => actions.some((a) => String(e.raw.Action ?? e.raw.status ?? '').split(':')[0] === a)).map((e) => toEvent(e.raw));
  const created = mine.some((e) => String(e.raw.Action ?? e.raw.status) === 'create');
  if (log.badLines) {
    return { complete: false, why: `the recorded log ${file} has ${log.badLines} unreadable lines among its records: a damaged log proves nothing`, events };
  }
  if (!created) {
    const from = log.firstSec !== undefined ? `it starts at ${new Date(log.firstSec * 1000).toISOString()}` : 'it is empty';
    return {
      complete: false,
      why: `the recorded log ${file} does not hold the container's creation (${from}): start the recorder before the hosts are created`,
      events,
    };
  }
  const gap = log.starts.find((s) => s > createdSec + 1);
  if (gap !== undefined) {
    return {
      complete: false,
      why: `the event recorder restarted at ${new Date(gap * 1000).toISOString()}, after the container was created: events while it was down may be missing`,
      events,
    };
  }
  return { complete: true, events };
}

/**
 * Is the log being written now? A throwaway container (created from an image the engine has,
 * never started, removed at once) must show up in it within a few seconds. A log whose recorder
 * died leaves no marker, so without this a stale log would read as a complete, quiet history.
 */
export async function recorderIsLive(docker: Docker, file: string, image: string, waitMs = 5000): Promise<{ ok: boolean; why?: string }> {
  let id: string;
  let offset: number;
  try {
    offset = fs.statSync(file).size; // only what is appended from now on can show the recorder alive
    const c = await docker.createContainer({
      Image: image,
      Cmd: ['true'],
      Labels: { [TMP_LABEL.key]: 'event-log-check' },
      HostConfig: { NetworkMode: 'none' },
    });
    id = c.id;
    await c.remove({ force: true });
  } catch (err) {
    return { ok: false, why: `could not check that the event log ${file} is being recorded: ${errorMessage(err)}` };
  }
  const t0 = Date.now();
  for (;;) {
    try {
      if (readFrom(file, offset).text.includes(id)) return { ok: true };
    } catch (err) {
      return { ok: false, why: `could not read the event log ${file}: ${errorMessage(err)}` };
    }
    if (Date.now() - t0 > waitMs) {
      return {
        ok: false,
        why: `the event log ${file} is not being recorded: a container created at ${new Date(t0).toISOString()} did not appear in it within ${waitMs / 1000} s (is its recorder running?)`,
      };
    }
    await sleep(100);
  }
}
