// The throughput cost of no-reload mode's metrics (its log_by_lua line) and of canary selection, at
// full rate. Each variant is the config the stack renders (no-reload mode, default settings, one
// worker) in an nginx of its own, all in front of one trivial backend nginx (both pools on it), so
// that nginx's own work is what differs; wrk in interleaved rounds. The baseline is that config
// without the metrics line: no-reload mode as it was before metrics.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { shutdownTimeoutSeconds } from "../../../components/config";
import { COMMON_KEYS } from "../../../components/configKeys";
import { type NginxConfigInput, renderNginxConfig } from "../../../components/nginxConfig";
import { render } from "../../../components/templates";
import { freePorts, getJson } from "../../lib/localStack";
import { createNginxPrefix, startNginx, stopNginx } from "../../lib/nginxPrefix";
import { type WrkRun, say, sleep, wrk } from "../common";

export const VARIANTS = ["baseline", "metrics", "canaryNew", "canaryReturning"] as const;
export type Variant = (typeof VARIANTS)[number];

export interface MetricsCanaryResult {
    /** conf/canary of the canary variants. */
    readonly canary: string;
    /** Length of each wrk run. */
    readonly seconds: number;
    /** Each variant's wrk runs; the i-th of every variant ran in the same round. Empty without wrk. */
    readonly runs: Record<Variant, WrkRun[]>;
    /**
     * CPU time of the measured nginx's worker per request (µs, user + system, from /proc), run by run:
     * what a variant costs nginx itself, whatever wrk and the backend take from the shared cores.
     * Absent from results older than it.
     */
    readonly cpuMicrosPerRequest?: Record<Variant, number[]>;
}

