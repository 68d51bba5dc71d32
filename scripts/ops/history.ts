// `npm run history`: every update of the stack as a table, the rollback log.
import { Command } from "commander";
import Table from "cli-table3";
import { type BakeRecord, describeBake, recordedBakes } from "../../components/bakeRecord";
import { type HookRun, describeHookRun, recordedHookRuns } from "../../components/hookResult";
import { Deployed, openStack, updates } from "./stack";

/** Whether `at` (a host's ISO time) falls within update `u`. */
function during(u: Deployed, at: string): boolean {
    // Whole seconds: the history and the hosts' clocks say no more.
    const from = Math.floor(u.time.getTime() / 1000) * 1000;
    return Date.parse(at) >= from && Date.parse(at) <= u.endTime.getTime();
}

/** The hooks that ran during `u`, by the time each started (the stack's `hookRuns` output). */
function hooksOf(u: Deployed, runs: readonly HookRun[]): string {
    return runs
        .filter((r) => during(u, r.ranAt))
        .map(describeHookRun)
        .join(", ");
}

/** The bakes that ended during `u` (the stack's `bakes` output): why its switch went back, say. */
function bakesOf(u: Deployed, bakes: readonly BakeRecord[]): string {
    return bakes
        .filter((b) => during(u, b.at))
        .map(describeBake)
        .join("; ");
}

/**
 * Rows for the table: update, time, result, live, blue, green, hooks, bake, message. Failed updates
 * say what stayed live (the last successful update's colour).
 */
export function historyRows(
    all: readonly Deployed[],
    runs: readonly HookRun[] = [],
    bakes: readonly BakeRecord[] = [],
): string[][] {
    let live: string | undefined; // what is serving after the updates so far
    return all.map((u) => {
        const ok = u.result === "succeeded";
        const time = u.time.toISOString().replace("T", " ").slice(0, 19);
        if (u.kind !== "update") {
            if (u.kind === "destroy" && ok) live = undefined; // a refresh or preview changes nothing
            return [String(u.update), time, `${u.kind} ${u.result}`, live ?? "nothing", "", "", "", "", u.message];
        }
        const wanted = u.activeColor ? `${u.activeColor} ${u.versions[u.activeColor]}` : "";
        const result = ok ? "succeeded" : `${u.result}: ${live ?? "nothing"} stayed live`;
        const liveColumn = ok ? wanted : `(wanted ${wanted})`;
        if (ok) live = wanted;
        const [hooks, bake] = [hooksOf(u, runs), bakesOf(u, bakes)];
        return [String(u.update), time, result, liveColumn, u.versions.blue, u.versions.green, hooks, bake, u.message];
    });
}

async function main(): Promise<void> {
    const program = new Command("history")
        .description("Every update of the stack: when, result, what was live, each pool's version.")
        .option("-s, --stack <name>", "stack", "local")
        .option("-n, --limit <count>", "show only the newest <count> updates", (v) => Number(v))
        .parse();
    const opts = program.opts<{ stack: string; limit?: number }>();
    const stack = await openStack(opts.stack);
    // The outputs keep every hook run and bake (the next successful update records those of a failed
    // update); each shows in the row of the update it ran in.
    const outputs = await stack.outputs();
    const runs = recordedHookRuns(outputs.hookRuns?.value);
    const bakes = recordedBakes(outputs.bakes?.value);
    let rows = historyRows(await updates(stack), runs, bakes);
    if (opts.limit) rows = rows.slice(-opts.limit);
    // The hooks and bake columns only for a stack that has them: the others keep the table they had.
    const columns = [
        { head: "update" },
        { head: "time (UTC)" },
        { head: "result" },
        { head: "live" },
        { head: "blue" },
        { head: "green" },
        { head: "hooks", width: 28, shown: runs.length > 0 },
        { head: "bake", width: 40, shown: bakes.length > 0 },
        { head: "message", width: runs.length > 0 || bakes.length > 0 ? 30 : 48 },
    ];
    const shown = columns.flatMap((column, index) => (column.shown === false ? [] : [{ ...column, index }]));
    const table = new Table({
        style: { head: [], border: [] },
        head: shown.map((c) => c.head),
        wordWrap: true,
        colWidths: shown.map((c) => c.width ?? null),
    }); // only the hooks, the bake and the message wrap
    table.push(...rows.map((row) => shown.map((c) => row[c.index])));
    console.log(table.toString());
    console.log(
        "Roll back with `npm run rollback` (to the last update that differs) or `npm run rollback -- --to <update>`.",
    );
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`history: ${err.message}`);
        process.exit(1);
    });
}
