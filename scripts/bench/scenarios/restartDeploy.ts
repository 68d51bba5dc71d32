// 4a. Baseline: a restart deploy behind nginx (stop both processes, start the new version on the
// same ports), under the paced load.
import { Load, LoadResult } from "../../lib/load";
import { startApp, startBaseline, stopBaseline, waitHealthy } from "../baseline";
import { say, sleep } from "../common";

export interface RestartDeployRun {
    readonly sent: number;
    /** Failures and closed connections alike: for a client both are lost requests. */
    readonly failed: number;
    readonly outageSeconds: number;
    readonly restartMs: number;
}

/** From the first request that got no 2xx to the last. */
function outage(result: LoadResult): number {
    const bad = result.samples.filter((s) => !(s.status >= 200 && s.status < 300));
    if (bad.length === 0) return 0;
    return (Math.max(...bad.map((s) => s.atMs)) - Math.min(...bad.map((s) => s.atMs))) / 1000;
}

export async function restartDeploy(runs: number): Promise<RestartDeployRun[]> {
    say("baseline: restart deploy behind nginx");
    const rows: RestartDeployRun[] = [];
    for (let i = 0; i < runs; i++) {
        const base = 31000 + i * 10; // below the ephemeral range (32768+)
        const b = await startBaseline("restart", false, { blue: [base + 1, base + 2] });
        try {
            const load = new Load({
                url: `http://127.0.0.1:${b.port}`,
                rate: 300,
                record: true,
                maxSeconds: 60,
            }).start();
            await sleep(1000);
            const t0 = Date.now();
            // Stop both processes, start the new version on the same ports.
            for (const [port, pid] of b.pids) {
                process.kill(pid, "SIGTERM");
                b.pids.delete(port);
            }
            await sleep(200);
            for (const port of [base + 1, base + 2]) b.pids.set(port, startApp(port, "blue", "1.1.0"));
            await Promise.all([base + 1, base + 2].map(waitHealthy));
            const restartMs = Date.now() - t0;
            await sleep(12_000); // past nginx's default fail_timeout (10 s)
            const r = await load.stop();
            rows.push({
                sent: r.sent,
                failed: r.failures.length + r.closedOnReuse,
                outageSeconds: outage(r),
                restartMs,
            });
        } finally {
            stopBaseline(b);
        }
    }
    return rows;
}
