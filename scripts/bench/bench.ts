// `npm run bench`: the numbers behind the claims, measured on the local target in one session
// on this machine, only against loopback, in about 16 minutes. Writes
// docs/benchmarks.json (every measurement), docs/benchmarks.md (the report) and
// docs/switch-timeline-<mode>.svg (latency and status of every request across a switch).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Load, LoadResult, Sample } from "../lib/load";
import { LocalStack, createLocalStack, getJson } from "../lib/localStack";
import { loadScript, render, readTemplate } from "../../components/templates";
import { median, percentile, spread } from "../lib/stats";
import { timelineSvg } from "./timeline";

const DOCS = path.resolve(__dirname, "..", "..", "docs");
/** Where a full run keeps the sections it finished, until all are done. */
const PARTIAL = path.join(os.tmpdir(), "bluegreen-bench-partial.json");
const MODES = ["no-reload", "reload"] as const;
type Mode = (typeof MODES)[number];

const results: Record<string, unknown> = {
    machine: {
        cpus: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        date: new Date().toISOString(),
    },
};
const started = Date.now();

function say(message: string): void {
    console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a shell command line as an operator would, in the stack's project dir; returns wall ms and output. */
function operator(stack: LocalStack, commandLine: string): { ms: number; stdout: string; stderr: string } {
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

/** Starts an nginx with its own prefix (conf/nginx.conf, logs/) as the bench's baselines use. */
function startNginx(prefix: string): void {
    const conf = path.join(prefix, "conf", "nginx.conf");
    execFileSync("nginx", ["-p", `${prefix}/`, "-e", path.join(prefix, "logs", "error.log"), "-c", conf]);
}

async function liveColor(stack: LocalStack): Promise<string> {
    return String((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"]);
}

function windowStats(samples: readonly Sample[], fromMs: number, toMs: number) {
    const inside = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
    const ok = inside.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.latencyMs);
    return { requests: inside.length, p50: percentile(ok, 0.5), p99: percentile(ok, 0.99) };
}

function wrk(url: string, seconds = 4, connections = 32): { rps: number; p50: number; p99: number } | undefined {
    const result = spawnSync("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "--latency", url], {
        encoding: "utf8",
    });
    if (result.status !== 0) return undefined;
    const unit = (v: string, u: string) => Number(v) * (u === "us" ? 0.001 : u === "s" ? 1000 : 1);
    const lat = (q: string) => {
        const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(result.stdout);
        return m ? unit(m[1], m[2]) : NaN;
    };
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(result.stdout)?.[1] ?? NaN), p50: lat("50"), p99: lat("99") };
}

