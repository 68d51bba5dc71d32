// The SVG timeline of the benchmark report.
import type { Sample } from "../lib/load";

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
    const fill = (s: Sample) =>
        s.status >= 200 && s.status < 300 ? (s.color === "green" ? "#2e9e44" : "#2f6fdb") : "#d62728";
    const dots = samples
        .map((s) =>
            el("circle", {
                cx: x(s.atMs).toFixed(1),
                cy: y(s.latencyMs).toFixed(1),
                r: "1.6",
                fill: fill(s),
                "fill-opacity": "0.6",
            }),
        )
        .join("");
    const ticks = [1, 10, 100, 1000, 10000].filter((v) => v <= maxLatency * 1.5);
    const yAxis = ticks
        .map(
            (v) =>
                el("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#ddd" }) +
                el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, `${v} ms`),
        )
        .join("");
    const seconds = Math.floor((t1 - t0) / 1000);
    const xAxis = Array.from({ length: seconds + 1 }, (_, i) => i)
        .filter((i) => seconds <= 20 || i % 5 === 0)
        .map((i) =>
            el(
                "text",
                { x: x(t0 + i * 1000), y: height - bottom + 16, "text-anchor": "middle", "font-size": 11 },
                `${i}s`,
            ),
        )
        .join("");
    const markLines = marks
        .map((m, i) => {
            const at = x(m.atMs);
            const line = { x1: at, x2: at, y1: top, y2: height - bottom, stroke: "#555", "stroke-dasharray": "4 3" };
            return el("line", line) + el("text", { x: at + 3, y: top + 12 + (i % 2) * 12, "font-size": 11 }, m.label);
        })
        .join("");
    const legend = (
        [
            [10, "#2f6fdb", "blue 2xx"],
            [90, "#2e9e44", "green 2xx"],
            [180, "#d62728", "no 2xx / closed"],
        ] as const
    )
        .map(
            ([dx, color, label]) =>
                el("circle", { cx: left + dx, cy: 18, r: 4, fill: color }) +
                el("text", { x: left + dx + 8, y: 22, "font-size": 12 }, label),
        )
        .join("");
    const middle = (top + height - bottom) / 2;
    const svg = {
        xmlns: "http://www.w3.org/2000/svg",
        width,
        height,
        viewBox: `0 0 ${width} ${height}`,
        "font-family": "sans-serif",
    };
    const heading = { x: width / 2, y: 14, "text-anchor": "middle", "font-size": 13, "font-weight": "bold" };
    const yLabel = {
        x: 14,
        y: middle,
        "font-size": 11,
        transform: `rotate(-90 14 ${middle})`,
        "text-anchor": "middle",
    };
    return (
        el(
            "svg",
            svg,
            el("rect", { width: "100%", height: "100%", fill: "white" }) +
                el("text", heading, title) +
                legend +
                yAxis +
                xAxis +
                markLines +
                dots +
                el("text", yLabel, "latency (log)"),
        ) + "\n"
    );
}

/** One SVG element, its attributes in the order given. */
function el(name: string, attrs: Readonly<Record<string, string | number>>, content?: string): string {
    const list = Object.entries(attrs)
        .map(([key, value]) => ` ${key}="${value}"`)
        .join("");
    return content === undefined ? `<${name}${list}/>` : `<${name}${list}>${content}</${name}>`;
}
