/**
 * The chaos timeline as a standalone SVG (no dependency): requests/s and errors/s per 100 ms
 * bucket, healthy capacity as a step line, a vertical marker per kill, axes, legend and title.
 * All times are on the load recording's clock (ms since its start).
 */
import { type Bucket, BUCKET_MS } from '../../probes/http-load.ts';

export interface TimelineChartInput {
  title: string;
  buckets: Bucket[];
  /** Healthy (running) hosts over time, drawn as a step line on the right axis. */
  healthy?: Array<{ t: number; healthy: number }>;
  /** Desired capacity, drawn as a faint line on the right axis. */
  desired?: number;
  kills?: Array<{ t: number; host: string }>;
  /** Other moments worth a marker (abort, recovered), drawn like kills in another colour. */
  marks?: Array<{ t: number; label: string }>;
  subtitle?: string;
  width?: number;
  height?: number;
}

const COLORS = {
  sent: '#1f6feb',
  errors: '#d1242f',
  healthy: '#1a7f37',
  desired: '#8c959f',
  kill: '#9a3412',
  mark: '#6f42c1',
  grid: '#e6e8eb',
  axis: '#57606a',
};

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A "nice" step (1, 2, 5 × 10^n) giving about `target` ticks over [0, max]. */
export function niceStep(max: number, target = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

const n1 = (x: number) => (Math.round(x * 10) / 10).toString();
const fmtNum = (x: number) => (Math.abs(x) >= 1000 ? `${n1(x / 1000)}k` : n1(x));

export function renderTimelineSvg(input: TimelineChartInput): string {
  const W = input.width ?? 960;
  const H = input.height ?? 440;
  const m = { left: 64, right: 64, top: input.subtitle ? 64 : 48, bottom: 84 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const buckets = [...input.buckets].sort((a, b) => a.t - b.t);
  const healthy = [...(input.healthy ?? [])].sort((a, b) => a.t - b.t);
  const kills = input.kills ?? [];
  const marks = input.marks ?? [];
  const perSec = 1000 / BUCKET_MS;

  const endMs = Math.max(BUCKET_MS, ...buckets.map((b) => b.t + BUCKET_MS), ...healthy.map((h) => h.t), ...kills.map((k) => k.t), ...marks.map((k) => k.t));
  const xStep = niceStep(endMs / 1000, 10);
  const xMax = Math.ceil(endMs / 1000 / xStep) * xStep;
  const rateMax = Math.max(1, ...buckets.map((b) => b.sent * perSec));
  const yStep = niceStep(rateMax * 1.15, 5);
  const yMax = Math.ceil((rateMax * 1.15) / yStep) * yStep; // headroom: the rate line stays off the frame
  const hostMax = Math.max(1, input.desired ?? 0, ...healthy.map((h) => h.healthy)) + 1;

  const x = (ms: number) => m.left + (ms / 1000 / xMax) * pw;
  const y = (rate: number) => m.top + ph - (rate / yMax) * ph;
  const yh = (hosts: number) => m.top + ph - (hosts / hostMax) * ph;
  const pt = (px: number, py: number) => `${n1(px)},${n1(py)}`;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<title>${escapeXml(input.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600" fill="#24292f">${escapeXml(input.title)}</text>`,
  );
  if (input.subtitle) out.push(`<text x="${W / 2}" y="44" text-anchor="middle" fill="${COLORS.axis}">${escapeXml(input.subtitle)}</text>`);

  // Grid and axes.
  out.push('<g class="grid">');
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(`<line x1="${m.left}" y1="${n1(y(v))}" x2="${m.left + pw}" y2="${n1(y(v))}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${m.left - 6}" y="${n1(y(v) + 4)}" text-anchor="end" fill="${COLORS.axis}">${fmtNum(v)}</text>`);
  }
  for (let s = 0; s <= xMax + 1e-9; s += xStep) {
    out.push(`<line x1="${n1(x(s * 1000))}" y1="${m.top}" x2="${n1(x(s * 1000))}" y2="${m.top + ph}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${n1(x(s * 1000))}" y="${m.top + ph + 16}" text-anchor="middle" fill="${COLORS.axis}">${n1(s)}</text>`);
  }
  const hStep = Math.max(1, niceStep(hostMax, 5));
  for (let v = 0; v <= hostMax; v += hStep) {
    out.push(`<text x="${m.left + pw + 6}" y="${n1(yh(v) + 4)}" fill="${COLORS.healthy}">${v}</text>`);
  }
  out.push('</g>');
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="${COLORS.axis}"/>`,
    `<text x="${m.left + pw / 2}" y="${m.top + ph + 34}" text-anchor="middle" fill="${COLORS.axis}">time since load start (s)</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="${COLORS.axis}">requests per second</text>`,
    `<text transform="translate(${W - 14} ${m.top + ph / 2}) rotate(90)" text-anchor="middle" fill="${COLORS.healthy}">healthy hosts</text>`,
  );

  // Series (each bucket's value drawn at the bucket's middle).
  const mid = (b: Bucket) => x(b.t + BUCKET_MS / 2);
  if (buckets.length) {
    out.push(
      `<polyline class="sent" fill="none" stroke="${COLORS.sent}" stroke-width="1.5" points="${buckets.map((b) => pt(mid(b), y(b.sent * perSec))).join(' ')}"/>`,
    );
    out.push(
      `<polyline class="errors" fill="none" stroke="${COLORS.errors}" stroke-width="1.5" points="${buckets.map((b) => pt(mid(b), y(b.errors * perSec))).join(' ')}"/>`,
    );
  }
  if (input.desired !== undefined) {
    out.push(
      `<line class="desired" x1="${m.left}" y1="${n1(yh(input.desired))}" x2="${m.left + pw}" y2="${n1(yh(input.desired))}" stroke="${COLORS.desired}" stroke-dasharray="2 4"/>`,
    );
  }
  if (healthy.length) {
    const pts: string[] = [];
    healthy.forEach((h, i) => {
      if (i > 0) pts.push(pt(x(h.t), yh(healthy[i - 1]!.healthy)));
      pts.push(pt(x(h.t), yh(h.healthy)));
    });
    pts.push(pt(x(xMax * 1000), yh(healthy[healthy.length - 1]!.healthy)));
    out.push(`<polyline class="healthy" fill="none" stroke="${COLORS.healthy}" stroke-width="2" points="${pts.join(' ')}"/>`);
  }

  // Kill and other markers.
  const marker = (t: number, label: string, color: string, cls: string, row: number) => {
    const px = n1(x(t));
    out.push(
      `<g class="${cls}"><line x1="${px}" y1="${m.top}" x2="${px}" y2="${m.top + ph}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3"/>` +
        `<text x="${n1(x(t) + 4)}" y="${m.top + 14 + row * 14}" fill="${color}">${escapeXml(label)}</text></g>`,
    );
  };
  kills.forEach((k, i) => marker(k.t, `kill ${k.host}`, COLORS.kill, 'kill', i % 4));
  marks.forEach((k, i) => marker(k.t, k.label, COLORS.mark, 'mark', (kills.length + i) % 4));

  // Legend.
  const items: Array<[string, string, string]> = [
    ['requests/s', COLORS.sent, ''],
    ['errors/s', COLORS.errors, ''],
    ['healthy hosts (right axis)', COLORS.healthy, ''],
    ['kill', COLORS.kill, '5 3'],
  ];
  if (input.desired !== undefined) items.push(['desired capacity', COLORS.desired, '2 4']);
  let lx = m.left;
  const ly = H - 22;
  out.push('<g class="legend">');
  for (const [label, color, dash] of items) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${ly + 4}" fill="#24292f">${escapeXml(label)}</text>`);
    lx += 28 + label.length * 7 + 24;
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The buckets as JSON, for the report's raw data attachment next to the chart. */
export function bucketsJson(buckets: Bucket[] | { buckets: Bucket[] }, extra: Record<string, unknown> = {}): string {
  const list = Array.isArray(buckets) ? buckets : buckets.buckets;
  return JSON.stringify({ bucketMs: BUCKET_MS, ...extra, buckets: list }, null, 2) + '\n';
}
