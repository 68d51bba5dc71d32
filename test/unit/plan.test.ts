import * as assert from "node:assert/strict";
import type { Color } from "../../components/config";
import { renderedSettings } from "../../components/nginxConfig";
import { describePlan } from "../../components/plan";
import type { DeployState, PoolState } from "../../components/safety";

function pool(color: Color, version: string, hosts = 2, releaseId = `${version}-aaaa`): PoolState {
    const base = color === "blue" ? 9100 : 9200;
    const names = Array.from({ length: hosts }, (_, i) => [`${color}-${i + 1}`, `127.0.0.1:${base + i + 1}`]);
    return { version, releaseId, hosts: Object.fromEntries(names) };
}

const NGINX = { switchMode: "no-reload", publicListener: "127.0.0.1:8080", privatePaths: "/status" };

function state(
    live: Color,
    blue: PoolState,
    green: PoolState,
    configId = "c1",
    nginx: Record<string, string> = NGINX,
): DeployState {
    return { liveColor: live, configId, nginx, pools: { blue, green } };
}

describe("the plan line of a preview", () => {
    const before = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"));

    it("a switch names both colours, both versions, the hosts gated, and that nginx does not reload", () => {
        const plan = describePlan({ previous: before, next: { ...before, liveColor: "green" }, reconcile: "" });
        assert.equal(
            plan,
            "Plan: traffic blue (1.0.0) -> green (1.0.1), gated on green-1, green-2; no pool redeployed; " +
                "live colour set without a reload",
        );
    });

    it("a deploy to the idle pool says traffic stays and which hosts are redeployed", () => {
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.2", 2, "1.0.2-bbbb"));
        assert.equal(
            describePlan({ previous: before, next, reconcile: "" }),
            "Plan: traffic stays on blue (1.0.0); green redeployed 1.0.1 -> 1.0.2 on green-1, green-2; nginx unchanged",
        );
    });

    it("a rebuilt artifact at the same version is a redeploy too", () => {
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1", 2, "1.0.1-cccc"));
        assert.match(
            describePlan({ previous: before, next, reconcile: "" }),
            /green redeployed 1\.0\.1 \(new build\) on/,
        );
    });

    it("says maintenance goes on, and in no-reload mode that nginx does not reload for it", () => {
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c1", {
            ...NGINX,
            maintenance: "on",
        });
        assert.equal(
            describePlan({ previous: before, next, reconcile: "" }),
            "Plan: MAINTENANCE GOES ON: the public listener answers 503 and the maintenance page, the apps keep " +
                "running; traffic stays on blue (1.0.0); no pool redeployed; maintenance set without a reload",
        );
        const back = describePlan({ previous: next, next: before, reconcile: "" });
        assert.equal(
            back,
            "Plan: maintenance goes off: traffic back to blue (1.0.0); traffic stays on blue (1.0.0); " +
                "no pool redeployed; maintenance set without a reload",
        );
    });

    it("says what share of clients a canary sends where, that it is gated, and how it ends", () => {
        const canary = (percent: number) => ({ ...before, canaryPercent: percent });
        assert.equal(
            describePlan({ previous: before, next: canary(10), reconcile: "" }),
            "Plan: traffic stays on blue (1.0.0); CANARY STARTS: 10% of clients to green (1.0.1), sticky per " +
                "client, 90% on blue (1.0.0), gated on green-1, green-2; no pool redeployed; " +
                "canary set without a reload",
        );
        assert.match(
            describePlan({ previous: canary(10), next: canary(30), reconcile: "" }),
            /; canary 10% -> 30% of clients to green \(1\.0\.1\), sticky per client, 70% on blue/,
        );
        assert.match(
            describePlan({ previous: canary(30), next: before, reconcile: "" }),
            /traffic stays on blue \(1\.0\.0\); canary ends: every client back on blue \(1\.0\.0\);/,
        );
        assert.match(
            describePlan({ previous: canary(30), next: { ...before, liveColor: "green" }, reconcile: "" }),
            /traffic blue \(1\.0\.0\) -> green \(1\.0\.1\), .*; the switch completes the canary: every client on green/,
        );
        // What nginx runs wins over the records.
        assert.match(
            describePlan({
                previous: before,
                served: { running: true, live: "blue", configId: "c1", canaryPercent: 20 },
                next: canary(30),
                reconcile: "",
            }),
            /canary 20% -> 30%/,
        );
    });

    it("names the hooks a switch runs, and where", () => {
        const next = { ...before, liveColor: "green" as const };
        const hooks = ["pre-switch hook on green-1", "post-switch hook on green-1"];
        assert.match(
            describePlan({ previous: before, next, reconcile: "", hooks }),
            /; live colour set without a reload; pre-switch hook on green-1, post-switch hook on green-1 run$/,
        );
        assert.match(describePlan({ previous: before, next, reconcile: "", hooks: [] }), /without a reload$/);
    });

    it("in reload mode maintenance is a reload, named as such", () => {
        const reload = { ...NGINX, switchMode: "reload", maintenance: "off" };
        const previous = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c1", reload);
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c2", {
            ...reload,
            maintenance: "on",
        });
        assert.match(describePlan({ previous, next, reconcile: "" }), /; nginx reloads \(maintenance off -> on\)$/);
    });

    it("names the nginx settings that change and says nginx reloads", () => {
        const nginx = { ...NGINX, publicListener: "127.0.0.1:8090", privatePaths: "" };
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c2", nginx);
        assert.equal(
            describePlan({ previous: before, next, reconcile: "" }),
            "Plan: traffic stays on blue (1.0.0); no pool redeployed; " +
                "nginx reloads (privatePaths /status -> (none), publicListener 127.0.0.1:8080 -> 127.0.0.1:8090)",
        );
    });

    it("hosts added to the idle pool are deployed and change its upstream", () => {
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1", 3), "c2");
        assert.equal(
            describePlan({ previous: before, next, reconcile: "" }),
            "Plan: traffic stays on blue (1.0.0); green deployed 1.0.1 on new green-3; " +
                "nginx reloads (green upstream hosts)",
        );
    });

    it("in reload mode a switch reloads, and says the live pool is why", () => {
        const reload = { ...NGINX, switchMode: "reload" };
        const previous = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c1", reload);
        const next = state("green", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c2", reload);
        assert.match(describePlan({ previous, next, reconcile: "" }), /; nginx reloads \(live pool\)$/);
    });

    it("many hosts are named by the first and the last", () => {
        const previous = state("blue", pool("blue", "1.0.0", 16), pool("green", "1.0.1", 16));
        const plan = describePlan({ previous, next: { ...previous, liveColor: "green" }, reconcile: "" });
        assert.match(plan, /gated on green-1 … green-16 \(16 hosts\);/);
    });

    it("the first update says what starts", () => {
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.0"));
        assert.equal(
            describePlan({ next, reconcile: "" }),
            "Plan: traffic to blue (1.0.0), gated on blue-1, blue-2; blue deployed 1.0.0 on blue-1, blue-2; " +
                "green deployed 1.0.0 on green-1, green-2; nginx starts with config c1",
        );
    });

    it("starts from what nginx really serves: its colour, its config, whether it runs", () => {
        const served = { running: true, live: "green" as const, configId: "c1" };
        const plan = describePlan({ previous: before, served, next: before, reconcile: "" });
        assert.match(plan, /^Plan: traffic green \(1\.0\.1\) -> blue \(1\.0\.0\), gated on blue-1, blue-2;/);
        assert.match(plan, /; live colour set without a reload$/);
        const drifted = { running: true, live: "blue" as const, configId: "c0" };
        assert.match(
            describePlan({ previous: before, served: drifted, next: before, reconcile: "" }),
            /nginx reloads \(config c0 -> c1\)$/,
        );
        const stopped = describePlan({ previous: before, served: { running: false }, next: before, reconcile: "" });
        assert.match(stopped, /; nginx starts with config c1$/);
        const again = describePlan({ previous: before, served: drifted, next: before, reconcile: "nginx serves ..." });
        assert.match(again, /nginx: nginx serves \.\.\., so the switch runs again$/);
    });

    it("compares hosts whatever order the records keep them in (the engine sorts map keys)", () => {
        const reload = { ...NGINX, switchMode: "reload" };
        const sorted = (p: PoolState): PoolState => ({
            ...p,
            hosts: Object.fromEntries(Object.entries(p.hosts).sort()),
        });
        const previous = state(
            "blue",
            sorted(pool("blue", "1.0.0", 16)),
            sorted(pool("green", "1.0.1", 16)),
            "c1",
            reload,
        );
        const next = state("green", pool("blue", "1.0.0", 16), pool("green", "1.0.1", 16), "c2", reload);
        assert.deepEqual(Object.keys(previous.pools.blue.hosts).slice(0, 3), ["blue-1", "blue-10", "blue-11"]);
        assert.match(
            describePlan({ previous, next, reconcile: "" }),
            /; no pool redeployed; nginx reloads \(live pool\)$/,
        );
    });

    it("a host that moves is deployed again and changes its pool's upstream", () => {
        const green = pool("green", "1.0.1");
        const next = state(
            "blue",
            pool("blue", "1.0.0"),
            { ...green, hosts: { ...green.hosts, "green-2": "10.0.0.7:9202" } },
            "c2",
        );
        assert.equal(
            describePlan({ previous: before, next, reconcile: "" }),
            "Plan: traffic stays on blue (1.0.0); green deployed 1.0.1 on moved green-2; " +
                "nginx reloads (green upstream hosts)",
        );
    });

    it("the nginx settings it compares are every input of the rendered config but the pools and colour", () => {
        const input = {
            prefix: "/srv/nginx",
            switchMode: "no-reload" as const,
            liveColor: "blue" as const,
            pools: { blue: [{ address: "127.0.0.1", port: 9101 }], green: [] },
            publicAddress: "127.0.0.1",
            publicPort: 8080,
            internalAddress: "127.0.0.1",
            internalPort: 8081,
            workerShutdownTimeoutSeconds: 35,
            privatePaths: ["/status", "/metrics"],
            tls: { port: 443, fingerprint: "abc" },
        };
        const settings = renderedSettings(input);
        assert.equal(settings.privatePaths, "/status /metrics");
        assert.equal(settings.tls, "443 abc");
        assert.equal(settings.publicPort, "8080");
        assert.equal(settings.pools, undefined);
        assert.equal(settings.liveColor, undefined);
        const moved = renderedSettings({ ...input, publicPort: 8090, tls: undefined });
        const next = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c2", moved);
        const previous = state("blue", pool("blue", "1.0.0"), pool("green", "1.0.1"), "c1", settings);
        assert.match(
            describePlan({ previous, next, reconcile: "" }),
            /nginx reloads \(publicPort 8080 -> 8090, tls 443 abc -> \(none\)\)$/,
        );
    });
});
