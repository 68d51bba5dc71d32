// A throwaway local-target stack: the real program, real nginx and real app processes on free
// loopback ports, state in a temp dir. Disposing destroys the stack and then stops, by pid
// file, any process a failed destroy may have left.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { PROGRAM_FILES, REPO_ROOT, TestStack, createTestStack } from "./pulumi";
import { localAppPort } from "../../components/targets/local/config";

export const TEST_DRAIN_TOKEN = "test-drain-token-0123456789";

export interface LocalStack extends TestStack {
    readonly publicUrl: string;
    readonly internalUrl: string;
    readonly stateDir: string;
    /** Port of host `index` (1-based) of a pool. */
    hostPort(color: "blue" | "green", index: number): number;
    /** GET /status of one app process, straight to its port. */
    appStatus(color: "blue" | "green", index: number): Promise<AppStatus>;
}

export interface AppStatus {
    readonly pid: number;
    readonly version: string;
    readonly color: string;
    readonly status: string;
    readonly workCompleted: number;
    /** GET / requests it answered. */
    readonly getRequests: number;
}

function portIsFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/**
 * A base port under which every app port of the local target (localAppPort) is free, plus two
 * more free ports. Below
 * Linux's ephemeral range (32768+), so outgoing connections cannot take them meanwhile.
 */
export async function freePorts(
    hostsPerPool: number,
): Promise<{ base: number; publicPort: number; internalPort: number }> {
    for (let attempt = 0; attempt < 50; attempt++) {
        const base = 10000 + Math.floor(Math.random() * 220) * 100;
        const wanted = [base - 2, base - 1];
        for (let i = 1; i <= hostsPerPool; i++) {
            wanted.push(localAppPort(base, "blue", i), localAppPort(base, "green", i));
        }
        const free = await Promise.all(wanted.map(portIsFree));
        if (free.every(Boolean)) return { base, publicPort: base - 2, internalPort: base - 1 };
    }
    throw new Error("no free loopback ports found after 50 attempts");
}

/** A port the kernel just gave out on 127.0.0.1: free now (whoever binds it next says if it was taken since). */
export function ephemeralPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export function getJson<T>(
    url: string,
    headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: T }> {
    return new Promise((resolve, reject) => {
        http.get(url, { headers, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                let body: unknown = text;
                try {
                    body = JSON.parse(text);
                } catch {
                    /* not JSON: keep the text */
                }
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T });
            }).on("error", reject);
        }).on("error", reject);
    });
}

export function request(
    url: string,
    method: string,
    headers: Record<string, string> = {},
    body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
                resolve({
                    status: res.statusCode ?? 0,
                    headers: res.headers,
                    body: Buffer.concat(chunks).toString("utf8"),
                }),
            );
        });
        req.on("error", reject);
        req.end(body);
    });
}

/** Whether `pid` runs and belongs to the stack under `dir` (its working dir or command line is there). */
function belongsTo(pid: number, dir: string): boolean {
    try {
        return (
            fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir) ||
            fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)
        );
    } catch {
        return false; // gone
    }
}

/** Processes named by a *.pid file under `dir` (nginx and apps) that still run from there. */
export function runningFrom(dir: string): number[] {
    if (!fs.existsSync(dir)) return [];
    return (fs.readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[])
        .filter((file) => file.endsWith(".pid"))
        .map((file) => Number(fs.readFileSync(path.join(dir, file), "utf8").trim()))
        .filter((pid) => Number.isInteger(pid) && pid > 1 && belongsTo(pid, dir));
}

/** Stops, by pid, what `runningFrom(dir)` finds; returns the pids it had to stop. */
function stopLeftovers(dir: string): number[] {
    const stopped: number[] = [];
    for (const pid of runningFrom(dir)) {
        try {
            process.kill(pid, "SIGKILL");
            stopped.push(pid);
        } catch {
            /* already gone */
        }
    }
    return stopped;
}

/** Headers for asking an app directly: apps that check Host answer only for hostNames' primary. */
export function appHeadersFor(config: Record<string, string>): Record<string, string> {
    const [primaryName] = config.hostNames ? (JSON.parse(config.hostNames) as string[]) : [];
    return primaryName ? { Host: primaryName } : {};
}

/**
 * `sourceDir`: the project to copy, this one by default; the benchmark passes a checkout of an
 * earlier commit to measure before and after in one session (files it lacks are not copied).
 */
export async function createLocalStack(
    config: Record<string, string> = {},
    extraFiles: readonly string[] = [],
    sourceDir = REPO_ROOT,
): Promise<LocalStack> {
    const hostsPerPool = Math.max(2, Number(config.blueHosts ?? 2), Number(config.greenHosts ?? 2));
    const ports = await freePorts(hostsPerPool);
    const files = [...PROGRAM_FILES, ...extraFiles];
    const copy = sourceDir === REPO_ROOT ? files : files.filter((f) => fs.existsSync(path.join(sourceDir, f)));
    const base = await createTestStack({ sourceDir, copy });
    // The apps and nginx workers run as users of their own when the tests run as root: they must
    // pass through to stateDir (the backend beside it is 0700).
    fs.chmodSync(base.dir, 0o711);
    const stateDir = path.join(base.dir, "state");
    const settings: Record<string, string> = {
        activeColor: "blue",
        publicPort: String(ports.publicPort),
        internalPort: String(ports.internalPort),
        appBasePort: String(ports.base),
        stateDir,
        gateTimeoutSeconds: "10",
        healthIntervalMs: "100",
        drainTimeoutSeconds: "10",
        ...config,
    };
    for (const [key, value] of Object.entries(settings)) await base.stack.setConfig(key, { value });
    // On standard input, as npm start does: the Automation API's setConfig puts the value on
    // pulumi's command line, where any local user (and the security test's poller) reads it.
    const set = spawnSync("pulumi", ["config", "set", "--secret", "drainToken", "--stack", base.stack.name], {
        cwd: path.join(base.dir, "project"),
        env: { ...process.env, ...base.env },
        input: TEST_DRAIN_TOKEN,
        encoding: "utf8",
    });
    if (set.status !== 0) throw new Error(`pulumi config set --secret drainToken failed: ${set.stderr}`);

    const hostPort = (color: "blue" | "green", index: number) => localAppPort(ports.base, color, index);
    const appHeaders = appHeadersFor(config);
    return {
        ...base,
        publicUrl: `http://127.0.0.1:${ports.publicPort}`,
        internalUrl: `http://127.0.0.1:${ports.internalPort}`,
        stateDir,
        hostPort,
        async appStatus(color, index) {
            const res = await getJson<AppStatus>(`http://127.0.0.1:${hostPort(color, index)}/status`, appHeaders);
            return res.body;
        },
        async dispose() {
            let destroyed = false;
            let leftovers: number[] = [];
            try {
                await base.stack.destroy({ onOutput: () => undefined });
                destroyed = true;
            } finally {
                leftovers = stopLeftovers(stateDir);
                fs.rmSync(base.dir, { recursive: true, force: true });
            }
            // Deleting the pools and the router must stop every process they started.
            if (destroyed && leftovers.length > 0)
                throw new Error(
                    `pulumi destroy left ${leftovers.length} process(es) running ` +
                        `(pids ${leftovers.join(", ")}); they were killed now`,
                );
        },
    };
}
