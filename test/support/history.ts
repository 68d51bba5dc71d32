// `npm run history` of a test stack, as its table's rows: what an operator reads.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { LocalStack } from "../../scripts/lib/localStack";

/** The table's rows, each cell's wrapped lines joined, and the table as printed. */
export function historyTable(stack: LocalStack): { rows: string[][]; printed: string } {
    const history = spawnSync(
        "bash",
        [path.join(stack.dir, "project", "scripts", "ops", "run.sh"), "history", "--stack", "test"],
        { env: { ...process.env, ...stack.env }, encoding: "utf8", timeout: 180_000 },
    );
    assert.equal(history.status, 0, history.stderr);
    const rows: string[][] = [];
    for (const line of history.stdout.split("\n").filter((l) => l.startsWith("│"))) {
        const cells = line
            .split("│")
            .slice(1, -1)
            .map((cell) => cell.trim());
        if (cells[0]) rows.push(cells);
        else rows.at(-1)?.forEach((_, i, row) => (row[i] = `${row[i]} ${cells[i]}`.trim()));
    }
    return { rows, printed: history.stdout };
}
