// `npm run history`: every update of the stack as a table, the rollback log.
import { Command } from "commander";
import Table from "cli-table3";
import { type HookRun, describeHookRun, recordedHookRuns } from "../../components/hookResult";
import { Deployed, openStack, updates } from "./stack";

/** The hooks that ran during `u`, by the time each started (the stack's `hookRuns` output). */
function hooksOf(u: Deployed, runs: readonly HookRun[]): string {
    // Whole seconds: the history and the hosts' clocks say no more.
    const from = Math.floor(u.time.getTime() / 1000) * 1000;
    const to = u.endTime.getTime();
    return runs
        .filter((r) => Date.parse(r.ranAt) >= from && Date.parse(r.ranAt) <= to)
        .map(describeHookRun)
        .join(", ");
}

/** Rows for the table: failed updates say what stayed live (the last successful update's colour). */
export function historyRows(all: readonly Deployed[], runs: readonly HookRun[] = []): string[][] {
    let live: string | undefined; // what is serving after the updates so far
    return all.map((u) => {
        const ok = u.result === "succeeded";
        const time = u.time.toISOString().replace("T", " ").slice(0, 19);
        if (u.kind !== "update") {
            if (u.kind === "destroy" && ok) live = undefined; // a refresh or preview changes nothing
            return [String(u.update), time, `${u.kind} ${u.result}`, live ?? "nothing", "", "", "", u.message];
        }
        const wanted = u.activeColor ? `${u.activeColor} ${u.versions[u.activeColor]}` : "";
        const result = ok ? "succeeded" : `${u.result}: ${live ?? "nothing"} stayed live`;
        const liveColumn = ok ? wanted : `(wanted ${wanted})`;
        if (ok) live = wanted;
        const hooks = hooksOf(u, runs);
        return [String(u.update), time, result, liveColumn, u.versions.blue, u.versions.green, hooks, u.message];
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
    // The outputs keep every hook run (the next successful update records one that ran in a failed
    // update); each shows in the row of the update it ran in.
    const runs = recordedHookRuns((await stack.outputs()).hookRuns?.value);
    let rows = historyRows(await updates(stack), runs);
    if (opts.limit) rows = rows.slice(-opts.limit);
    // The hooks column only for a stack whose hooks ran: the others keep the table they had.
    const hooks = runs.length > 0;
    const table = new Table({
        style: { head: [], border: [] },
        head: ["update", "time (UTC)", "result", "live", "blue", "green", ...(hooks ? ["hooks"] : []), "message"],
        wordWrap: true,
        colWidths: [null, null, null, null, null, null, ...(hooks ? [28, 40] : [48])],
    }); // only the hooks and the message wrap
    table.push(...(hooks ? rows : rows.map((row) => [...row.slice(0, 6), row[7]])));
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
