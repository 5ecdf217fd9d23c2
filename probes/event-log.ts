/**
 * A recorded log of the Docker engine's events (one JSON object a line, as the engine's API and
 * `docker events --format '{{json .}}'` give them; lab/images/infra/event-recorder.py writes one).
 * The engine keeps only its last 256 events in memory; a log recorded continuously since before a
 * container was created still holds that container's whole history. The recorder writes a marker
 * {"driftless": "recorder-start"} each time it starts, and a heartbeat {"driftless": "heartbeat",
 * "interval": 5} every `interval` seconds while its stream is open. A marker after the creation, or
 * a stretch of more than twice the interval without a heartbeat (a recorder stopped, frozen or
 * replaced by something that writes none), means the recording has a gap, so that history is not
 * complete; a log with no heartbeats at all (`docker events >> file`) proves nothing of the kind.
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import { errorMessage } from '../core/errors.ts';
import { type EngineEvent, tmpLabels, toEvent } from './docker.ts';
import { sleep } from './net.ts';

/** One container's event as kept from the log: its action's name and the slim event (not the raw line). */
interface LoggedEvent {
  sec: number;
  /** "exec_create" of "exec_create: sh -c …". */
  action: string;
  event: EngineEvent;
}

export interface ParsedLog {
  /** Bytes read so far: the log is append-only, so each look reads only what was added since. */
  offset: number;
  /** The file read (a log replaced under the same name is read again from its start). */
  ino: number;
  /** Holds the bytes of a character split across two reads. */
  decoder: StringDecoder;
  /** A last line without its newline yet (the recorder mid-write). */
  partial: string;
  /** The last whole line did not parse: torn if nothing follows it, corrupt if something does. */
  pendingBad: boolean;
  /** Seconds of each recorder start (marker lines), in file order. */
  starts: number[];
  /** Seconds of the first line of any kind: the log covers nothing before it. */
  firstSec?: number;
  byContainer: Map<string, LoggedEvent[]>;
  /** Unreadable lines with lines after them: the log was damaged, so it proves nothing. */
  badLines: number;
  /** Heartbeat lines seen. */
  heartbeats: number;
  /** The first and the latest beat (heartbeat or marker: the recorder was recording then). */
  firstBeat?: Beat;
  lastBeat?: Beat;
  /** Stretches between consecutive beats longer than twice the interval, in file order. */
  gaps: Array<{ from: number; to: number; interval: number }>;
  /** The latest time of any line: the log covers up to here. */
  lastSec?: number;
}

interface Beat {
  sec: number;
  /** The interval the recorder stated (markers of older recorders state none). */
  interval?: number;
}

/** The heartbeat interval assumed where a beat states none (event-recorder.py's). */
export const DEFAULT_HEARTBEAT_SECONDS = 5;

/** The log is read this many bytes at a time, never whole (a log of a busy engine grows past what one string can hold). */
export const CHUNK_BYTES = 1 << 20;

const cache = new Map<string, ParsedLog>();

const secondsOf = (e: Record<string, unknown>) => (e.timeNano ? Number(e.timeNano) / 1e9 : Number(e.time ?? 0));

const emptyLog = (ino: number): ParsedLog => ({
  offset: 0,
  ino,
  decoder: new StringDecoder('utf8'),
  partial: '',
  pendingBad: false,
  starts: [],
  byContainer: new Map(),
  badLines: 0,
  heartbeats: 0,
  gaps: [],
});

/** A beat: the recorder was alive and its stream open at `sec`. */
function addBeat(log: ParsedLog, beat: Beat): void {
  const prev = log.lastBeat;
  if (prev) {
    const interval = beat.interval ?? prev.interval ?? DEFAULT_HEARTBEAT_SECONDS;
    if (beat.sec - prev.sec > 2 * interval) log.gaps.push({ from: prev.sec, to: beat.sec, interval });
  }
  log.firstBeat ??= beat;
  log.lastBeat = beat;
}

/** Reads `file` from `from` to its current end, `chunkBytes` at a time, handing each chunk's bytes to `onChunk`. */
function readChunks(file: string, from: number, chunkBytes: number, onChunk: (bytes: Buffer) => void): number {
  const fd = fs.openSync(file, 'r');
  try {
    const end = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(1, Math.min(chunkBytes, end - from)));
    let at = from;
    while (at < end) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - at), at);
      if (n <= 0) break;
      at += n;
      onChunk(buf.subarray(0, n));
    }
    return at;
  } finally {
    fs.closeSync(fd);
  }
}

function addLine(log: ParsedLog, line: string): void {
  if (!line.trim()) return;
  if (log.pendingBad) log.badLines++;
  log.pendingBad = false;
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    log.pendingBad = true; // a torn last line is skipped; one with lines after it is damage
    return;
  }
  const sec = secondsOf(e);
  log.firstSec ??= sec;
  log.lastSec = Math.max(log.lastSec ?? sec, sec);
  if (e.driftless !== undefined) {
    const interval = Number(e.interval) > 0 ? Number(e.interval) : undefined;
    if (e.driftless === 'recorder-start') log.starts.push(sec);
    if (e.driftless === 'heartbeat') log.heartbeats++;
    if (e.driftless === 'recorder-start' || e.driftless === 'heartbeat') addBeat(log, { sec, ...(interval ? { interval } : {}) });
    return;
  }
  const id = String(e.id ?? (e.Actor as { ID?: string } | undefined)?.ID ?? '');
  if (!id) return;
  const list = log.byContainer.get(id) ?? [];
  list.push({ sec, action: String(e.Action ?? e.status ?? '').split(':')[0]!, event: toEvent(e) });
  log.byContainer.set(id, list);
}

