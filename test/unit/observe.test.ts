import * as assert from "node:assert/strict";
import { recordedInstances } from "../../components/deployState";
import type { AppHost } from "../../components/hosts";
import { canaryBody, foreignProcesses, observedFrom, reconcileReason } from "../../components/observe";
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

    it("reads nginx's canary: a share for the idle colour; one of the live colour, or none, is 0", () => {
        assert.equal(observedFrom("blue", "aaa", {}, "green 10").canaryPercent, 10);
        assert.equal(observedFrom("green", "aaa", {}, "green 10").canaryPercent, 0, "inert: a switch completing");
        assert.equal(observedFrom("blue", "aaa", {}, "off").canaryPercent, 0);
        assert.equal(observedFrom("blue", "aaa", {}, undefined).canaryPercent, undefined, "unread: unknown");
        assert.equal(canaryBody({ status: 404, body: "<html>" }), "off", "a config without canaries");
        assert.equal(canaryBody({ status: 0, body: "" }), undefined, "no answer");
        assert.equal(
            reconcileReason(
                { running: true, live: "blue", configId: "aaa" },
                { ...recorded, canaryPercent: 10 },
                {
                    ...desired,
                    canaryPercent: 10,
                },
            ),
            "",
            "a canary nginx did not say is not drift",
        );
        assert.match(
            reconcileReason(
                { running: true, live: "blue", configId: "aaa", canaryPercent: 30 },
                { ...recorded, canaryPercent: 10 },
                { ...desired, canaryPercent: 10 },
            ),
            /nginx sends 30% of clients to green \(canary\), the stack wants 10%/,
        );
        assert.equal(
            reconcileReason({ running: true, live: "blue", configId: "aaa", canaryPercent: 10 }, recorded, {
                ...desired,
                canaryPercent: 30,
            }),
            "",
            "the update changes the canary anyway",
        );
    });

    it("a canary's pool serves traffic: it needs hosts, is not redeployed in place, and a switch completes it", () => {
        const pool = (version: string, releaseId: string, hosts: Record<string, string> = { x: "127.0.0.1:1" }) => ({
            version,
            releaseId,
            hosts,
        });
        const previous = {
            liveColor: "blue" as const,
            pools: { blue: pool("1.0.0", "a"), green: pool("2.0.0", "b") },
            canaryPercent: 10,
        };
        const redeploy = { ...previous, pools: { ...previous.pools, green: pool("2.0.1", "c") } };
        const [inPlace] = checkSafety(previous, redeploy);
        assert.match(inPlace, /changes the green release from 2\.0\.0 to 2\.0\.1, but 10% of clients are on green/);
        assert.match(inPlace, /pulumi config set canaryPercent 0 && pulumi up/);
        assert.deepEqual(checkSafety({ ...previous, canaryPercent: undefined }, redeploy), [], "no canary: idle");
        const moved = { ...previous, pools: { ...previous.pools, green: pool("2.0.0", "b", { x: "127.0.0.1:2" }) } };
        const [move] = checkSafety(previous, moved);
        assert.match(move, /x would move from 127\.0\.0\.1:1 to 127\.0\.0\.1:2, but 10% of clients are on green/);

        const [reverse] = checkSafety(previous, { ...previous, liveColor: "green" });
        assert.match(reverse, /activeColor moves from blue to green while canaryPercent is 10/);
        assert.match(reverse, /pulumi config set canaryPercent 0 \(in the same update as the switch\)/);
        assert.deepEqual(checkSafety(previous, { ...previous, liveColor: "green", canaryPercent: undefined }), []);

        const empty = { ...previous, pools: { ...previous.pools, green: pool("2.0.0", "b", {}) } };
        const [noHosts] = checkSafety(undefined, empty);
        assert.match(noHosts, /canaryPercent is 10, but the green pool, which would take that share, has no hosts/);
    });

    describe("who answers a live host", () => {
        const host = (index: number): AppHost => ({
            name: `blue-${index}`,
            color: "blue",
            index,
            address: "127.0.0.1",
            port: 9100 + index,
            workDir: "/w",
            user: "u",
        });
        const ours = "0123456789abcdef0123456789abcdef";
        const served = (hosts: Record<string, { status: number; body: string }>) => ({
            running: true,
            live: "blue" as const,
            hosts,
        });
        const ready = (instance?: string) => ({
            status: 200,
            body: JSON.stringify({ status: "ready", version: "1.0.0", ...(instance ? { instance } : {}) }),
        });

        it("refuses a live host answered by another instance, or by none where one was recorded", () => {
            for (const other of [ready("ffff"), ready(), { status: 503, body: '{"status":"starting"}' }]) {
                const [problem, ...more] = foreignProcesses(
                    served({ "blue-1": ready(ours), "blue-2": other }),
                    [host(1), host(2)],
                    `blue-1=${ours} blue-2=${ours}`,
                );
                assert.deepEqual(more, []);
                assert.match(
                    problem,
                    new RegExp(
                        "^blue-2 \\(127\\.0\\.0\\.1:9102\\) is answered by another process: its /health echoes " +
                            `instance '(ffff|none)', the last deploy started '${ours}'.*receives live traffic now. ` +
                            "Fix: stop what holds the port, then redeploy the host: pulumi up --replace",
                    ),
                );
            }
        });

        it("stays quiet for its own process, no answer or a refusal, nothing recorded, or nothing asked", () => {
            const hosts = [host(1), host(2)];
            const recorded = `blue-1=${ours} blue-2=${ours}`;
            for (const inconclusive of [
                { status: 0, body: "" },
                { status: 421, body: "this app does not serve host '127.0.0.1'" },
                { status: 502, body: "bad gateway" },
            ]) {
                const answers = served({ "blue-1": ready(ours), "blue-2": inconclusive });
                assert.deepEqual(foreignProcesses(answers, hosts, recorded), [], JSON.stringify(inconclusive));
            }
            assert.deepEqual(foreignProcesses(served({ "blue-1": ready() }), hosts, ""), [], "an earlier version");
            assert.deepEqual(foreignProcesses(undefined, hosts, `blue-1=${ours}`), [], "not observable");
        });

        it("reads the recorded instances of a pool from the last outputs, and nothing from a malformed one", () => {
            const outputs = { instances: { blue: `blue-1=${ours} blue-2=abc`, green: "" } };
            assert.equal(recordedInstances(outputs, "blue"), `blue-1=${ours} blue-2=abc`);
            assert.equal(recordedInstances(outputs, "green"), "");
            assert.equal(recordedInstances({}, "blue"), "", "stacks deployed by earlier versions");
            assert.equal(recordedInstances({ instances: { blue: "blue-1=$(id)" } }, "blue"), "");
        });
    });
});
