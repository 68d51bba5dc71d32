// Load around an action, with the apps' own counters: what the integration suites measure
// for every switch, rollback and deploy. The suites assert on the result themselves.
import * as assert from "node:assert/strict";
import type { AppStatus } from "../../scripts/lib/localStack";
import { Load, LoadResult, summarize } from "../../scripts/lib/load";
import { recordOutcome } from "../../scripts/lib/reliability";

type Color = "blue" | "green";

export interface Measured {
    readonly result: LoadResult;
    /** POSTs the apps completed meanwhile (by their own counters, summed over processes); 0 without `appStatus`. */
    readonly postsProcessed: number;
    /** When the load started (Date.now()): a result's atMs counts from here. */
    readonly startedAt: number;
}

export interface MeasureOptions {
    readonly url: string;
    /** Printed with the summary line. */
    readonly name: string;
    readonly hostsPerPool: number;
    /** The apps' counters; leave out where apps are killed on purpose (their counts die with them). */
    readonly appStatus?: (color: Color, index: number) => Promise<AppStatus>;
    /** Headers every request carries (the Host of a stack with hostNames). */
    readonly headers?: Readonly<Record<string, string>>;
    /** Over HTTPS: the certificate to trust. */
    readonly ca?: string;
    /** The summary line's suffix, computed from the result. */
    readonly note?: (result: LoadResult, startedAt: number) => string;
}

/** Completed-POST counters of every app process running now, keyed by pid. */
async function workCompleted(opts: MeasureOptions): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    if (!opts.appStatus) return counts;
    for (const color of ["blue", "green"] as Color[]) {
        for (let i = 1; i <= opts.hostsPerPool; i++) {
            const s = await opts.appStatus(color, i);
            counts.set(s.pid, s.workCompleted);
        }
    }
    return counts;
}

/**
 * Runs `action` with a paced load (at least 300 req/s) running 700 ms before, during and 700 ms after
 * it; checks every request is accounted for and enough were sent.
 */
export async function measureUnderLoad(opts: MeasureOptions, action: () => Promise<void>): Promise<Measured> {
    const before = await workCompleted(opts);
    // Paced a little above the 300 req/s every scenario must carry, asserted below.
    const load = new Load({ url: opts.url, rate: 320, maxSeconds: 120, headers: opts.headers, ca: opts.ca }).start();
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, 700));
    try {
        await action();
    } finally {
        await new Promise((r) => setTimeout(r, 700));
    }
    const result = await load.stop();
    let postsProcessed = 0;
    for (const [pid, count] of await workCompleted(opts)) postsProcessed += count - (before.get(pid) ?? 0);
    console.log(`      ${summarize(opts.name, result)}${opts.note?.(result, startedAt) ?? ""}`);
    assert.equal(
        result.sent,
        result.ok + result.failures.length + result.closedOnReuse,
        "every request is accounted for",
    );
    assert.ok(result.sent >= 300, `at least 300 requests were sent (sent ${result.sent})`);
    assert.ok(
        result.sendRate >= 300,
        `the load ran at 300 req/s or more (it sent ${result.sendRate.toFixed(0)} req/s)`,
    );
    return { result, postsProcessed, startedAt };
}

/**
 * Nothing lost: every request nginx accepted got a complete 2xx, and every POST ran once and was
 * answered once; then the row for docs/reliability.md. A reload's closed idle connections count apart.
 */
export function assertNothingLost(
    run: Measured,
    row: { area: string; fault: string; expected: string; target?: string },
): void {
    assert.deepEqual(run.result.failures, [], "every request nginx accepted got a complete 2xx");
    assert.equal(run.postsProcessed, run.result.postOk, "every POST processed once and answered once");
    recordOutcome({
        ...row,
        observed:
            `${run.result.ok} complete 2xx, ${run.result.failures.length} failed, ` +
            `${run.result.closedOnReuse} closed on reuse by a reload`,
        sent: run.result.sent,
        lost: run.result.failures.length,
    });
}
