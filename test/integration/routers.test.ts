// Two routers switched as one, behind one floating address: network-namespace machines on the
// test bridge (nginx-1, nginx-2, blue-1, green-1), keepalived from the distribution on both
// routers holding the virtual IP, load sent from the root namespace to that address. Needs root;
// CI runs as root and sets BLUEGREEN_REQUIRE_NETNS so that it can never skip there.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Load } from "../../scripts/lib/load";
import { request } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { Lab, createLab, labOrSkip } from "../support/netns";
import { SSH_PUBLIC_PORT, SshStack, createSshStack, sshEntry } from "../support/sshStack";
import { assertNothingLost, measureUnderLoad } from "../support/traffic";

type Color = "blue" | "green";
const ROUTERS = ["nginx-1", "nginx-2"];
const MACHINES = [...ROUTERS, "blue-1", "green-1"];
const quiet = { onOutput: () => undefined };

/** Polls `check` every 50 ms until it holds; fails saying `what` after `timeoutMs`. */
async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<number> {
    const started = Date.now();
    while (!(await check())) {
        if (Date.now() - started > timeoutMs) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now();
}

describe("two routers behind a floating address (keepalived): one switch, one address, no single point", function () {
    let lab: Lab | undefined;
    let stack: SshStack;
    let vip = "";
    let vipUrl = "";

    /** The stack's name for a lab router: nginx- and its address. */
    const named = (router: string) => `nginx-${lab!.hosts[router].address}`;
    /** That name in a regular expression (its dots taken literally). */
    const literal = (router: string) => named(router).replace(/\./g, "\\.");
    /** The colour a router's nginx serves, asked on its internal listener (loopback in its namespace). */
    const servedBy = (router: string): string => {
        try {
            return lab!.exec(router, ["curl", "-s", "--max-time", "2", "http://127.0.0.1:8081/bluegreen/live"]).trim();
        } catch {
            return "";
        }
    };
    /** Which router holds the floating address now ("" when none does). */
    const holder = (): string =>
        ROUTERS.find((router) => lab!.exec(router, ["ip", "-o", "-4", "addr", "show"]).includes(` ${vip}/`)) ?? "";
    const colourAt = async (url: string): Promise<string> =>
        String((await request(`${url}/`, "GET")).headers["x-deploy-color"] ?? "");
    const switchTo = async (color: Color) => {
        await stack.stack.setConfig("activeColor", { value: color });
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
    };

    before(async function () {
        labOrSkip(this, "routers");
        if (!fs.existsSync("/usr/sbin/keepalived"))
            throw new Error("keepalived is missing: apt-get install keepalived");
        lab = await createLab(MACHINES);
        vip = lab.bridgeAddress.replace(/\.1$/, ".100");
        vipUrl = `http://${vip}:${SSH_PUBLIC_PORT}`;
        stack = await createSshStack(lab, 1, {
            nginxSshHosts: JSON.stringify(ROUTERS.map(sshEntry(lab))),
            virtualIp: JSON.stringify({ address: vip, prefixLength: 24, interface: "eth0" }),
        });
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
    });

    after(async () => {
        try {
            await stack?.dispose();
        } finally {
            lab?.teardown();
        }
    });

    it("both routers serve blue; one of them holds the floating address, which serves blue", async () => {
        assert.deepEqual(ROUTERS.map(servedBy), ["blue", "blue"]);
        await until("a router taking the floating address", 15_000, () => holder() !== "");
        // Exactly one: the other stands by (nopreempt: whichever came up first keeps it).
        const holders = ROUTERS.filter((router) =>
            lab!.exec(router, ["ip", "-o", "-4", "addr", "show"]).includes(` ${vip}/`),
        );
        assert.equal(holders.length, 1, `one router holds ${vip}: ${holders.join(", ")}`);
        assert.equal(await colourAt(vipUrl), "blue");
        const outputs = await stack.stack.outputs();
        assert.equal(outputs.virtualAddress?.value, vip);
        assert.equal(outputs.publicUrl?.value, `http://${vip}:${SSH_PUBLIC_PORT}`);
        assert.deepEqual(outputs.routerLoginAddresses?.value, {
            [named("nginx-1")]: lab!.hosts["nginx-1"].address,
            [named("nginx-2")]: lab!.hosts["nginx-2"].address,
        });
    });

    it("a switch and a rollback across both routers through the floating address lose nothing", async () => {
        const load = { url: vipUrl, hostsPerPool: 1, appStatus: stack.appStatus };
        const switched = await measureUnderLoad({ ...load, name: "switch blue→green (2 routers)" }, () =>
            switchTo("green"),
        );
        assert.deepEqual(ROUTERS.map(servedBy), ["green", "green"], "every router serves green");
        assertNothingLost(switched, {
            area: "routers",
            target: "ssh",
            fault: "switch blue → green across two routers, load through the floating address",
            expected: "0 failed; every router serves green",
        });
        const rolledBack = await measureUnderLoad({ ...load, name: "rollback green→blue (2 routers)" }, () =>
            switchTo("blue"),
        );
        assert.deepEqual(ROUTERS.map(servedBy), ["blue", "blue"], "every router serves blue again");
        assertNothingLost(rolledBack, {
            area: "routers",
            target: "ssh",
            fault: "rollback green → blue across two routers, load through the floating address",
            expected: "0 failed; every router serves blue",
        });
    });

    it("a router that cannot be reached refuses the switch before any router changes", async () => {
        lab!.cutLink("nginx-2");
        try {
            await stack.stack.setConfig("activeColor", { value: "green" });
            await assert.rejects(
                stack.stack.up(quiet),
                new RegExp(`reach-${literal("nginx-2")}`),
                "the update fails naming the router",
            );
            assert.equal(servedBy("nginx-1"), "blue", "the reachable router did not switch");
            assert.equal(await colourAt(vipUrl), "blue");
            recordOutcome({
                area: "routers",
                target: "ssh",
                fault: "one of two routers unreachable (its link down) when a switch starts",
                expected: "refused naming the router; no router changes",
                observed: `update failed at reach-${named("nginx-2")}; nginx-1 still serves blue`,
                sent: 0,
                lost: 0,
            });
        } finally {
            await lab!.reconnect("nginx-2");
            await stack.stack.setConfig("activeColor", { value: "blue" });
        }
        // Both routers are back, the stack as before: nothing to change.
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual(ROUTERS.map(servedBy), ["blue", "blue"]);
    });

    it("a router that fails its switch sends every router back: the others go back unconfirmed", async () => {
        // nginx-2 cannot reach green (a route refused in its namespace): reachable over SSH, but its
        // switch's own gate fails, while nginx-1 (which reaches green) switches.
        const green = lab!.hosts["green-1"].address;
        lab!.exec("nginx-2", ["ip", "route", "add", "prohibit", `${green}/32`]);
        let failedAt = 0;
        try {
            await stack.stack.setConfig("activeColor", { value: "green" });
            const failing = new RegExp(`router-${literal("nginx-2")}`);
            await assert.rejects(stack.stack.up(quiet), failing, "the update fails naming the router");
            failedAt = Date.now();
        } finally {
            lab!.exec("nginx-2", ["ip", "route", "del", "prohibit", `${green}/32`]);
        }
        assert.equal(servedBy("nginx-2"), "blue", "nginx-2 never switched");
        // nginx-1 switched, then waits for a confirmation that never comes: back to blue on its own.
        const backAt = await until("nginx-1 going back to blue", 180_000, () => servedBy("nginx-1") === "blue");
        const log = path.join(lab!.hosts["nginx-1"].root, "nginx", "logs", "confirm.log");
        await until("the watchdog saying why", 5000, () =>
            new RegExp(`${literal("nginx-1")} was not confirmed within \\d+ s: going back to blue`).test(
                fs.readFileSync(log, "utf8"),
            ),
        );
        recordOutcome({
            area: "routers",
            target: "ssh",
            fault: "one of two routers cannot reach the pool going live during a switch",
            expected: "the update fails naming it; the router that switched goes back unconfirmed",
            observed:
                `failed at router-${named("nginx-2")}; nginx-1 on blue ` +
                `${Math.round((backAt - failedAt) / 1000)} s later`,
            sent: 0,
            lost: 0,
        });
        // The next update sees that nginx-1 went back: its switch runs again although its recorded
        // inputs (green, from the failed update) already match, and every router ends on green.
        const preview = await stack.stack.preview(quiet);
        const wentBack = new RegExp(`${literal("nginx-1")} went back: .*not confirmed within \\d+ s`);
        assert.match(preview.stdout, wentBack);
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual(ROUTERS.map(servedBy), ["green", "green"]);
        await switchTo("blue");
    });

    it("a router's nginx restarted serves the live colour; one stopped is drift the next update fixes", async () => {
        await switchTo("green");
        // Restarted by hand, as at boot: the last config and colour.
        await killNginx("nginx-2");
        startNginx("nginx-2");
        await until("nginx-2 answering again", 10_000, () => servedBy("nginx-2") !== "");
        assert.equal(servedBy("nginx-2"), "green", "a restarted router serves the live colour");
        // Stopped: the next update names the router and starts it again (gated).
        await killNginx("nginx-2");
        const preview = await stack.stack.preview(quiet);
        assert.match(preview.stdout, new RegExp(`${literal("nginx-2")}: nginx is not running`));
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
        assert.equal(servedBy("nginx-2"), "green");
    });

    it("the router holding the address dies under load: the other takes it, nothing sent after is lost", async () => {
        await until("a router holding the address", 15_000, () => holder() !== "");
        const dying = holder();
        const other = ROUTERS.find((router) => router !== dying)!;
        assert.ok(dying, "a router holds the address");
        const load = new Load({ url: vipUrl, rate: 200, maxSeconds: 30, record: true }).start();
        await new Promise((r) => setTimeout(r, 1000));
        const killedAt = Date.now();
        lab!.cutLink(dying); // the machine is gone from the network
        let movedAt = 0;
        try {
            movedAt = await until(`${other} taking the floating address`, 15_000, () => holder() === other);
            await new Promise((r) => setTimeout(r, 4000));
        } finally {
            await lab!.reconnect(dying);
        }
        const result = await load.stop();
        const after = result.samples.filter((s) => result.startedAt + s.atMs >= movedAt);
        const failedAfter = after.filter((s) => (s.status < 200 || s.status > 299) && !s.closedOnReuse);
        // A keep-alive connection to the dead router is reset once the address moved: the request
        // never reached an app (a client resends it), counted apart as nginx's reload closures are.
        const resetAfter = after.filter((s) => s.closedOnReuse);
        const failedBefore = result.samples.filter((s) => result.startedAt + s.atMs < movedAt && s.status !== 200);
        console.log(
            `      router killed: address moved after ${movedAt - killedAt} ms; sent ${result.sent}, ` +
                `failed before the move ${failedBefore.length}, after ${failedAfter.length} of ${after.length} ` +
                `(and ${resetAfter.length} reset connections reused after it)`,
        );
        assert.ok(after.length >= 500, `enough requests after the move (${after.length})`);
        assert.deepEqual(
            failedAfter.map((s) => `${s.atMs} ms: ${s.status}${s.closedOnReuse ? " (closed on reuse)" : ""}`),
            [],
            "no request sent after the address moved failed",
        );
        recordOutcome({
            area: "routers",
            target: "ssh",
            fault: "the router holding the floating address dies (link down) under 200 req/s",
            expected: "the other router takes the address; 0 failed among requests sent after it moved",
            observed:
                `moved in ${((movedAt - killedAt) / 1000).toFixed(1)} s; ${failedBefore.length} failed before ` +
                `the move, ${failedAfter.length} of ${after.length} after ` +
                `(${resetAfter.length} reused connections reset)`,
            sent: result.sent,
            lost: failedAfter.length,
        });
        // nopreempt: the router that comes back stands by; the address stays where clients reach it.
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(holder(), other);
    });

    it("a router taken out of the list stops; the one left keeps its history, its nginx and the address", async () => {
        await until("a router holding the address", 15_000, () => holder() !== "");
        const staying = holder();
        const leaving = ROUTERS.find((router) => router !== staying)!;
        const [stayingMaster] = nginxPids(staying);
        const run = await measureUnderLoad(
            { url: vipUrl, hostsPerPool: 1, appStatus: stack.appStatus, name: "router taken out" },
            async () => {
                await stack.stack.setConfig("nginxSshHosts", { value: JSON.stringify([sshEntry(lab!)(staying)]) });
                const result = await stack.stack.up(quiet);
                assert.equal(result.summary.result, "succeeded");
            },
        );
        assertNothingLost(run, {
            area: "routers",
            target: "ssh",
            fault: "the standby router taken out of nginxSshHosts under load",
            expected: "0 failed; the router left is the same resource, its nginx untouched",
        });
        assert.equal(
            nginxPids(staying)[0],
            stayingMaster,
            "the router left kept its nginx (not stopped, not replaced)",
        );
        assert.equal(servedBy(leaving), "", "nginx stopped on the router taken out");
        assert.equal(holder(), staying, "the address stayed");
        const outputs = await stack.stack.outputs();
        assert.equal(outputs.nginxLoginAddress?.value, lab!.hosts[staying].address);
        assert.equal(outputs.routerLoginAddresses, undefined, "one router again");
    });

    /** nginx's processes in a router's namespace (master first), from its pid file and /proc. */
    function nginxPids(router: string): number[] {
        const prefix = path.join(lab!.hosts[router].root, "nginx");
        const master = Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim());
        const workers = fs
            .readdirSync("/proc")
            .filter((entry) => /^\d+$/.test(entry))
            .filter((pid) => {
                try {
                    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1] === String(master);
                } catch {
                    return false;
                }
            })
            .map(Number);
        return [master, ...workers];
    }

    /** Kills a router's nginx (master and workers) and waits until they are gone (or zombies). */
    async function killNginx(router: string): Promise<void> {
        const pids = nginxPids(router);
        for (const pid of pids) process.kill(pid, "SIGKILL");
        const gone = (pid: number) => {
            try {
                return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");
            } catch {
                return true;
            }
        };
        await until(`${router}'s nginx exiting`, 10_000, () => pids.every(gone));
    }

    /** Starts a router's nginx as its switch does, from the files it left. */
    function startNginx(router: string): void {
        const prefix = `${lab!.remoteDir}/nginx`;
        lab!.execMounted(router, [
            "nginx",
            "-p",
            `${prefix}/`,
            "-e",
            `${prefix}/logs/error.log`,
            "-c",
            `${prefix}/conf/nginx.conf`,
        ]);
    }
});
