// Rows of docs/reliability.md: each fault and bad input a test tried, what was expected, what
// was observed, and the requests sent and lost meanwhile. Tests append rows as they run;
// scripts/test.sh clears them before a full run and renders the report after it
// (scripts/reliability-report.ts), so the report always comes from a real run.
import * as fs from "node:fs";
import * as path from "node:path";

export const RELIABILITY_ROWS = path.resolve(__dirname, "..", "..", ".state", "reliability", "rows.jsonl");

export interface Outcome {
    /** bad config, fault, security. */
    readonly area: string;
    /** What was done. */
    readonly fault: string;
    readonly expected: string;
    readonly observed: string;
    /** Requests sent while it happened (0 where no load ran). */
    readonly sent: number;
    /** Requests that got no complete 2xx. */
    readonly lost: number;
    /** Target it ran on. Default: local. */
    readonly target?: string;
}

export function recordOutcome(outcome: Outcome): void {
    fs.mkdirSync(path.dirname(RELIABILITY_ROWS), { recursive: true });
    fs.appendFileSync(RELIABILITY_ROWS, `${JSON.stringify({ target: "local", ...outcome })}\n`);
}
