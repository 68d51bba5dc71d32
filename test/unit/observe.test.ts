import * as assert from "node:assert/strict";
import { reconcileReason } from "../../components/observe";
import { checkSafety } from "../../components/safety";

describe("what nginx really serves", () => {
    const recorded = { liveColor: "blue" as const, configId: "aaa" };
    const desired = { liveColor: "blue" as const, configId: "aaa" };

    it("forces the switch to run when nginx drifted from an unchanged stack", () => {
        assert.match(
            reconcileReason({ running: true, live: "green", configId: "aaa" }, recorded, desired),
            /nginx serves green with config aaa, the stack wants blue with aaa/,
        );
        assert.equal(reconcileReason({ running: false }, recorded, desired), "nginx is not running");
    });

    it("stays quiet when nginx agrees, or when the update changes colour or config anyway", () => {
        assert.equal(reconcileReason({ running: true, live: "blue", configId: "aaa" }, recorded, desired), "");
        assert.equal(
            reconcileReason({ running: true, live: "blue", configId: "aaa" }, recorded, {
                liveColor: "green",
                configId: "aaa",
            }),
            "",
        );
        assert.equal(reconcileReason(undefined, recorded, desired), "", "not observable (remote targets)");
        assert.equal(reconcileReason({ running: false }, undefined, desired), "", "first deploy");
    });

    it("protects the pool nginx really serves, even when the records say otherwise", () => {
        const pool = (version: string, releaseId: string) => ({ version, releaseId, hosts: { x: "127.0.0.1:1" } });
        const previous = { liveColor: "blue" as const, pools: { blue: pool("1.0.0", "a"), green: pool("1.0.0", "b") } };
        const next = { liveColor: "blue" as const, pools: { blue: pool("1.0.0", "a"), green: pool("2.0.0", "c") } };
        assert.deepEqual(checkSafety(previous, next), [], "green is idle by the records");
        const [problem] = checkSafety(previous, next, "green");
        assert.match(
            problem,
            /greenVersion changes the green release from 1\.0\.0 to 2\.0\.0, but green is the live pool/,
        );
    });
});
