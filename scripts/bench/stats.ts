// Small statistics and the SVG timeline for the benchmark report.
import type { Sample } from "../../test/support/load";

export function median(values: readonly number[]): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: readonly number[], q: number): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** "median (min–max)" of repeated runs, with a unit. */
export function spread(values: readonly number[], unit = "", digits = 1): string {
    if (values.length === 0) return "n/a";
    const f = (v: number) => v.toFixed(digits);
    return `${f(median(values))}${unit} (${f(Math.min(...values))}–${f(Math.max(...values))}, n=${values.length})`;
}

export interface TimelineMark {
    readonly atMs: number;
    readonly label: string;
}

/**
 * Latency of every request over time across a switch: one dot per request, coloured by the
 * pool that answered (red for no 2xx), log-scaled latency axis, vertical marks for events.
 */
export function timelineSvg(title: string, samples: readonly Sample[], marks: readonly TimelineMark[]): string {
    const width = 900;
    const height = 320;
    const left = 60;
    const right = 20;
    const top = 36;
    const bottom = 40;
    const t0 = Math.min(...samples.map((s) => s.atMs), ...marks.map((m) => m.atMs));
    const t1 = Math.max(...samples.map((s) => s.atMs), ...marks.map((m) => m.atMs));
    const x = (t: number) => left + ((t - t0) / Math.max(1, t1 - t0)) * (width - left - right);
    const maxLatency = Math.max(10, ...samples.map((s) => s.latencyMs));
    const logMax = Math.log10(maxLatency + 1);
    const y = (ms: number) => height - bottom - (Math.log10(ms + 1) / logMax) * (height - top - bottom);
    const fill = (s: Sample) => (s.status >= 200 && s.status < 300 ? (s.color === "green" ? "#2e9e44" : "#2f6fdb") : "#d62728");
    const dots = samples
        .map((s) => `<circle cx="${x(s.atMs).toFixed(1)}" cy="${y(s.latencyMs).toFixed(1)}" r="1.6" fill="${fill(s)}" fill-opacity="0.6"/>`)
        .join("");
    const ticks = [1, 10, 100, 1000, 10000].filter((v) => v <= maxLatency * 1.5);
    const yAxis = ticks
        .map((v) => `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v} ms</text>`)
        .join("");
    const seconds = Math.floor((t1 - t0) / 1000);
    const xAxis = Array.from({ length: seconds + 1 }, (_, i) => i)
        .filter((i) => seconds <= 20 || i % 5 === 0)
        .map((i) => `<text x="${x(t0 + i * 1000)}" y="${height - bottom + 16}" text-anchor="middle" font-size="11">${i}s</text>`)
        .join("");
    const markLines = marks
        .map((m, i) => `<line x1="${x(m.atMs)}" x2="${x(m.atMs)}" y1="${top}" y2="${height - bottom}" stroke="#555" stroke-dasharray="4 3"/><text x="${x(m.atMs) + 3}" y="${top + 12 + (i % 2) * 12}" font-size="11">${m.label}</text>`)
        .join("");
    const legend =
        `<circle cx="${left + 10}" cy="18" r="4" fill="#2f6fdb"/><text x="${left + 18}" y="22" font-size="12">blue 2xx</text>` +
        `<circle cx="${left + 90}" cy="18" r="4" fill="#2e9e44"/><text x="${left + 98}" y="22" font-size="12">green 2xx</text>` +
        `<circle cx="${left + 180}" cy="18" r="4" fill="#d62728"/><text x="${left + 188}" y="22" font-size="12">no 2xx / closed</text>`;
    return (
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">` +
        `<rect width="100%" height="100%" fill="white"/>` +
        `<text x="${width / 2}" y="14" text-anchor="middle" font-size="13" font-weight="bold">${title}</text>` +
        legend + yAxis + xAxis + markLines + dots +
        `<text x="14" y="${(top + height - bottom) / 2}" font-size="11" transform="rotate(-90 14 ${(top + height - bottom) / 2})" text-anchor="middle">latency (log)</text>` +
        `</svg>\n`
    );
}