/** Brings `log` up to the file's current end, line by line, a chunk at a time. */
function readMore(log: ParsedLog, file: string, chunkBytes: number): void {
  log.offset = readChunks(file, log.offset, chunkBytes, (bytes) => {
    const text = log.decoder.write(bytes);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      addLine(log, log.partial + text.slice(start, nl));
      log.partial = '';
      start = nl + 1;
    }
    log.partial += text.slice(start);
  });
}

/** The whole log parsed afresh, `chunkBytes` at a time (the cache-free reader, for tests). */
export function parseEventLog(file: string, chunkBytes = CHUNK_BYTES): ParsedLog {
  const log = emptyLog(fs.statSync(file).ino);
  readMore(log, file, chunkBytes);
  return log;
}

/**
 * The log as parsed so far, brought up to date by reading only the bytes appended since the last
 * look (a fleet of a thousand hosts must not re-read a growing log once per host).
 */
function parse(file: string): ParsedLog {
  const st = fs.statSync(file);
  let log = cache.get(file);
  if (!log || st.size < log.offset || st.ino !== log.ino) {
    // first look, or the file was truncated or replaced: from the start
    log = emptyLog(st.ino);
    cache.set(file, log);
  }
  readMore(log, file, CHUNK_BYTES);
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
  const events = mine.filter((e) => actions.includes(e.action)).map((e) => e.event);
  const created = mine.some((e) => e.event.action === 'create');
  if (log.badLines) {
    return { complete: false, why: `the recorded log ${file} has ${log.badLines} unreadable lines among its records: a damaged log proves nothing`, events };
  }
  if (!created) {
    const from = log.firstSec !== undefined ? `it starts at ${iso(log.firstSec)}` : 'it is empty';
    return {
      complete: false,
      why: `the recorded log ${file} does not hold the container's creation (${from}): start the recorder before the hosts are created`,
      events,
    };
  }
  const restart = log.starts.find((s) => s > createdSec + 1);
  if (restart !== undefined) {
    return {
      complete: false,
      why: `the event recorder restarted at ${iso(restart)}, after the container was created: events while it was down may be missing`,
      events,
    };
  }
  if (!log.heartbeats) {
    return {
      complete: false,
      why:
        `the recorded log ${file} has no heartbeats, so nothing shows it was recorded without a gap ` +
        '(a plain `docker events >> file` writes none, and does not replay what it missed while it was down): ' +
        `record it with lab/images/infra/event-recorder.py <file> [socket] under a service manager, which writes a heartbeat every ${DEFAULT_HEARTBEAT_SECONDS} s`,
      events,
    };
  }
  const gap = heartbeatGap(log, createdSec);
  if (gap) {
    return {
      complete: false,
      why:
        `the recorded log ${file} has no heartbeat from ${iso(gap.from)} to ${iso(gap.to)} (${Math.round(gap.to - gap.from)} s, more than twice its ${gap.interval} s interval), ` +
        'after the container was created: events in that time may be missing (was its recorder stopped or frozen?)',
      events,
    };
  }
  return { complete: true, events };
}

const iso = (sec: number) => new Date(sec * 1000).toISOString();

/**
 * The first stretch without a beat that reaches past the creation: between two beats, from the
 * creation to the first beat (none before it), or from the last beat to the log's end.
 */
function heartbeatGap(log: ParsedLog, createdSec: number): { from: number; to: number; interval: number } | undefined {
  const first = log.firstBeat!;
  const last = log.lastBeat!;
  const head = first.interval ?? DEFAULT_HEARTBEAT_SECONDS;
  if (first.sec - createdSec > 2 * head) return { from: createdSec, to: first.sec, interval: head };
  const between = log.gaps.find((g) => g.to > createdSec);
  if (between) return between;
  const tail = last.interval ?? DEFAULT_HEARTBEAT_SECONDS;
  const end = log.lastSec ?? last.sec;
  if (end - last.sec > 2 * tail) return { from: last.sec, to: end, interval: tail };
  return undefined;
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
      Labels: tmpLabels((await docker.getImage(image).inspect()).Config?.Labels, 'event-log-check'),
      HostConfig: { NetworkMode: 'none' },
    });
    id = c.id;
    await c.remove({ force: true });
  } catch (err) {
    return { ok: false, why: `could not check that the event log ${file} is being recorded: ${errorMessage(err)}` };
  }
  const t0 = Date.now();
  // Only the bytes appended since the last look are scanned, with the end of the previous look
  // kept so that an id split across two reads is still found (ids are ASCII: latin1 is exact).
  let tail = '';
  let found = false;
  for (;;) {
    try {
      offset = readChunks(file, offset, CHUNK_BYTES, (bytes) => {
        const text = tail + bytes.toString('latin1');
        found ||= text.includes(id);
        tail = text.slice(-(id.length - 1));
      });
      if (found) return { ok: true };
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
