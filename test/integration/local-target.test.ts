// The whole blue-green loop on the local target: real `pulumi up` through the Automation API,
// real nginx, real app processes, and a paced load running through every switch, rollback
// and failure, counting every response.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { summary } from "../../scripts/ci/nginx-diff-summary";
import { delta, settledMetrics } from "../support/metrics";
import { nginxWorkers } from "../support/nginxCheck";
import { Measured, measureUnderLoad } from "../support/traffic";
import { Load } from "../../scripts/lib/load";
import { LocalStack, TEST_DRAIN_TOKEN, createLocalStack, getJson, request } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";

type Color = "blue" | "green";
const HOSTS = [1, 2];

for (const switchMode of ["no-reload", "reload"] as const)
    describe(`local target (${switchMode} mode): switch, rollback, deploy and failures under load`, function () {
        let stack: LocalStack;
        const quiet = { onOutput: () => undefined };

        async function pids(color: Color): Promise<number[]> {
            return Promise.all(HOSTS.map(async (i) => (await stack.appStatus(color, i)).pid));
        }

        async function liveColor(): Promise<string> {
            const res = await getJson(`${stack.publicUrl}/`);
            return String(res.headers["x-deploy-color"]);
        }

        /** Runs `action` with load running before, during and after it; returns the counts. */
        function underLoad(name: string, action: () => Promise<void>): Promise<Measured> {
            return measureUnderLoad(
                {
                    url: stack.publicUrl,
                    name: `${name} (${switchMode})`,
                    hostsPerPool: HOSTS.length,
                    appStatus: (c, i) => stack.appStatus(c, i),
                },
                action,
            );
        }

        function assertNothingLost(run: Measured): void {
            assert.deepEqual(run.result.failures, [], "every request nginx accepted got a complete 2xx");
            assert.equal(
                run.postsProcessed,
                run.result.postOk,
                "every POST the apps completed was answered once, and every answered POST was processed once",
            );
        }

        before(async () => {
            stack = await createLocalStack({ switchMode });
            const result = await stack.stack.up(quiet);
            assert.equal(result.summary.result, "succeeded");
        });

        after(async () => {
            await stack?.dispose();
        });

        it("serves blue with both pools warm, outputs say what is live", async () => {
            assert.equal(await liveColor(), "blue");
            for (const color of ["blue", "green"] as Color[]) {
                for (const i of HOSTS)
                    assert.equal((await stack.appStatus(color, i)).status, "ready", `${color}-${i} is ready`);
            }
            const outputs = await stack.stack.outputs();
            assert.equal(outputs.activeColor.value, "blue");
            assert.equal(outputs.liveVersion.value, "1.0.0");
            assert.equal(outputs.publicUrl.value, stack.publicUrl);
        });

        it("a client sending X-Deploy-Color: green while blue is live gets blue (under load)", async () => {
            const run = await underLoad("X-Deploy-Color spoofing", async () => {
                for (let i = 0; i < 50; i++) {
                    const res = await getJson<{ color: string }>(`${stack.publicUrl}/`, { "X-Deploy-Color": "green" });
                    assert.equal(res.status, 200);
                    assert.equal(res.headers["x-deploy-color"], "blue");
                    assert.equal(res.body.color, "blue", "the app saw the colour nginx set, not the client's");
                }
            });
            assertNothingLost(run);
            assert.deepEqual(run.result.byColor, { blue: run.result.ok }, "no request reached green");
        });

        it("POST /health/drain via the public listener drains nothing, even with the token (under load)", async () => {
            const bluePids = await pids("blue");
            const attempts: Record<string, string>[] = [{}, { Authorization: `Bearer ${TEST_DRAIN_TOKEN}` }];
            const run = await underLoad("public POST /health/drain", async () => {
                for (let i = 0; i < 10; i++) {
                    for (const headers of attempts) {
                        const res = await request(`${stack.publicUrl}/health/drain`, "POST", headers);
                        assert.equal(res.status, 404);
                    }
                }
            });
            assertNothingLost(run);
            for (const i of HOSTS) assert.equal((await stack.appStatus("blue", i)).status, "ready");
            assert.deepEqual(await pids("blue"), bluePids);
        });

        it("switch blue → green: zero failed requests, every POST answered exactly once, blue stays warm", async () => {
            const bluePids = await pids("blue");
            await stack.stack.setConfig("activeColor", { value: "green" });
            const run = await underLoad("switch blue→green", async () => {
                const result = await stack.stack.up(quiet);
                assert.equal(result.summary.result, "succeeded");
            });
            assertNothingLost(run);
            assert.ok(
                (run.result.byColor.blue ?? 0) > 0 && (run.result.byColor.green ?? 0) > 0,
                "traffic moved from blue to green",
            );
            assert.equal(await liveColor(), "green");
            assert.deepEqual(await pids("blue"), bluePids, "the old pool keeps running (standby)");
            for (const i of HOSTS) assert.equal((await stack.appStatus("blue", i)).status, "ready");
        });

        it("a 6 s POST started just before the switch back gets 200 from the old pool (rollback)", async () => {
            await stack.stack.setConfig("activeColor", { value: "blue" });
            let slow:
                | Promise<{ status: number; headers: Record<string, unknown>; body: string; endedAt: number }>
                | undefined;
            let switchedAt = 0;
            const run = await underLoad("rollback green→blue", async () => {
                // The slow POST starts when the engine begins the health gate, right before the switch,
                // so it is in flight on green while blue becomes live.
                const result = await stack.stack.up({
                    ...quiet,
                    onEvent: (event) => {
                        if (!slow && event.resourcePreEvent?.metadata.urn.includes("gate-check")) {
                            slow = request(`${stack.publicUrl}/work?ms=6000`, "POST").then((res) => ({
                                ...res,
                                endedAt: Date.now(),
                            }));
                        }
                    },
                });
                switchedAt = Date.now();
                assert.equal(result.summary.result, "succeeded");
                // Its end inside the measured window, so the apps' counters include it.
                await slow;
            });
            assert.ok(slow, "the engine reported the gate step starting");
            const slowResult = await slow;
            assert.equal(slowResult.status, 200);
            assert.equal(
                slowResult.headers["x-deploy-color"],
                "green",
                "the slow POST finished on the pool it started on",
            );
            assert.ok(
                slowResult.endedAt > switchedAt,
                `the slow POST was still running when the switch had finished ` +
                    `(it ended ${slowResult.endedAt - switchedAt} ms after)`,
            );
            // The slow POST was processed by an app too, outside the load generator's count.
            assertNothingLost({ ...run, postsProcessed: run.postsProcessed - 1 });
            assert.equal(await liveColor(), "blue");
        });

        it("deploying to the idle pool while the live one serves loses nothing, restarts no live process", async () => {
            const bluePids = await pids("blue");
            const greenPids = await pids("green");
            await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
            const run = await underLoad("deploy 1.1.0 to idle green", async () => {
                const result = await stack.stack.up(quiet);
                assert.equal(result.summary.result, "succeeded");
                assert.equal(result.summary.resourceChanges?.update, 2, "only the two green hosts were updated");
            });
            assertNothingLost(run);
            assert.deepEqual(run.result.byColor, { blue: run.result.ok }, "all traffic stayed on blue");
            assert.deepEqual(await pids("blue"), bluePids, "live pool processes unchanged");
            const newGreen = await pids("green");
            assert.ok(
                newGreen.every((pid) => !greenPids.includes(pid)),
                "every green host runs a new process",
            );
            for (const i of HOSTS) assert.equal((await stack.appStatus("green", i)).version, "1.1.0");
            const internal = await getJson<{ version: string }>(`${stack.internalUrl}/green/`);
            assert.equal(
                internal.headers["x-deploy-color"],
                "green",
                "the idle pool is reachable on the internal listener",
            );
        });

        it("plain pulumi preview of a switch states the plan; preview --diff fits a screen, names the colours", () => {
            const pulumi = (...args: string[]) => {
                const result = spawnSync("pulumi", [...args, "--stack", "test", "--non-interactive"], {
                    cwd: path.join(stack.dir, "project"),
                    env: { ...process.env, ...stack.env },
                    encoding: "utf8",
                    timeout: 120_000,
                });
                assert.equal(result.status, 0, `pulumi ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
                return result.stdout;
            };
            pulumi("config", "set", "activeColor", "green");
            try {
                const plain = pulumi("preview");
                const plan = /^\s*(Plan: .*)$/m.exec(plain)?.[1] ?? "";
                assert.match(plan, /^Plan: traffic blue \(1\.0\.0\) -> green \(1\.1\.0\), gated on green-1, green-2;/);
                assert.match(plan, /; no pool redeployed; /);
                const diff = pulumi("preview", "--diff");
                assert.match(diff, /~ BLUEGREEN_LIVE_COLOR\s*: "blue" => "green"/);
                assert.match(diff, /~ BLUEGREEN_EXPECT_VERSION\s*: "1\.0\.0" => "1\.1\.0"/);
                assert.doesNotMatch(diff, /StackReference|set -euo pipefail/, "no previous-state dump, no script text");
                if (switchMode === "no-reload") {
                    assert.match(plain, /live colour set without a reload$/m);
                    const lines = diff.trimEnd().split("\n").length;
                    assert.ok(lines <= 60, `preview --diff of a switch is ${lines} lines:\n${diff}`);
                } else {
                    assert.match(plain, /nginx reloads \(live pool\)$/m);
                }
            } finally {
                pulumi("config", "set", "activeColor", "blue");
            }
        });

        it("maintenance on and off under load: 503 with the page, no app restart, traffic back after", async () => {
            const prefix = path.join(stack.stateDir, "nginx");
            const before = { blue: await pids("blue"), green: await pids("green") };
            const workers = nginxWorkers(prefix);
            await stack.stack.setConfig("maintenance", { value: "true" });
            let preview = "";
            await stack.stack.preview({ onOutput: (text) => (preview += text) });
            assert.match(
                preview,
                /Plan: MAINTENANCE GOES ON: the public listener answers 503 and the maintenance page/,
            );
            if (switchMode === "no-reload") assert.match(preview, /; maintenance set without a reload/);
            else assert.match(preview, /; nginx reloads \(maintenance off -> on\)/);
            const at = { onStart: 0, onDone: 0, offStart: 0, offDone: 0 };
            // The internal listener (green by path, as an operator tests the idle pool) is not in maintenance.
            // GETs only: the apps count the POSTs they complete, which the public load checks.
            const internal = new Load({
                url: `${stack.internalUrl}/green`,
                rate: 50,
                maxSeconds: 120,
                postEvery: 1_000_000,
            }).start();
            const run = await underLoad("maintenance on, then off", async () => {
                at.onStart = Date.now();
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
                at.onDone = Date.now();
                const page = await request(`${stack.publicUrl}/orders/42`, "GET");
                assert.equal(page.status, 503);
                assert.equal(page.headers["retry-after"], "300");
                assert.match(page.body, /<title>Down for maintenance<\/title>/);
                const json = await request(`${stack.publicUrl}/checkout`, "POST", { Accept: "application/json" });
                assert.deepEqual(JSON.parse(json.body), { status: "maintenance", retryAfterSeconds: 300 });
                // The checks an operator (and the next switch) relies on keep working.
                assert.equal((await request(`${stack.publicUrl}/health`, "GET")).status, 200);
                assert.equal((await request(`${stack.internalUrl}/bluegreen/maintenance`, "GET")).body, "on");
                assert.equal((await request(`${stack.internalUrl}/green/health`, "GET")).status, 200);
                if (switchMode === "no-reload") {
                    const metrics = await request(`${stack.internalUrl}/metrics`, "GET");
                    assert.equal(metrics.status, 200, "/metrics answers in maintenance");
                    assert.match(metrics.body, /^bluegreen_requests_total\{/m);
                }
                await new Promise((resolve) => setTimeout(resolve, 500));
                await stack.stack.setConfig("maintenance", { value: "false" });
                at.offStart = Date.now();
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
                at.offDone = Date.now();
            });
            const internalResult = await internal.stop();
            assert.deepEqual(internalResult.failures, [], "nothing failed on the internal listener");
            assert.ok(internalResult.ok > 100, `the internal listener served ${internalResult.ok} requests`);
            const unexpected = run.result.failures.filter((f) => f.status !== 503);
            assert.deepEqual(unexpected, [], "nothing failed but the maintenance answers");
            const maintenance = run.result.failures.filter((f) => f.status === 503);
            // Every request sent while it was surely on (between the two updates) met it, paced at 320/s.
            const surelyOn = (at.offStart - at.onDone) / 1000;
            assert.ok(maintenance.length >= 0.8 * 320 * surelyOn, `${maintenance.length} 503s in ${surelyOn} s`);
            const [from, to] = [at.onStart - run.startedAt, at.offDone - run.startedAt];
            const outside = maintenance.filter((f) => f.atMs < from || f.atMs > to);
            assert.deepEqual(
                outside,
                [],
                "503s only between the update that turned it on and the one that turned it off",
            );
            assert.equal(run.postsProcessed, run.result.postOk, "every POST that reached an app was answered once");
            assert.equal(await liveColor(), "blue", "traffic back on the live colour");
            assert.equal((await request(`${stack.internalUrl}/bluegreen/maintenance`, "GET")).body, "off");
            assert.deepEqual({ blue: await pids("blue"), green: await pids("green") }, before, "no app restarted");
            if (switchMode === "no-reload") assert.deepEqual(nginxWorkers(prefix), workers, "no reload");
            recordOutcome({
                area: "maintenance",
                fault: `maintenance on, then off, by pulumi up (${switchMode})`,
                expected: "503 + Retry-After + page while on, nothing else failed, no app restart, traffic back",
                observed:
                    `${run.result.ok} complete 2xx, ${maintenance.length} maintenance 503s, ` +
                    `${unexpected.length} other failures, ${run.result.closedOnReuse} closed on reuse by a reload`,
                sent: run.result.sent,
                lost: unexpected.length,
            });
        });

        if (switchMode === "no-reload") {
            it("/metrics counts the load by colour to the request, and through a switch", async () => {
                // Every read waits for the workers' flush: the test before may have ended a moment ago.
                const metrics = () => settledMetrics(stack.internalUrl);
                const live = await liveColor();
                const requests = (color: string, klass: string) =>
                    `bluegreen_requests_total{color="${color}",class="${klass}"}`;
                // Steady: 1,200 requests at 300/s, nothing else on the public listener.
                const before = await metrics();
                const steady = new Load({ url: stack.publicUrl, rate: 300, maxRequests: 1200, maxSeconds: 30 }).start();
                await new Promise((resolve) => setTimeout(resolve, 4500));
                const counted = await steady.stop();
                const after = await metrics();
                assert.equal(counted.sent, 1200);
                assert.deepEqual(counted.failures, []);
                assert.equal(delta(before, after, requests(live, "2xx")), counted.byColor[live], "2xx, to the request");
                assert.equal(delta(before, after, `bluegreen_request_duration_seconds_count{color="${live}"}`), 1200);
                for (const klass of ["3xx", "4xx", "5xx"]) assert.equal(delta(before, after, requests(live, klass)), 0);

                // Through a switch: each colour's count is the load's, plus the switch's own checks.
                const other = live === "blue" ? "green" : "blue";
                await stack.stack.setConfig("activeColor", { value: other });
                const start = await metrics();
                const run = await underLoad("switch, counted by /metrics", async () => {
                    assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
                });
                const end = await metrics();
                assertNothingLost(run);
                const own = delta(start, end, requests(other, "2xx")) - (run.result.byColor[other] ?? 0);
                assert.ok(own >= 0 && own <= 5, `${other}: ${own} requests beyond the load's (the switch's checks)`);
                assert.equal(delta(start, end, requests(live, "2xx")), run.result.byColor[live] ?? 0);
                recordOutcome({
                    area: "metrics",
                    fault: "1,200 requests at 300/s, then a switch under load, counted by nginx's /metrics",
                    expected: "per-colour counters equal the load generator's counts (plus the switch's own checks)",
                    observed:
                        `steady: ${counted.byColor[live]} = ${counted.byColor[live]}; switch: ${live} ` +
                        `${run.result.byColor[live] ?? 0} equal, ${other} ${own} more (its verification)`,
                    sent: counted.sent + run.result.sent,
                    lost: 0,
                });
                await stack.stack.setConfig("activeColor", { value: live });
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
            });
        }

        it("changing the live pool's release is refused at preview, with what to do instead", async () => {
            await stack.stack.setConfig("blueVersion", { value: "2.0.0" });
            let output = "";
            await assert.rejects(stack.stack.preview({ onOutput: (t) => (output += t) }));
            assert.match(
                output,
                /blueVersion changes the blue release from 1\.0\.0 to 2\.0\.0, but blue is the live pool/,
            );
            assert.match(output, /pulumi config set greenVersion 2\.0\.0 && pulumi up/);
            await stack.stack.setConfig("blueVersion", { value: "1.0.0" });
        });

        it("a target pool that never gets ready fails the update naming its hosts; traffic stays on blue", async () => {
            const neverReady = path.join(stack.dir, "never-ready");
            fs.mkdirSync(neverReady);
            fs.writeFileSync(
                path.join(neverReady, "server.js"),
                `process.env.FAIL_HEALTH = "1";\n` +
                    `require(${JSON.stringify(path.join(stack.dir, "project", "bin", "app", "server.js"))});\n`,
            );
            await stack.stack.setConfig("greenArtifact", { value: neverReady });
            await stack.stack.setConfig("greenVersion", { value: "1.2.0" });
            await stack.stack.setConfig("activeColor", { value: "green" });
            let output = "";
            const run = await underLoad("switch to a never-ready green", async () => {
                await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            });
            assert.match(
                output,
                /green-1 \(127\.0\.0\.1:\d+\) not ready after 10s: last \/health answered 503 .*"status":"failing"/,
            );
            assert.match(output, /green-2 \(127\.0\.0\.1:\d+\) not ready/);
            // Each host says what it runs now: its previous release, ready again, and how long it had none.
            for (const host of ["green-1", "green-2"]) {
                assert.match(
                    output,
                    new RegExp(
                        `The previous release [\\d.]+ runs again \\(pid \\d+, ready after \\d+ ms\\);\\s+` +
                            `${host} had no ready release for [\\d.]+ s\\.`,
                    ),
                );
            }
            assertNothingLost(run);
            assert.deepEqual(run.result.byColor, { blue: run.result.ok });
            assert.equal(await liveColor(), "blue");

            // Back to a good green release: the next update converges.
            await stack.stack.setConfig("greenArtifact", { value: "bin/app" });
            await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
            await stack.stack.setConfig("activeColor", { value: "blue" });
            const result = await stack.stack.up(quiet);
            assert.equal(result.summary.result, "succeeded");
            for (const i of HOSTS) assert.equal((await stack.appStatus("green", i)).status, "ready");
        });

        it("smoke check fails after the switch: previous pool back, up fails, the change stays pending", async () => {
            await stack.stack.setConfig("smokePaths", { value: JSON.stringify(["/", "/no-such-page"]) });
            await stack.stack.setConfig("activeColor", { value: "green" });
            let output = "";
            const run = await underLoad("switch with a failing smoke check", async () => {
                await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            });
            assert.match(output, /GET \/no-such-page through the public listener answered 404 from 'green'/);
            assertNothingLost(run);
            assert.equal(await liveColor(), "blue", "traffic is back on blue");
            const confDir = path.join(stack.stateDir, "nginx", "conf");
            if (switchMode === "reload") {
                assert.match(output, /Restored the previous nginx config/);
                assert.match(
                    fs.readFileSync(path.join(confDir, "nginx.conf"), "utf8"),
                    /proxy_pass http:\/\/pool_blue;/,
                    "the file on disk is the previous config",
                );
            } else {
                assert.match(output, /Restored the previous live colour \(blue\); the nginx config was not changed/);
                assert.equal(
                    fs.readFileSync(path.join(confDir, "live-color"), "utf8").trim(),
                    "blue",
                    "the persisted colour is the previous one",
                );
            }

            const preview = await stack.stack.preview({ diff: true, onOutput: () => undefined });
            assert.ok((preview.changeSummary.update ?? 0) >= 1, "the switch is still pending");
            assert.match(preview.stdout, /LIVE_COLOR\s*:\s*"blue" => "green"/);
            const markdown = summary(preview.stdout);
            assert.match(markdown, /### Live pool: blue → green/);
            if (switchMode === "no-reload")
                assert.match(markdown, /The nginx config does not change \(no-reload switch/);
            else assert.match(markdown, /^\+ proxy_pass http:\/\/pool_green;$/m);

            await stack.stack.setConfig("smokePaths", { value: JSON.stringify(["/"]) });
            await stack.stack.setConfig("activeColor", { value: "blue" });
            const result = await stack.stack.up(quiet);
            assert.equal(result.summary.result, "succeeded");
            assert.equal((await stack.stack.outputs()).activeColor.value, "blue");
        });

        it("a tarball (one top directory, as npm pack makes) deploys to the idle pool and goes live", async () => {
            // app-1.1.5.tgz holds app-1.1.5/server.js, ...: the reference app under a top-level directory.
            const staging = path.join(stack.dir, "tarball");
            fs.cpSync(path.join(stack.dir, "project", "bin", "app"), path.join(staging, "app-1.1.5"), {
                recursive: true,
            });
            const tarball = path.join(stack.dir, "app-1.1.5.tgz");
            execFileSync("tar", ["-czf", tarball, "-C", staging, "app-1.1.5"]);
            const bluePids = await pids("blue");
            await stack.stack.setConfig("greenArtifact", { value: tarball });
            await stack.stack.setConfig("greenVersion", { value: "1.1.5" });
            const run = await underLoad("deploy a tarball to idle green", async () => {
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
            });
            assertNothingLost(run);
            assert.deepEqual(run.result.byColor, { blue: run.result.ok }, "all traffic stayed on blue");
            assert.deepEqual(await pids("blue"), bluePids);
            for (const i of HOSTS) {
                const status = await stack.appStatus("green", i);
                assert.equal(status.version, "1.1.5");
                const releaseDir = fs.readlinkSync(`/proc/${status.pid}/cwd`);
                assert.ok(
                    fs.existsSync(path.join(releaseDir, "server.js")),
                    `the release root is the tarball's top-level directory (${releaseDir})`,
                );
            }
            await stack.stack.setConfig("activeColor", { value: "green" });
            const switched = await underLoad("switch to the tarball release", async () => {
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
            });
            assertNothingLost(switched);
            assert.equal((await getJson<{ version: string }>(`${stack.publicUrl}/`)).body.version, "1.1.5");
            await stack.stack.setConfig("activeColor", { value: "blue" });
            assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        });

        it("a tarball holding a setuid file or a device is refused naming it; nothing of it stays", async () => {
            // Put back afterwards as it was, set or not (the test may run alone).
            const before = await stack.stack.getAllConfig();
            const restore = async (key: string) => {
                const value = before[`bluegreen:${key}`]?.value;
                if (value === undefined) await stack.stack.removeConfig(key);
                else await stack.stack.setConfig(key, { value });
            };
            const app = path.join(stack.dir, "project", "bin", "app");
            const refusals: string[] = [];
            // tar keeps a setuid bit and makes a device node only as root, as deploys on ssh hosts often run.
            assert.equal(process.getuid?.(), 0, "this test runs as root (CI does), where the attack works");
            try {
                for (const [entry, kind] of [
                    ["app-1.1.6/bin/helper", "setuid"],
                    ["app-1.1.6/dev/disk", "device"],
                ] as const) {
                    // What an attacker's build would ship: the app, plus a setuid-root file or a device node.
                    const tarball = path.join(stack.dir, `app-1.1.6-${kind}.tgz`);
                    const special =
                        kind === "setuid"
                            ? "info = tarfile.TarInfo(entry); info.mode = 0o4755; info.size = 0; t.addfile(info)"
                            : "info = tarfile.TarInfo(entry); info.type = tarfile.CHRTYPE; info.devmajor = 1; " +
                              "info.devminor = 3; info.mode = 0o666; t.addfile(info)";
                    execFileSync("python3", [
                        "-c",
                        `import sys, tarfile\nentry = sys.argv[3]\nt = tarfile.open(sys.argv[1], "w:gz")\n` +
                            `t.add(sys.argv[2], arcname="app-1.1.6")\n${special}\nt.close()`,
                        tarball,
                        app,
                        entry,
                    ]);
                    await stack.stack.setConfig("greenArtifact", { value: tarball });
                    await stack.stack.setConfig("greenVersion", { value: "1.1.6" });
                    let output = "";
                    await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
                    const named = new RegExp(
                        `green-1: the artifact \\S+ holds ${entry.replace(/[.]/g, "\\.")}, ` +
                            "a setuid or setgid file, a device",
                    );
                    assert.match(output, named);
                    refusals.push(entry);
                }
                const left = execFileSync(
                    "find",
                    [path.join(stack.stateDir, "pools"), "(", "-perm", "/6000", "-o", "-type", "c", ")", "-print"],
                    { encoding: "utf8" },
                );
                assert.equal(left, "", "no setuid file or device was left on any host");
                assert.equal((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"], "blue");
                recordOutcome({
                    area: "security",
                    fault: "deploy a tarball holding a setuid file, then one holding a character device",
                    expected: "refused naming the entry; nothing of it left on the host; traffic untouched",
                    observed: `refused naming ${refusals.join(" and ")}; none left; blue served`,
                    sent: 1, // the check that blue still serves
                    lost: 0,
                });
            } finally {
                await restore("greenArtifact");
                await restore("greenVersion");
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
            }
        });
    });
