// The baselines' setup: plain app processes behind a stock nginx, with no gate and no switch of
// this project's, as users run it before adopting one.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { getJson } from "../lib/localStack";
import { createNginxPrefix, startNginx, stopNginx } from "../lib/nginxPrefix";
import { REPO_ROOT } from "../lib/pulumi";
import { render } from "../../components/templates";
import { sleep } from "./common";

export interface Baseline {
    readonly prefix: string;
    readonly port: number;
    /** App pid by port. */
    readonly pids: Map<number, number>;
}

/** Starts the compiled reference app on `port`, detached; returns its pid. */
export function startApp(port: number, color: string, version: string): number {
    const child = spawn("node", ["server.js"], {
        cwd: path.join(REPO_ROOT, "bin", "app"),
        env: { ...process.env, PORT: String(port), POOL_COLOR: color, APP_VERSION: version, WARMUP_MS: "300" },
        stdio: "ignore",
        detached: true,
    });
    child.unref();
    return child.pid as number;
}

export async function waitHealthy(port: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
        try {
            if ((await getJson(`http://127.0.0.1:${port}/health`)).status === 200) return;
        } catch {
            /* not up yet */
        }
        await sleep(50);
    }
    throw new Error(`app on ${port} never became healthy`);
}

/**
 * Apps on `ports` (by colour) behind nginx. `article`: the source article's setup, its live pool
 * chosen by conf/active-pool.conf, which its deploy script rewrites.
 */
export async function startBaseline(
    name: string,
    article: boolean,
    ports: Record<string, number[]>,
): Promise<Baseline> {
    const prefix = createNginxPrefix(`bench-${name}`);
    const port = 30000 + Math.floor(Math.random() * 900);
    const pools = Object.entries(ports).map(([color, p]) => ({ color, ports: p }));
    fs.writeFileSync(
        path.join(prefix, "conf", "nginx.conf"),
        render("bench/baseline-nginx.conf.hbs", { name, prefix, port, pools, article }),
    );
    fs.writeFileSync(
        path.join(prefix, "conf", "active-pool.conf"),
        "map $host $active_pool { default app_blue; }\nmap $host $active_color { default blue; }\n",
    );
    const pids = new Map<number, number>();
    for (const [color, p] of Object.entries(ports))
        for (const appPort of p) pids.set(appPort, startApp(appPort, color, "1.0.0"));
    await Promise.all([...pids.keys()].map(waitHealthy));
    startNginx(prefix);
    await sleep(300);
    return { prefix, port, pids };
}

/** Stops, by pid, the apps and the nginx of a baseline. */
export function stopBaseline(b: Baseline): void {
    for (const pid of b.pids.values()) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            /* gone */
        }
    }
    stopNginx(b.prefix);
}