/** CPU time (clock ticks, user + system) of the workers of the nginx whose prefix is `prefix`. */
function workerTicks(prefix: string): number {
    const master = fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim();
    let ticks = 0;
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        let stat: string;
        try {
            stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        } catch {
            continue; // gone meanwhile
        }
        // "pid (comm) state ppid ... utime stime ...": fields 4, 14 and 15, counted after the ")".
        const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
        if (fields[1] === master) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The line that counts each public request by colour; the baseline is the config without it. */
const METRICS_LINE = /^[ \t]*log_by_lua_block \{ require\("bluegreen_metrics"\)\.record\(\) \}\n/gm;
const CANARY = "green 10";
const SECONDS = 1;

interface Server {
    readonly variant: Variant;
    readonly prefix: string;
    readonly url: string;
    readonly internal: string;
    /** What wrk sends on every request: a returning client's cookie, or nothing. */
    headers: string[];
}

/** Two loopback ports nobody listens on (freePorts' public and internal ones, without app hosts). */
async function twoPorts(): Promise<[number, number]> {
    const { publicPort, internalPort } = await freePorts(0);
    return [publicPort, internalPort];
}

async function startBackend(prefixes: string[]): Promise<number> {
    const prefix = createNginxPrefix("bench-metrics-canary-backend");
    prefixes.push(prefix);
    const [port] = await twoPorts();
    fs.writeFileSync(
        path.join(prefix, "conf", "nginx.conf"),
        render("bench/trivial-backend-nginx.conf.hbs", { prefix, port, cpuAffinity: "10" }),
    );
    startNginx(prefix);
    return port;
}

/** The config as the stack renders it with the default settings, one worker, both pools on the backend. */
function configInput(backendPort: number, publicPort: number, internalPort: number): NginxConfigInput {
    const host = { address: "127.0.0.1", port: backendPort };
    return {
        prefix: "/PREFIX",
        switchMode: "no-reload",
        liveColor: "blue",
        pools: { blue: [host], green: [host] },
        publicAddress: "127.0.0.1",
        publicPort,
        internalAddress: "127.0.0.1",
        internalPort,
        workerShutdownTimeoutSeconds: shutdownTimeoutSeconds({
            drainTimeoutSeconds: COMMON_KEYS.drainTimeoutSeconds.default ?? 30,
        }),
        // One worker, as in the mechanism section: the 2 cores are shared with the backend and wrk.
        workerProcesses: 1,
        privatePaths: COMMON_KEYS.privatePaths.default,
        clientConnectionLimit: COMMON_KEYS.clientConnectionLimit.default,
        clientRequestRate: COMMON_KEYS.clientRequestRate.default,
    };
}

async function startVariant(variant: Variant, backendPort: number, prefixes: string[]): Promise<Server> {
    const prefix = createNginxPrefix(`bench-metrics-canary-${variant}`);
    prefixes.push(prefix);
    const [publicPort, internalPort] = await twoPorts();
    let text = renderNginxConfig(configInput(backendPort, publicPort, internalPort)).text;
    if (variant === "baseline") {
        const lines = text.match(METRICS_LINE)?.length ?? 0;
        // Without this check a changed template would make the baseline the metrics variant, silently.
        if (lines !== 1) throw new Error(`the rendered config has ${lines} metrics lines (log_by_lua_block), not 1`);
        text = text.replace(METRICS_LINE, "");
    }
    // The nginx measured has the first core to itself (the backend and wrk share the other): what it
    // costs is then its own, not what the scheduler did to it.
    text = text.replace(/^worker_processes 1;$/m, "worker_processes 1;\nworker_cpu_affinity 01;");
    const conf = path.join(prefix, "conf");
    fs.writeFileSync(path.join(conf, "nginx.conf"), text.replaceAll("/PREFIX", prefix));
    // What nginx-switch.sh writes before it starts nginx; nginx reads them when it starts.
    fs.writeFileSync(path.join(conf, "live-color"), "blue\n");
    fs.writeFileSync(path.join(conf, "control-token"), `${randomBytes(24).toString("hex")}\n`);
    fs.writeFileSync(path.join(conf, "canary-key"), `${randomBytes(24).toString("hex")}\n`);
    fs.writeFileSync(path.join(conf, "canary"), `${variant.startsWith("canary") ? CANARY : "off"}\n`);
    startNginx(prefix);
    return {
        variant,
        prefix,
        url: `http://127.0.0.1:${publicPort}/`,
        internal: `http://127.0.0.1:${internalPort}`,
        headers: [],
    };
}

/**
 * Makes sure each nginx does what its variant says, before its throughput is believed: the colour,
 * the cookie (new clients get one, returning ones do not), metrics counted or not. A returning
 * client gets an id of the canary's side from nginx itself.
 */
async function check(s: Server): Promise<void> {
    const fail = (what: string) => {
        throw new Error(`metrics and canary bench, ${s.variant}: ${what}`);
    };
    if (s.variant === "canaryReturning") {
        const { status, body } = await getJson<unknown>(`${s.internal}/bluegreen/canary-client?side=canary`);
        // getJson parses what looks like JSON: an id of digits only would come back a number.
        const id = String(body).trim();
        if (status !== 200 || !/^[0-9a-f]{32}$/.test(id)) fail(`no canary client id (${status} ${id})`);
        s.headers = [`Cookie: bluegreen_client=${id}`];
    }
    const headers: Record<string, string> = {};
    for (const h of s.headers) headers[h.slice(0, h.indexOf(":"))] = h.slice(h.indexOf(":") + 1).trim();
    const answer = await getJson<unknown>(s.url, headers);
    const color = String(answer.headers["x-deploy-color"]);
    const setsCookie = (answer.headers["set-cookie"] ?? []).some((c) => c.startsWith("bluegreen_client="));
    if (answer.status !== 200 || String(answer.body).trim() !== "ok") fail(`answered ${answer.status}`);
    // A new client of the canary is drawn: either colour.
    const colors = { baseline: ["blue"], metrics: ["blue"], canaryNew: ["blue", "green"], canaryReturning: ["green"] };
    if (!colors[s.variant].includes(color)) fail(`served by ${color}`);
    if (setsCookie !== (s.variant === "canaryNew")) fail(`Set-Cookie ${setsCookie ? "sent" : "not sent"}`);
    const metrics = String((await getJson<unknown>(`${s.internal}/metrics`)).body);
    const counted = /^bluegreen_requests_total\{/m.test(metrics);
    if (counted !== (s.variant !== "baseline")) fail(`requests ${counted ? "" : "not "}counted in /metrics`);
}

/** Stops every nginx started here and removes its prefix once it has quit. */
async function stopAll(prefixes: readonly string[]): Promise<void> {
    const pids = prefixes.map((prefix) => {
        try {
            return Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8"));
        } catch {
            return undefined; // never started
        }
    });
    prefixes.forEach(stopNginx);
    const running = (pid: number | undefined) => {
        try {
            return pid !== undefined && process.kill(pid, 0);
        } catch {
            return false;
        }
    };
    for (let waited = 0; waited < 5000 && pids.some(running); waited += 100) await sleep(100);
    for (const prefix of prefixes) fs.rmSync(prefix, { recursive: true, force: true });
}

export async function metricsCanary(rounds: number): Promise<MetricsCanaryResult> {
    say(`metrics and canary at full rate: no-reload mode without metrics, with them, with a canary (${CANARY})`);
    const prefixes: string[] = [];
    try {
        const backendPort = await startBackend(prefixes);
        const servers: Server[] = [];
        for (const variant of VARIANTS) servers.push(await startVariant(variant, backendPort, prefixes));
        await sleep(300);
        for (const s of servers) await check(s);
        const runs: Record<Variant, WrkRun[]> = { baseline: [], metrics: [], canaryNew: [], canaryReturning: [] };
        const cpu: Record<Variant, number[]> = { baseline: [], metrics: [], canaryNew: [], canaryReturning: [] };
        // Not counted: the first requests load the Lua modules and open the upstream connections.
        const warmed = servers.map((s) => wrk(s.url, 1, 32, s.headers, 1));
        if (warmed.every((w) => w === undefined))
            return { canary: CANARY, seconds: SECONDS, runs, cpuMicrosPerRequest: cpu };
        for (let r = 0; r < rounds; r++) {
            // Each round starts with the next variant: none always takes the same place in a round.
            const order = servers.map((_, i) => servers[(i + r) % servers.length]);
            for (const s of order) {
                // The access log (every request, as the product writes it) is emptied between runs: the
                // disk never fills and each run writes to a file of the same size.
                fs.truncateSync(path.join(s.prefix, "logs", "access.log"));
                const ticks = workerTicks(s.prefix);
                const w = wrk(s.url, SECONDS, 32, s.headers, 1);
                // A run missing would pair the rest of a variant's runs with other rounds.
                if (!w) throw new Error(`metrics and canary bench: wrk failed against ${s.variant} (${s.url})`);
                runs[s.variant].push(w);
                const micros = ((workerTicks(s.prefix) - ticks) * 1e6) / TICKS_PER_SECOND;
                cpu[s.variant].push(micros / (w.requests ?? w.rps * SECONDS));
            }
            const round = VARIANTS.map(
                (v) => `${v} ${Math.round(runs[v][r].rps)} (${cpu[v][r].toFixed(1)} µs CPU/request)`,
            ).join(", ");
            say(`  round ${r + 1}/${rounds}: req/s ${round}`);
        }
        return { canary: CANARY, seconds: SECONDS, runs, cpuMicrosPerRequest: cpu };
    } finally {
        await stopAll(prefixes);
    }
}
