import * as assert from "node:assert/strict";
import { parseBakeLog, withBakes } from "../../components/bakeRecord";
import { historyRows } from "../../scripts/ops/history";
import { RollbackError, planRollback } from "../../scripts/ops/rollback";
import type { Deployed } from "../../scripts/ops/stack";

function update(n: number, activeColor: "blue" | "green", blue: string, green: string, result = "succeeded"): Deployed {
    return {
        update: n,
        kind: "update",
        time: new Date(Date.UTC(2026, 10, 26, 9, n)),
        endTime: new Date(Date.UTC(2026, 10, 26, 9, n, 40)),
        result,
        message: `update ${n}`,
        activeColor,
        versions: { blue, green },
        artifacts: { blue: "bin/app", green: "bin/app" },
        canaryPercent: 0,
    };
}

describe("rollback planning", () => {
    const history = [
        update(1, "blue", "1.0.0", "1.0.0"),
        update(2, "green", "1.0.0", "1.1.0"),
        update(3, "green", "1.0.0", "1.1.0"),
    ];

    it("goes back to the last successful update whose live colour or version differs, as a switch only", () => {
        const plan = planRollback(history);
        assert.equal(plan.target.update, 1);
        assert.deepEqual(plan.set, {
            blueVersion: "1.0.0",
            greenVersion: "1.1.0",
            blueArtifact: "bin/app",
            greenArtifact: "bin/app",
            activeColor: "blue",
            canaryPercent: "0", // a rollback ends any canary
        });
        assert.equal(plan.redeploy, undefined);
        assert.match(plan.summary, /switch from green 1\.1\.0 to blue 1\.0\.0 \(still deployed on blue, no redeploy\)/);
    });

    it("sets every release key to what is deployed now, so leftovers of a failed update do not ride along", () => {
        const plan = planRollback([...history, update(4, "green", "3.0.0", "1.1.0", "failed")]);
        assert.equal(plan.set.blueVersion, "1.0.0", "the failed update's blueVersion 3.0.0 is not deployed");
    });

    it("skips failed updates: they never went live", () => {
        const plan = planRollback([...history, update(4, "blue", "2.0.0", "1.1.0", "failed")]);
        assert.equal(plan.target.update, 1);
    });

    it("when the pool was redeployed since, plans a redeploy to the idle pool and says why", () => {
        // 4: blue got 1.2.0 while idle and went live; rolling back to 2 (green 1.1.0) still works as a switch,
        // but rolling back to 1 (blue 1.0.0) needs 1.0.0 deployed again, on green (idle now).
        const later = [...history, update(4, "blue", "1.2.0", "1.1.0")];
        assert.equal(planRollback(later).set.activeColor, "green");
        const plan = planRollback(later, 1);
        assert.deepEqual(plan.set, {
            blueVersion: "1.2.0",
            greenVersion: "1.0.0",
            blueArtifact: "bin/app",
            greenArtifact: "bin/app",
            activeColor: "green",
            canaryPercent: "0",
        });
        assert.match(
            plan.redeploy ?? "",
            /the blue pool no longer holds 1\.0\.0 \(it runs 1\.2\.0 since a later update\)/,
        );
        assert.match(plan.redeploy ?? "", /--redeploy/);
    });

    it("during a canary, ends it: every client back on the live pool, nothing redeployed", () => {
        const canary = { ...update(4, "green", "1.2.0", "1.1.0"), canaryPercent: 20 };
        const plan = planRollback([...history, canary]);
        assert.deepEqual(plan.set, {
            blueVersion: "1.2.0",
            greenVersion: "1.1.0",
            blueArtifact: "bin/app",
            greenArtifact: "bin/app",
            activeColor: "green",
            canaryPercent: "0",
        });
        assert.equal(plan.summary, "end the canary: the 20% of clients on blue (1.2.0) go back to green 1.1.0");
        assert.equal(plan.redeploy, undefined);
    });

    it("refuses targets that cannot be rolled back to, saying why", () => {
        assert.throws(
            () => planRollback(history, 9),
            (e: unknown) => e instanceof RollbackError && /update 9 is not in this stack's history/.test(e.message),
        );
        assert.throws(
            () => planRollback([...history, update(4, "blue", "1.0.0", "1.1.0", "failed")], 4),
            /only a successful update can be rolled back to/,
        );
        assert.throws(
            () => planRollback([update(1, "blue", "1.0.0", "1.0.0")]),
            /no earlier successful update had a different live colour or version/,
        );
    });
});

describe("history table", () => {
    it("shows failed updates as failed, with what stayed live", () => {
        const rows = historyRows([update(1, "blue", "1.0.0", "1.0.0"), update(2, "green", "1.0.0", "1.1.0", "failed")]);
        assert.deepEqual(rows[0].slice(0, 6), [
            "1",
            "2026-11-26 09:01:00",
            "succeeded",
            "blue 1.0.0",
            "1.0.0",
            "1.0.0",
        ]);
        assert.equal(rows[1][2], "failed: blue 1.0.0 stayed live");
        assert.equal(rows[1][3], "(wanted green 1.1.0)");
    });

    it("shows the hooks that ran in each update, by when they started", () => {
        const run = (hook: "pre-switch" | "post-switch", minute: number, second: number, exitStatus = 0) => ({
            hook,
            color: "green" as const,
            version: "1.1.0",
            exitStatus,
            seconds: 1.5,
            ranAt: new Date(Date.UTC(2026, 10, 26, 9, minute, second)).toISOString().replace(/\.000Z$/, "Z"),
        });
        const rows = historyRows(
            [
                update(1, "blue", "1.0.0", "1.0.0"),
                update(2, "green", "1.0.0", "1.1.0"),
                update(3, "green", "1.0.0", "1.1.0"),
            ],
            [run("pre-switch", 2, 5), run("post-switch", 2, 30, 3), run("pre-switch", 3, 50)],
        );
        assert.deepEqual(
            rows.map((r) => r[6]),
            ["", "pre-switch ok 1.5 s, post-switch FAILED (exit 3)", ""],
            "a run after an update's end belongs to none",
        );
    });

    it("says why an update's bake failed, in its row, from the bakes nginx's host kept", () => {
        const log = [
            JSON.stringify({
                at: "2026-11-26T09:02:20Z",
                color: "green",
                passed: false,
                summary: "the bake of green failed 1s after traffic moved: 4.74% of its 232 requests answered 5xx",
            }),
            "<html>not a verdict</html>",
            JSON.stringify({ at: "2026-11-26T09:03:30Z", color: "green", passed: true, summary: "green answered 90" }),
        ].join("\n");
        const seen = parseBakeLog(log);
        assert.equal(seen.length, 2, "a line that is no verdict is skipped");
        const kept = withBakes(withBakes([], seen.slice(0, 1)), seen);
        assert.deepEqual(kept, seen, "each verdict once, oldest first");
        const rows = historyRows(
            [
                update(1, "blue", "1.0.0", "1.0.0"),
                update(2, "green", "1.0.0", "1.1.0", "failed"),
                update(3, "green", "1.0.0", "1.1.0"),
            ],
            [],
            kept,
        );
        assert.deepEqual(
            rows.map((r) => r[7]),
            [
                "",
                "FAILED: the bake of green failed 1s after traffic moved: 4.74% of its 232 requests answered 5xx",
                "passed: green answered 90",
            ],
        );
        assert.equal(rows[1][2], "failed: blue 1.0.0 stayed live");
    });
});
