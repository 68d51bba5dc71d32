// What the scenarios share: the progress line, the operator's shell, wrk, and where results go.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { LocalStack, getJson } from "../lib/localStack";
import { REPO_ROOT } from "../lib/pulumi";

export const DOCS = path.join(REPO_ROOT, "docs");

export const MODES = ["no-reload", "reload"] as const;
export type Mode = (typeof MODES)[number];

export const started = Date.now();

export function say(message: string): void {
    console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OperatorRun {
    readonly ms: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a shell command line as an operator would, in the stack's project dir; returns wall ms and output. */
export function operator(stack: LocalStack, commandLine: string): OperatorRun {
    const begun = Date.now();
    const result = spawnSync("bash", ["-c", commandLine], {
        cwd: path.join(stack.dir, "project"),
        env: { ...process.env, ...stack.env },
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        timeout: 300_000,
    });
    if (result.status !== 0)
        throw new Error(`${commandLine} failed (${result.status}):\n${result.stdout}\n${result.stderr}`.slice(0, 4000));
    return { ms: Date.now() - begun, stdout: result.stdout, stderr: result.stderr };
}

export async function liveColor(stack: LocalStack): Promise<string> {
    return String((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"]);
}

export interface Quantiles {
    readonly p50: number;
    readonly p99: number;
}

export interface WrkRun extends Quantiles {
    readonly rps: number;
    /** Answers that were not 2xx or 3xx, and socket errors; absent from results older than it. */
    readonly failed?: number;
    /** Requests completed in the run; absent from results older than it. */
    readonly requests?: number;
}

/**
 * One wrk run at full rate, with `headers` ("Name: value") on every request; undefined when wrk is
 * not installed (the report says so).
 */
export function wrk(
    url: string,
    seconds = 4,
    connections = 32,
    headers: readonly string[] = [],
    cpu?: number,
): WrkRun | undefined {
    const headerArgs = headers.flatMap((h) => ["-H", h]);
    const args = [`-c${connections}`, `-d${seconds}s`, "--latency", ...headerArgs, url];
    // Pinned to one core (taskset): one thread; else two.
    const [file, all] =
        cpu === undefined ? ["wrk", ["-t2", ...args]] : ["taskset", ["-c", String(cpu), "wrk", "-t1", ...args]];
    const result = spawnSync(file, all, { encoding: "utf8" });
    if (result.status !== 0) return undefined;
    const unit = (v: string, u: string) => Number(v) * (u === "us" ? 0.001 : u === "s" ? 1000 : 1);
    const lat = (q: string) => {
        const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(result.stdout);
        return m ? unit(m[1], m[2]) : NaN;
    };
    // A throughput of error answers is no throughput: the caller sees how many there were.
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(result.stdout)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(result.stdout);
    const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
    return {
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(result.stdout)?.[1] ?? NaN),
        p50: lat("50"),
        p99: lat("99"),
        failed: non2xx + socketErrors,
        requests: Number(/^\s*(\d+) requests in/m.exec(result.stdout)?.[1] ?? NaN),
    };
}

/** wrk `runs` times in a row, keeping the runs that worked. */
export function wrkRuns(url: string, runs: number, seconds?: number): WrkRun[] {
    return Array.from({ length: runs }, () => wrk(url, seconds)).filter((run): run is WrkRun => run !== undefined);
}
