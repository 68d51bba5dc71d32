// 1. Switches under a paced load, each mode, with the timeline of the first; 2c. nginx's overhead
// against direct-to-app on the same stack.
import * as fs from "node:fs";
import * as path from "node:path";
import { Load, Sample } from "../../lib/load";
import { createLocalStack } from "../../lib/localStack";
import { percentile } from "../../lib/stats";
import { DOCS, Mode, Quantiles, WrkRun, say, sleep, wrkRuns } from "../common";
import { timelineSvg } from "../timeline";

export interface WindowStats extends Quantiles {
    readonly requests: number;
}

export interface SwitchRow extends Quantiles {
    readonly upMs: number;
    /** From `pulumi up` starting to the first 2xx from the new colour. */
    readonly firstNewColorMs: number;
    readonly failed: number;
    readonly closedOnReuse: number;
}

export interface SwitchUnderLoadResult {
    readonly mode: Mode;
    readonly totals: {
        readonly sent: number;
        readonly ok: number;
        readonly failed: number;
        readonly closedOnReuse: number;
    };
    readonly steady: WindowStats;
    readonly switches: readonly SwitchRow[];
    readonly overhead: {
        readonly wrkDirect: readonly WrkRun[];
        readonly wrkNginx: readonly WrkRun[];
        /** Interleaved 4 s rounds at 300 req/s, direct to one app and through nginx. */
        readonly paced300: { readonly direct: readonly Quantiles[]; readonly nginx: readonly Quantiles[] };
    };
}

/** Latency of the 2xx among the requests started between fromMs and toMs. */
function windowStats(samples: readonly Sample[], fromMs: number, toMs: number): WindowStats {
    const inside = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
    const ok = inside.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.latencyMs);
    return { requests: inside.length, p50: percentile(ok, 0.5), p99: percentile(ok, 0.99) };
}

export async function switchUnderLoad(mode: Mode, switches: number): Promise<SwitchUnderLoadResult> {
    say(`switch under load, ${mode} mode: stack up`);
    const stack = await createLocalStack({ switchMode: mode });
    try {
        await stack.stack.up({ onOutput: () => undefined });
        const loadStartedAt = Date.now();
        const load = new Load({ url: stack.publicUrl, rate: 300, record: true, maxSeconds: 300 }).start();
        await sleep(5000);
        const steadyEnd = Date.now() - loadStartedAt;
        const perSwitch: { startAt: number; endAt: number; upMs: number }[] = [];
        let color: "blue" | "green" = "blue";
        for (let i = 0; i < switches; i++) {
            color = color === "blue" ? "green" : "blue";
            await stack.stack.setConfig("activeColor", { value: color });
            const t0 = Date.now();
            await stack.stack.up({ onOutput: () => undefined });
            const t1 = Date.now();
            perSwitch.push({ startAt: t0, endAt: t1, upMs: t1 - t0 });
            await sleep(1500);
        }
        const result = await load.stop();
        const base = result.startedAt;
        const steady = windowStats(result.samples, 0, steadyEnd);
        const rows = perSwitch.map((s, i): SwitchRow => {
            const from = s.startAt - base;
            const to = s.endAt - base + 500;
            const newColor = i % 2 === 0 ? "green" : "blue";
            const firstNew = result.samples
                .filter((x) => x.atMs >= from && x.color === newColor && x.status >= 200 && x.status < 300)
                .reduce((min, x) => Math.min(min, x.atMs + x.latencyMs), Infinity);
            const inWindow = result.samples.filter((x) => x.atMs >= from && x.atMs <= to);
            const w = windowStats(result.samples, from, to);
            return {
                upMs: s.upMs,
                firstNewColorMs: firstNew - from,
                failed: inWindow.filter((x) => !(x.status >= 200 && x.status < 300) && !x.closedOnReuse).length,
                closedOnReuse: inWindow.filter((x) => x.closedOnReuse).length,
                p50: w.p50,
                p99: w.p99,
            };
        });
        // The chart: the first switch, from 2 s before to 3 s after.
        const first = perSwitch[0];
        const chartFrom = first.startAt - base - 2000;
        const chartTo = first.endAt - base + 3000;
        fs.writeFileSync(
            path.join(DOCS, `switch-timeline-${mode}.svg`),
            timelineSvg(
                `${mode} mode: every request across a switch blue → green (300 req/s)`,
                result.samples.filter((x) => x.atMs >= chartFrom && x.atMs <= chartTo),
                [
                    { atMs: first.startAt - base, label: "pulumi up starts" },
                    { atMs: first.endAt - base, label: "pulumi up ends" },
                ],
            ),
        );
        // nginx overhead: full rate, direct to one app vs through nginx.
        say(`nginx overhead, ${mode} mode (wrk)`);
        const directUrl = `http://127.0.0.1:${stack.hostPort(color, 1)}`;
        const direct = wrkRuns(`${directUrl}/`, 3);
        const viaNginx = wrkRuns(`${stack.publicUrl}/`, 3);
        // Latency at the load used by the tests: 300 req/s paced, direct vs through nginx, in
        // interleaved rounds so that the machine's noise falls on both alike.
        const paced = { direct: [] as Quantiles[], nginx: [] as Quantiles[] };
        for (let round = 0; round < 3; round++) {
            for (const [route, url] of [
                ["direct", directUrl],
                ["nginx", stack.publicUrl],
            ] as const) {
                const load = new Load({ url, rate: 300, maxSeconds: 4 }).start();
                await sleep(4000);
                const measured = await load.stop();
                paced[route].push({
                    p50: percentile(measured.latenciesMs, 0.5),
                    p99: percentile(measured.latenciesMs, 0.99),
                });
            }
        }
        return {
            mode,
            totals: {
                sent: result.sent,
                ok: result.ok,
                failed: result.failures.length,
                closedOnReuse: result.closedOnReuse,
            },
            steady,
            switches: rows,
            overhead: {
                wrkDirect: direct,
                wrkNginx: viaNginx,
                paced300: paced,
            },
        };
    } finally {
        await stack.dispose();
    }
}