// ---------------------------------------------------------------------------------------------
// 1. Switch under load, each mode; 2c. nginx overhead against direct-to-app.
// ---------------------------------------------------------------------------------------------
async function switchUnderLoad(mode: Mode, switches: number) {
    say(`switch under load, ${mode} mode: stack up`);
    const stack = await createLocalStack({ switchMode: mode });
    try {
        await stack.stack.up({ onOutput: () => undefined });
        const loadStartedAt = Date.now();
        const load = new Load({ url: stack.publicUrl, rate: 300, record: true, maxSeconds: 300 }).start();
        await sleep(5000);
        const steadyEnd = Date.now() - loadStartedAt;
        const perSwitch: Record<string, number>[] = [];
        let color = "blue";
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
        const rows = perSwitch.map((s, i) => {
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
        const direct = [1, 2, 3]
            .map(() => wrk(`http://127.0.0.1:${stack.hostPort(color as "blue" | "green", 1)}/`))
            .filter(Boolean) as NonNullable<ReturnType<typeof wrk>>[];
        const viaNginx = [1, 2, 3].map(() => wrk(`${stack.publicUrl}/`)).filter(Boolean) as NonNullable<
            ReturnType<typeof wrk>
        >[];
        // Latency at the load used by the tests: 300 req/s paced, direct vs through nginx, in
        // interleaved rounds so that the machine's noise falls on both alike.
        const paced = { direct: [] as { p50: number; p99: number }[], nginx: [] as { p50: number; p99: number }[] };
        for (let round = 0; round < 3; round++) {
            for (const [route, url] of [
                ["direct", `http://127.0.0.1:${stack.hostPort(color as "blue" | "green", 1)}`],
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

// ---------------------------------------------------------------------------------------------
// 2. Rollback wall time, and 6. where the time goes.
// ---------------------------------------------------------------------------------------------
interface Phases {
    [phase: string]: number;
}

/** Splits one `pulumi up -v=9 --logtostderr` run into phases, from the engine's own log timestamps. */
function phasesOf(stderr: string, stdout: string, wallMs: number): Phases {
    const events: { t: number; msg: string }[] = [];
    for (const line of stderr.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
            const d = JSON.parse(line) as { time: string; msg: string };
            events.push({ t: Date.parse(d.time), msg: d.msg ?? "" });
        } catch {
            /* not a log line */
        }
    }
    const at = (re: RegExp, from = 0) => events.find((e) => e.t >= from && re.test(e.msg))?.t ?? NaN;
    const t0 = events[0]?.t ?? NaN;
    const previewStart = at(/\*\*\* Starting Update\(preview=true\)/);
    const updateStart = at(/\*\*\* Starting Update\(preview=false\)/);
    // Everything below happens in the update phase, after its start.
    const run = at(/langhost\[nodejs\]\.Run\(.*dryrun=false\) executing/, updateStart);
    const pluginLaunch = at(/Launching plugin 'command \(resource\)'/, run);
    const pluginReady = at(/GetPluginInfo\(\) success/, pluginLaunch);
    const gateStart = at(/Provider\[\w+\]\.Update\(gate-check\w*,.*\) executing/, updateStart);
    const gateEnd = at(/Provider\[\w+\]\.Update\(gate-check\w*,.*\) success/, gateStart);
    const routerStart = at(/Provider\[\w+\]\.Update\(router-nginx\w*,.*\) executing/, updateStart);
    const routerEnd = at(/Provider\[\w+\]\.Update\(router-nginx\w*,.*\) success/, routerStart);
    const end = at(/\*\*\* Update\(preview=false\) complete/, updateStart);
    const timing = /timing: config (\d+) ms .*live colour (\d+) ms, verify (\d+) ms/.exec(stdout);
    const phases: Phases = {
        "CLI start": (Number.isNaN(previewStart) ? updateStart : previewStart) - t0,
        "preview (program run + diff)": Number.isNaN(previewStart) ? 0 : updateStart - previewStart,
        "program start (Node.js, imports, config, previous state)": pluginLaunch - run,
        "command plugin start": pluginReady - pluginLaunch,
        "health gate": gateEnd - gateStart,
        "nginx config / reload": timing ? Number(timing[1]) : NaN,
        "live colour": timing ? Number(timing[2]) : NaN,
        verify: timing ? Number(timing[3]) : NaN,
    };
    const switchScript = routerEnd - routerStart;
    const known =
        phases["CLI start"] +
        phases["preview (program run + diff)"] +
        phases["program start (Node.js, imports, config, previous state)"] +
        phases["command plugin start"] +
        phases["health gate"] +
        switchScript;
    phases["engine (diffs, state writes) and exit"] = wallMs - known;
    phases["(update phase total)"] = end - updateStart;
    return phases;
}

/** A program to measure: this checkout, or an earlier commit checked out beside it. */
interface Program {
    readonly label: string;
    readonly dir: string;
}

/** Wall times of one program's rollback commands. */
interface RollbackTimes {
    readonly label: string;
    plain: number[];
    skipPlain: number[];
    withPreview: { times: number[]; phases: Phases[] };
    skipPreview: { times: number[]; phases: Phases[] };
    npmRollback: number[];
}

/** Every program's stack is measured in turn within each round, so they share the machine's noise. */
async function rollback(runs: number, programs: readonly Program[]) {
    say(`rollback wall time: ${programs.map((p) => p.label).join(" against ")}`);
    const stacks: LocalStack[] = [];
    try {
        for (const program of programs) {
            const stack = await createLocalStack({}, ["scripts/ops"], program.dir);
            stacks.push(stack);
            await stack.stack.up({ onOutput: () => undefined });
        }
        const colors = stacks.map(() => "blue");
        const flip = (i: number) => (colors[i] = colors[i] === "blue" ? "green" : "blue");
        const switchCommand = (i: number, extra: string) =>
            `pulumi config set activeColor ${flip(i)} && pulumi up --yes ${extra}`.trim();
        const times: RollbackTimes[] = programs.map((p) => ({
            label: p.label,
            plain: [],
            skipPlain: [],
            withPreview: { times: [], phases: [] },
            skipPreview: { times: [], phases: [] },
            npmRollback: [],
        }));
        const eachRound = (measure: (stack: LocalStack, i: number) => void) => {
            for (let round = 0; round < runs; round++) stacks.forEach((stack, i) => measure(stack, i));
        };
        // Warm-up (first run loads caches), not counted.
        stacks.forEach((stack, i) => operator(stack, switchCommand(i, "")));
        eachRound((stack, i) => times[i].plain.push(operator(stack, switchCommand(i, "")).ms));
        for (const [kind, extra] of [
            ["withPreview", ""],
            ["skipPreview", "--skip-preview"],
        ] as const) {
            eachRound((stack, i) => {
                const r = operator(stack, switchCommand(i, `${extra} -v=9 --logtostderr`));
                times[i][kind].times.push(r.ms);
                times[i][kind].phases.push(phasesOf(r.stderr, r.stdout, r.ms));
            });
        }
        eachRound((stack, i) => times[i].skipPlain.push(operator(stack, switchCommand(i, "--skip-preview")).ms));
        // `npm run rollback`: each run goes back to the update before.
        eachRound((stack, i) =>
            times[i].npmRollback.push(operator(stack, "bash scripts/ops/run.sh rollback --stack test").ms),
        );
        return times;
    } finally {
        for (const stack of stacks) await stack.dispose();
    }
}

/**
 * `--baseline=<commit>`: that commit checked out in a temp dir beside this one, its program
 * compiled, so the rollback section measures it against this checkout in the same session.
 */
function checkoutBaseline(rev: string): Program & { remove(): void } {
    const root = path.resolve(__dirname, "..", "..");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-baseline-"));
    const git = (...args: string[]) => execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
    const commit = git("rev-parse", "--short", rev);
    git("worktree", "add", "--detach", dir, commit);
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    say(`baseline: ${commit} checked out in ${dir}; compiling it`);
    execFileSync("npx", ["--no-install", "tsc", "-p", "tsconfig.check.json"], { cwd: dir, stdio: "inherit" });
    return { label: commit, dir, remove: () => git("worktree", "remove", "--force", dir) };
}

// ---------------------------------------------------------------------------------------------
// 1b. Many switches at full rate, each mode: what a reload costs a closed-loop client.
// ---------------------------------------------------------------------------------------------
async function fullRateSwitching(mode: Mode, switches: number) {
    say(`${switches} switches at full rate, ${mode} mode`);
    const stack = await createLocalStack({ switchMode: mode });
    try {
        await stack.stack.up({ onOutput: () => undefined });
        const paced = new Load({ url: stack.publicUrl, rate: 320, maxSeconds: 600 }).start();
        const fullRate = new Load({
            url: stack.publicUrl,
            closedLoop: 8,
            maxSeconds: 600,
            maxRequests: 10_000_000,
        }).start();
        let color = "blue";
        const upMs: number[] = [];
        for (let i = 0; i < switches; i++) {
            color = color === "blue" ? "green" : "blue";
            await stack.stack.setConfig("activeColor", { value: color });
            const t0 = Date.now();
            await stack.stack.up({ onOutput: () => undefined });
            upMs.push(Date.now() - t0);
        }
        const summary = (r: LoadResult) => ({
            sent: r.sent,
            failed: r.failures.length,
            closedOnReuse: r.closedOnReuse,
            rps: r.sendRate,
            p50: percentile(r.latenciesMs, 0.5),
            p99: percentile(r.latenciesMs, 0.99),
        });
        return { mode, switches, upMs, paced: summary(await paced.stop()), fullRate: summary(await fullRate.stop()) };
    } finally {
        await stack.dispose();
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Idle-pool deploy.
// ---------------------------------------------------------------------------------------------
async function idleDeploy(runs: number) {
    say("idle-pool deploy under load");
    const stack = await createLocalStack();
    try {
        await stack.stack.up({ onOutput: () => undefined });
        const load = new Load({ url: stack.publicUrl, rate: 300, maxSeconds: 300 }).start();
        const rows: { upMs: number; readyMs: number[] }[] = [];
        for (let i = 0; i < runs; i++) {
            await stack.stack.setConfig("greenVersion", { value: `1.${i + 1}.0` });
            let out = "";
            const t0 = Date.now();
            await stack.stack.up({ onOutput: (t) => (out += t) });
            const readyMs = [...out.matchAll(/Deployed 1\.\d+\.0 to green-\d \(pid \d+\), ready after (\d+) ms/g)].map(
                (m) => Number(m[1]),
            );
            rows.push({ upMs: Date.now() - t0, readyMs: [...new Set(readyMs)] });
        }
        const result = await load.stop();
        return {
            rows,
            live: {
                sent: result.sent,
                failed: result.failures.length,
                closedOnReuse: result.closedOnReuse,
                byColor: result.byColor,
            },
        };
    } finally {
        await stack.dispose();
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Baselines: a restart deploy, and the source article's switch.
// ---------------------------------------------------------------------------------------------
interface Baseline {
    readonly prefix: string;
    readonly port: number;
    readonly pids: Map<number, number>;
}

function startApp(port: number, color: string, version: string): number {
    const appDir = path.resolve(__dirname, "..", "..", "bin", "app");
    const child = spawn("node", ["server.js"], {
        cwd: appDir,
        env: { ...process.env, PORT: String(port), POOL_COLOR: color, APP_VERSION: version, WARMUP_MS: "300" },
        stdio: "ignore",
        detached: true,
    });
    child.unref();
    return child.pid as number;
}

async function waitHealthy(port: number): Promise<void> {
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

async function baselineNginx(name: string, article: boolean, ports: Record<string, number[]>): Promise<Baseline> {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
    fs.chmodSync(prefix, 0o755);
    for (const d of ["conf", "logs", "temp"]) fs.mkdirSync(path.join(prefix, d));
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
        for (const port_ of p) pids.set(port_, startApp(port_, color, "1.0.0"));
    await Promise.all([...pids.keys()].map(waitHealthy));
    startNginx(prefix);
    await sleep(300);
    return { prefix, port, pids };
}

function stopBaseline(b: Baseline): void {
    for (const pid of b.pids.values()) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            /* gone */
        }
    }
    try {
        const pid = Number(fs.readFileSync(path.join(b.prefix, "logs", "nginx.pid"), "utf8"));
        process.kill(pid, "SIGQUIT");
    } catch {
        /* not running */
    }
}

function outage(result: LoadResult): number {
    const bad = result.samples.filter((s) => !(s.status >= 200 && s.status < 300));
    if (bad.length === 0) return 0;
    return (Math.max(...bad.map((s) => s.atMs)) - Math.min(...bad.map((s) => s.atMs))) / 1000;
}

async function restartDeploy(runs: number) {
    say("baseline: restart deploy behind nginx");
    const rows = [];
    for (let i = 0; i < runs; i++) {
        const base = 31000 + i * 10; // below the ephemeral range (32768+)
        const b = await baselineNginx("restart", false, { blue: [base + 1, base + 2] });
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

async function articleSwitch(runs: number) {
    say("baseline: the source article's switch (sed + reload + curl loops with 2 s sleeps)");
    const rows = [];
    const script = `${readTemplate("scripts/lib.sh")}\n${readTemplate("bench/article-deploy.sh")}`;
    for (let i = 0; i < runs; i++) {
        const base = 31100 + i * 10;
        const b = await baselineNginx("article", true, { blue: [base + 1, base + 2], green: [base + 5, base + 6] });
        try {
            const load = new Load({ url: `http://127.0.0.1:${b.port}`, rate: 300, maxSeconds: 60 }).start();
            await sleep(1000);
            const t0 = Date.now();
            const r = spawnSync("bash", ["-c", script], {
                env: { ...process.env, PREFIX: b.prefix, NEW_COLOR: "green", NEW_PORTS: `${base + 5} ${base + 6}` },
                encoding: "utf8",
            });
            const switchMs = Date.now() - t0;
            if (r.status !== 0) throw new Error(`article deploy failed: ${r.stderr}`);
            await sleep(1000);
            const res = await load.stop();
            rows.push({
                switchMs,
                failed: res.failures.length,
                closedOnReuse: res.closedOnReuse,
                byColor: res.byColor,
            });
        } finally {
            stopBaseline(b);
        }
    }
    return rows;
}

// ---------------------------------------------------------------------------------------------
// 5b. The gate script alone against trivial /health servers in this process: its own cost per
// host, apart from the apps' and nginx's share of the machine.
// ---------------------------------------------------------------------------------------------
async function gateAlone(sizes: readonly number[], rounds: number) {
    say(`gate script alone: ${sizes.join(", ")} trivial hosts, ${rounds} interleaved rounds`);
    const servers = await Promise.all(
        Array.from({ length: Math.max(...sizes) }, async () => {
            const server = http.createServer((_req, res) => {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ status: "ready", version: "1.0.0", color: "green" }));
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            return server;
        }),
    );
    const script = loadScript("health-gate.sh", ["gate-lib.sh"]);
    const runGate = (hosts: number) =>
        new Promise<number>((resolve, reject) => {
            const list = servers
                .slice(0, hosts)
                .map((server, i) => `green-${i + 1}=127.0.0.1:${(server.address() as AddressInfo).port}`);
            const child = spawn("bash", ["-c", script.text, script.name], {
                env: {
                    PATH: process.env.PATH,
                    BLUEGREEN_HOSTS: list.join(" "),
                    BLUEGREEN_POOL_COLOR: "green",
                    BLUEGREEN_EXPECT_VERSION: "1.0.0",
                    BLUEGREEN_GATE_TIMEOUT_SECONDS: "10",
                    BLUEGREEN_HEALTH_INTERVAL_MS: "100",
                },
            });
            let out = "";
            child.stdout.on("data", (chunk) => (out += chunk));
            child.on("error", reject);
            child.on("close", () => {
                const m = /Gate passed: all \d+ green host\(s\) ready in (\d+) ms/.exec(out);
                if (m) resolve(Number(m[1]));
                else reject(new Error(`the gate did not pass against trivial servers:\n${out}`));
            });
        });
    const gateMs: Record<number, number[]> = Object.fromEntries(sizes.map((n) => [n, []]));
    try {
        for (let round = 0; round < rounds; round++) for (const n of sizes) gateMs[n].push(await runGate(n));
    } finally {
        for (const server of servers) server.close();
    }
    return sizes.map((hosts) => ({ hosts, gateMs: gateMs[hosts] }));
}

// ---------------------------------------------------------------------------------------------
// 5. Scale: gate and switch time with 1, 4 and 16 hosts per pool.
// ---------------------------------------------------------------------------------------------
/** A switch as the operator runs it (`pulumi config set activeColor ... && pulumi up --yes`), by pool size. */
async function scale(sizes: readonly number[], switches: number) {
    const rows = [];
    for (const hosts of sizes) {
        say(`scale: ${hosts} host(s) per pool`);
        const stack = await createLocalStack({
            blueHosts: String(hosts),
            greenHosts: String(hosts),
            gateTimeoutSeconds: "60",
        });
        try {
            await stack.stack.up({ onOutput: () => undefined });
            const gateMs: number[] = [];
            const upMs: number[] = [];
            let color = "blue";
            // A warm-up switch and back, not counted.
            for (const c of ["green", "blue"]) operator(stack, `pulumi config set activeColor ${c} && pulumi up --yes`);
            for (let i = 0; i < switches; i++) {
                color = color === "blue" ? "green" : "blue";
                const run = operator(stack, `pulumi config set activeColor ${color} && pulumi up --yes`);
                upMs.push(run.ms);
                const m = /Gate passed: all \d+ \w+ host\(s\) ready in (\d+) ms/.exec(run.stdout);
                if (m) gateMs.push(Number(m[1]));
                if ((await liveColor(stack)) !== color)
                    throw new Error(`scale ${hosts}: ${color} is not live after the switch`);
            }
            rows.push({ hosts, gateMs, upMs });
        } finally {
            await stack.dispose();
        }
    }
    return rows;
}

// ---------------------------------------------------------------------------------------------
// The switch mechanism: the cost of choosing the live pool per request, with trivial backends.
// ---------------------------------------------------------------------------------------------
async function mechanism(rounds: number) {
    say("switch mechanism: static upstream, njs, Lua shared dict (wrk, trivial backends)");
    const version = spawnSync("sh", ["-c", "nginx -V 2>&1"], { encoding: "utf8" }).stdout;
    const modulesDir = /--modules-path=(\S+)/.exec(version)?.[1] ?? "/usr/lib/nginx/modules";
    const kinds = ["static", "njs", "lua"] as const;
    const servers: { kind: (typeof kinds)[number]; prefix: string; port: number }[] = [];
    const stopServers = () => {
        for (const s of servers) {
            try {
                process.kill(Number(fs.readFileSync(path.join(s.prefix, "logs", "nginx.pid"), "utf8")), "SIGQUIT");
            } catch {
                /* not running */
            }
        }
    };
    kinds.forEach((kind, i) => {
        const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `bench-mechanism-${kind}-`));
        fs.chmodSync(prefix, 0o755);
        for (const d of ["conf", "logs", "temp"]) fs.mkdirSync(path.join(prefix, d));
        const port = 31200 + i * 10;
        fs.writeFileSync(path.join(prefix, "conf", "live-color"), "blue\n");
        fs.writeFileSync(path.join(prefix, "conf", "live.js"), render("bench/mechanism-live.js", { prefix }));
        const conf = render("bench/mechanism-nginx.conf.hbs", {
            mechanism: kind,
            static: kind === "static",
            njs: kind === "njs",
            lua: kind === "lua",
            prefix,
            port,
            backendPort: port + 1,
            modulesDir,
        });
        fs.writeFileSync(path.join(prefix, "conf", "nginx.conf"), conf);
        try {
            startNginx(prefix);
        } catch (err) {
            stopServers(); // the ones already started
            throw err;
        }
        servers.push({ kind, prefix, port });
    });
    try {
        await sleep(300);
        const rps: Record<string, number[]> = { static: [], njs: [], lua: [] };
        for (let r = 0; r < rounds; r++) {
            for (const s of servers) {
                const w = wrk(`http://127.0.0.1:${s.port}/`, 3);
                if (w) rps[s.kind].push(w.rps);
            }
        }
        return rps;
    } finally {
        stopServers();
    }
}

// ---------------------------------------------------------------------------------------------

function ms(v: number): string {
    if (!Number.isFinite(v)) return "n/a";
    return v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`;
}

function report(r: Record<string, any>): string {
    const lines: string[] = [];
    const push = (...l: string[]) => lines.push(...l);
    push(
        "# Benchmarks",
        "",
        `Generated by \`npm run bench\` (scripts/bench/bench.ts) on ${r.machine.date.slice(0, 10)}: ${r.machine.cpus} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, stock Debian nginx 1.22.`,
        "Everything runs on this machine against loopback: the local target (real `pulumi up`, real nginx, the",
        "reference app, 2 hosts per pool unless said otherwise), and the baselines in the same session. The",
        "machine is shared and noisy: figures are medians with (min–max, n) over repeated runs. The load is",
        "Node's http client over 16 keep-alive sockets, paced at 300 req/s, one POST in four, no retries",
        "(test/support/load.ts); `closed` counts requests that failed on a reused keep-alive connection that",
        "nginx closed (a reload does that); `failed` counts everything else that was not a complete 2xx.",
        "Raw numbers: [benchmarks.json](benchmarks.json).",
        "",
        ...(r.remeasured
            ? [
                  `Re-measured on ${r.remeasured.date.slice(0, 10)} (\`--only=${r.remeasured.sections.join(",")}\`): those sections; the rest is from the date above.`,
                  "",
              ]
            : []),
        "## 1. Switch under load, by switch mode",
        "",
        "| mode | switches | requests | failed | closed | `pulumi up` | first response from the new colour after `up` starts | p50 / p99 steady | p50 / p99 during switches |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const m of r.switchUnderLoad) {
        const sw = m.switches as Record<string, number>[];
        push(
            `| ${m.mode} | ${sw.length} | ${m.totals.sent} | ${m.totals.failed} | ${m.totals.closedOnReuse} | ${spread(
                sw.map((s) => s.upMs / 1000),
                " s",
            )} | ${spread(
                sw.map((s) => s.firstNewColorMs / 1000),
                " s",
            )} | ${ms(m.steady.p50)} / ${ms(m.steady.p99)} | ${spread(
                sw.map((s) => s.p50),
                " ms",
                2,
            )} / ${spread(
                sw.map((s) => s.p99),
                " ms",
                2,
            )} |`,
        );
    }
    push(
        "",
        "Every request across the first switch of each mode:",
        "",
        "![no-reload](switch-timeline-no-reload.svg)",
        "",
        "![reload](switch-timeline-reload.svg)",
        "",
    );
    if (r.fullRateSwitching) {
        push(
            "### Many switches at full rate",
            "",
            "Back-to-back switches through `pulumi up` while two clients run through nginx: the paced one above (320 req/s) and a closed-loop one",
            "(8 keep-alive connections, each sending its next request as soon as the last is answered: as fast as this machine goes).",
            "",
            "| mode | switches | full rate: req/s | p50 / p99 | failed | closed (per switch) | paced: requests | failed | closed (per switch) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        );
        for (const f of r.fullRateSwitching) {
            const perSwitch = (n: number) => `${n} (${(n / f.switches).toFixed(2)})`;
            push(
                `| ${f.mode} | ${f.switches} | ${(f.fullRate.rps / 1000).toFixed(1)}k | ${ms(f.fullRate.p50)} / ${ms(f.fullRate.p99)} | ${f.fullRate.failed} | ${perSwitch(f.fullRate.closedOnReuse)} | ${f.paced.sent} | ${f.paced.failed} | ${perSwitch(f.paced.closedOnReuse)} |`,
            );
        }
        push("");
    }

    const before = r.rollbackBaseline as RollbackTimes | undefined;
    const seconds = (xs: number[]) =>
        spread(
            xs.map((v) => v / 1000),
            " s",
            2,
        );
    const ratio = (now: number[], then: number[]) => `${(median(now) / median(then)).toFixed(2)}×`;
    const against = before ? `; this checkout against commit ${before.label}, each round running both in turn` : "";
    push(
        "## 2. Rollback",
        "",
        `Wall time of the operator's command, from start to exit (warm caches; the first run is not counted${against}):`,
        "",
    );
    const rows: [string, keyof RollbackTimes, number?][] = [
        ["`pulumi config set activeColor <c> && pulumi up --yes`", "plain", 3.0],
        ["`pulumi config set activeColor <c> && pulumi up --yes --skip-preview`", "skipPlain", 2.0],
        [
            "`npm run rollback` (reads the history, one `pulumi config set-all`, then `pulumi up --skip-preview`)",
            "npmRollback",
        ],
    ];
    push(
        before
            ? `| command | time | before (${before.label}) | now / before | target |`
            : "| command | time | target |",
    );
    push(before ? "| --- | --- | --- | --- | --- |" : "| --- | --- | --- |");
    for (const [label, key, target] of rows) {
        const now = r.rollback[key] as number[];
        const goal = target ? `≤ ${target.toFixed(1)} s: ${median(now) / 1000 <= target ? "met" : "not met"}` : "";
        if (before)
            push(
                `| ${label} | ${seconds(now)} | ${seconds(before[key] as number[])} | ${ratio(now, before[key] as number[])} | ${goal} |`,
            );
        else push(`| ${label} | ${seconds(now)} | ${goal} |`);
    }
    push("");

    push(
        "## 6. Where the rollback time goes",
        "",
        "From the engine's own log timestamps (`pulumi up -v=9 --logtostderr`) and the switch script's timing line; median ms per phase:",
        "",
    );
    const phaseNames = Object.keys(r.rollback.withPreview.phases[0] ?? {});
    const phase = (t: RollbackTimes, kind: "withPreview" | "skipPreview", p: string) =>
        ms(median(t[kind].phases.map((x) => x[p])));
    if (before) {
        push(
            `| phase | \`pulumi up --yes\` | before (${before.label}) | \`--skip-preview\` | before (${before.label}) |`,
            "| --- | --- | --- | --- | --- |",
        );
        for (const p of phaseNames) {
            push(
                `| ${p} | ${phase(r.rollback, "withPreview", p)} | ${phase(before, "withPreview", p)} | ${phase(r.rollback, "skipPreview", p)} | ${phase(before, "skipPreview", p)} |`,
            );
        }
        const wall = (t: RollbackTimes, kind: "withPreview" | "skipPreview") => ms(median(t[kind].times));
        push(
            `| **wall time** | **${wall(r.rollback, "withPreview")}** | **${wall(before, "withPreview")}** | **${wall(r.rollback, "skipPreview")}** | **${wall(before, "skipPreview")}** |`,
            "",
        );
    } else {
        push("| phase | `pulumi up --yes` | `pulumi up --yes --skip-preview` |", "| --- | --- | --- |");
        for (const p of phaseNames)
            push(`| ${p} | ${phase(r.rollback, "withPreview", p)} | ${phase(r.rollback, "skipPreview", p)} |`);
        push(
            `| **wall time** | **${ms(median(r.rollback.withPreview.times))}** | **${ms(median(r.rollback.skipPreview.times))}** |`,
            "",
        );
    }
    push(
        "`pulumi up` runs the program twice: a preview (a full program run and diff), then the update.",
        "Each run starts Node.js and loads `@pulumi/pulumi`, whose index loads everything it offers (the",
        "Automation API, closure serialization and with it `@npmcli/arborist`): about 0.5 s of every run",
        "here before the program's own code, which no setting of the program can skip. The gate and the",
        "switch themselves take tens of milliseconds.",
        "",
    );

    push("## 3. Idle-pool deploy", "", "A new version to the idle pool while the live pool serves 300 req/s:", "");
    push(
        `- \`pulumi up\`: ${spread(
            r.idleDeploy.rows.map((x: { upMs: number }) => x.upMs / 1000),
            " s",
        )}`,
    );
    push(
        `- each host ready after (drain + start + warm-up 300 ms): ${spread(
            r.idleDeploy.rows.flatMap((x: { readyMs: number[] }) => x.readyMs),
            " ms",
            0,
        )}`,
    );
    push(
        `- live pool: ${r.idleDeploy.live.sent} requests, ${r.idleDeploy.live.failed} failed, ${r.idleDeploy.live.closedOnReuse} closed, all served by ${Object.keys(r.idleDeploy.live.byColor).join(", ")}`,
        "",
    );

    push("## 4. Baselines, same session", "");
    push("| approach | failed requests | outage / switch time |", "| --- | --- | --- |");
    push(
        `| restart deploy behind nginx (stop both processes, start the new version on the same ports) | ${spread(
            r.restartDeploy.map((x: { failed: number }) => x.failed),
            "",
            0,
        )} of ${spread(
            r.restartDeploy.map((x: { sent: number }) => x.sent),
            "",
            0,
        )} | outage ${spread(
            r.restartDeploy.map((x: { outageSeconds: number }) => x.outageSeconds),
            " s",
        )} |`,
    );
    push(
        `| the source article's switch (curl loops with 2 s sleeps, host after host, sed, reload) | ${spread(
            r.articleSwitch.map((x: { failed: number }) => x.failed),
            "",
            0,
        )} (+ ${spread(
            r.articleSwitch.map((x: { closedOnReuse: number }) => x.closedOnReuse),
            "",
            0,
        )} closed) | switch ${spread(
            r.articleSwitch.map((x: { switchMs: number }) => x.switchMs / 1000),
            " s",
        )} |`,
    );
    for (const m of r.switchUnderLoad) {
        push(
            `| this project, ${m.mode} mode | ${m.totals.failed} (+ ${m.totals.closedOnReuse} closed) over ${m.switches.length} switches | \`pulumi up\` ${spread(
                m.switches.map((s: { upMs: number }) => s.upMs / 1000),
                " s",
            )} |`,
        );
    }
    push("", "Direct to one app process against through nginx (both pools' nginx config, each mode):", "");
    push(
        "| mode | wrk, 32 connections: direct | through nginx | 300 req/s paced p50 / p99: direct | through nginx | p99 added by nginx |",
        "| --- | --- | --- | --- | --- | --- |",
    );
    for (const m of r.switchUnderLoad) {
        const o = m.overhead;
        const rps = (xs: { rps: number }[]) =>
            xs.length
                ? spread(
                      xs.map((x) => x.rps / 1000),
                      "k req/s",
                  )
                : "wrk not installed";
        const quantile = (rounds: { p50: number; p99: number }[], q: "p50" | "p99") =>
            spread(
                rounds.map((x) => x[q]),
                " ms",
                2,
            );
        const added =
            median(o.paced300.nginx.map((x: { p99: number }) => x.p99)) -
            median(o.paced300.direct.map((x: { p99: number }) => x.p99));
        push(
            `| ${m.mode} | ${rps(o.wrkDirect)} | ${rps(o.wrkNginx)} | ${quantile(o.paced300.direct, "p50")} / ${quantile(o.paced300.direct, "p99")} | ${quantile(o.paced300.nginx, "p50")} / ${quantile(o.paced300.nginx, "p99")} | ${added.toFixed(2)} ms |`,
        );
    }
    push(
        "",
        "(Paced latencies: Node's http client, monotonic clock, three interleaved 4 s rounds per route; the last column is the difference of the medians.)",
        "",
    );

    if (r.mechanism) {
        const m = r.mechanism as Record<string, number[]>;
        const base = median(m.static);
        push(
            "## The switch mechanism",
            "",
            "Choosing the live pool per request, one nginx worker, trivial backends in the same nginx, wrk with 32 connections, rounds interleaved:",
            "",
        );
        push("| mechanism | throughput | against a static upstream |", "| --- | --- | --- |");
        for (const [kind, label] of [
            ["static", "static upstream (reload mode)"],
            ["lua", "Lua shared dict (no-reload mode)"],
            ["njs", "njs reading a one-line file per request"],
        ] as const) {
            push(
                `| ${label} | ${
                    m[kind].length
                        ? spread(
                              m[kind].map((v) => v / 1000),
                              "k req/s",
                          )
                        : "wrk not installed"
                } | ${m[kind].length ? `${((median(m[kind]) / base - 1) * 100).toFixed(0)}%` : ""} |`,
            );
        }
        push("");
    }
    push(
        "## 5. Scale",
        "",
        "A switch as the operator runs it (`pulumi config set activeColor <c> && pulumi up --yes`, preview included):",
        "",
        "| hosts per pool | gate | `pulumi up` (switch) |",
        "| --- | --- | --- |",
    );
    for (const s of r.scale)
        push(
            `| ${s.hosts} | ${spread(s.gateMs, " ms", 0)} | ${spread(
                s.upMs.map((v: number) => v / 1000),
                " s",
            )} |`,
        );
    const first = r.scale[0];
    const last = r.scale[r.scale.length - 1];
    const growth = median(last.gateMs) / median(first.gateMs);
    const upGrowth = median(last.upMs) / median(first.upMs);
    push(
        "",
        `\`pulumi up\` from ${first.hosts} to ${last.hosts} hosts: ${upGrowth.toFixed(2)}× ` +
            `(target: at most 1.3×, ${upGrowth <= 1.3 ? "met" : "not met"}). ` +
            `Gate time: ${growth.toFixed(2)}× (target: at most 1.5×, ${growth <= 1.5 ? "met" : "not met"}). ` +
            "Each round asks every pending host with one `curl --parallel` and checks the answers with shell builtins, so a host adds no process.",
        "",
    );
    if (r.gateAlone) {
        push(
            "The gate script alone, against trivial `/health` servers in the bench process (no apps, no nginx; interleaved rounds), shows its own cost per host:",
            "",
            "| hosts | gate script alone |",
            "| --- | --- |",
        );
        for (const g of r.gateAlone) push(`| ${g.hosts} | ${spread(g.gateMs, " ms", 0)} |`);
        const a1 = median(r.gateAlone[0].gateMs);
        const aN = median(r.gateAlone[r.gateAlone.length - 1].gateMs);
        push(
            "",
            `Alone, 1 to ${r.gateAlone[r.gateAlone.length - 1].hosts} hosts: ${(aN / a1).toFixed(2)}×. The rest of the growth in the stack is the machine: ` +
                "with 16 hosts per pool, 32 app processes and nginx share 2 cores, and the 16 being checked all answer at once.",
            "",
        );
    }
    push(`_Bench wall time: ${(r.wallSeconds / 60).toFixed(1)} min._`, "");
    return lines.join("\n");
}

async function main(): Promise<void> {
    fs.mkdirSync(DOCS, { recursive: true });
    const quick = process.argv.includes("--quick");
    const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
    if (process.argv.includes("--report")) {
        // Only render docs/benchmarks.md again from docs/benchmarks.json (after a change to the report).
        const measured = JSON.parse(fs.readFileSync(path.join(DOCS, "benchmarks.json"), "utf8"));
        fs.writeFileSync(path.join(DOCS, "benchmarks.md"), report(measured));
        return;
    }
    const baselineRev = process.argv.find((a) => a.startsWith("--baseline="))?.slice("--baseline=".length);
    const measuresRollback = !only || only.split(",").includes("rollback");
    const baseline = baselineRev && measuresRollback ? checkoutBaseline(baselineRev) : undefined;
    try {
        const current: Program = { label: "this checkout", dir: path.resolve(__dirname, "..", "..") };
        const rollbackSection = async (runs: number) => {
            const [now, before] = await rollback(runs, baseline ? [current, baseline] : [current]);
            results.rollback = now;
            // A "before" column only beside the run it was measured with.
            if (before) results.rollbackBaseline = before;
            else delete results.rollbackBaseline;
        };
        const sections: Record<string, () => Promise<void>> = {
            mechanism: async () => void (results.mechanism = await mechanism(5)),
            gateAlone: async () => void (results.gateAlone = await gateAlone([1, 4, 16], 15)),
            rollback: () => rollbackSection(5),
            scale: async () => void (results.scale = await scale([1, 4, 16], 5)),
        };
        if (only) {
            // Re-measure some sections (comma-separated) into the existing results.
            const wanted = only.split(",");
            const unknown = wanted.filter((name) => !sections[name]);
            if (unknown.length > 0) throw new Error(`--only takes some of: ${Object.keys(sections).join(", ")}`);
            const previous = JSON.parse(fs.readFileSync(path.join(DOCS, "benchmarks.json"), "utf8"));
            const remeasured = { date: (results.machine as { date: string }).date, sections: wanted };
            Object.assign(results, { ...previous, remeasured });
            for (const name of wanted) await sections[name]();
            results.wallSeconds = previous.wallSeconds;
        } else {
            // Each section's numbers are kept as soon as it ends, apart from the committed ones: after a
            // failure, copy that file over docs/benchmarks.json and measure the rest with --only.
            fs.rmSync(PARTIAL, { force: true });
            const keep = () => fs.writeFileSync(PARTIAL, JSON.stringify(results, null, 2) + "\n");
            results.switchUnderLoad = [];
            for (const mode of MODES)
                (results.switchUnderLoad as unknown[]).push(await switchUnderLoad(mode, quick ? 2 : 5));
            keep();
            results.fullRateSwitching = [];
            for (const mode of MODES)
                (results.fullRateSwitching as unknown[]).push(await fullRateSwitching(mode, quick ? 3 : 20));
            keep();
            await rollbackSection(quick ? 2 : 5);
            keep();
            results.idleDeploy = await idleDeploy(quick ? 1 : 3);
            keep();
            results.restartDeploy = await restartDeploy(quick ? 1 : 3);
            keep();
            results.articleSwitch = await articleSwitch(quick ? 1 : 3);
            keep();
            results.scale = await scale(quick ? [1, 4] : [1, 4, 16], quick ? 2 : 5);
            keep();
            results.gateAlone = await gateAlone([1, 4, 16], quick ? 5 : 15);
            keep();
            results.mechanism = await mechanism(quick ? 2 : 5);
            results.wallSeconds = (Date.now() - started) / 1000;
        }
    } finally {
        baseline?.remove();
    }
    fs.writeFileSync(path.join(DOCS, "benchmarks.json"), JSON.stringify(results, null, 2) + "\n");
    fs.writeFileSync(path.join(DOCS, "benchmarks.md"), report(results));
    say(`done: docs/benchmarks.md, docs/benchmarks.json${only ? "" : ", docs/switch-timeline-*.svg"}`);
}

main().catch((err: Error) => {
    console.error(`bench: ${err.stack ?? err.message}`);
    if (fs.existsSync(PARTIAL)) console.error(`bench: the sections measured before this are in ${PARTIAL}`);
    process.exit(1);
});
