// What hook-run.sh (and hook-kept.sh) report on their last line: whether the hook ran, how it
// ended, and when; and the log of hook runs the stack keeps in its outputs for `npm run history`.
import { z } from "zod";
import { parseResultLine } from "./resultLine";

export const HOOK_RESULT_PREFIX = "bluegreen-hook ";
export const HOOKS = ["pre-switch", "post-switch"] as const;
export type HookName = (typeof HOOKS)[number];

const HookResult = z.object({
    hook: z.enum(HOOKS),
    /** False where nothing went live (the hook was added) or it ran for this release already. */
    ran: z.boolean(),
    exitStatus: z.number().int(),
    seconds: z.number(),
    color: z.enum(["blue", "green"]),
    version: z.string().min(1),
    /** When it started, by the host's clock (ISO, UTC); "" where it did not run. */
    ranAt: z.string(),
});
export type HookResult = z.infer<typeof HookResult>;

/** The result line of a hook command's standard output; throws naming what is missing or wrong. */
export function parseHookResult(stdout: string): HookResult {
    const result = parseResultLine(stdout, HOOK_RESULT_PREFIX, HookResult, "the hook's");
    if (!result) throw new Error(`the hook's output has no '${HOOK_RESULT_PREFIX.trim()}' line`);
    return result;
}

/** One hook run as the stack's `hookRuns` output keeps it. */
export interface HookRun {
    readonly hook: HookName;
    readonly color: "blue" | "green";
    readonly version: string;
    readonly exitStatus: number;
    readonly seconds: number;
    readonly ranAt: string;
}

/** The runs kept: enough for any history a team reads, bounded so the outputs stay small. */
export const HOOK_RUNS_KEPT = 100;

/** The last update's `hookRuns`, as far as they are well formed (older stacks have none). */
export function recordedHookRuns(value: unknown): HookRun[] {
    if (!Array.isArray(value)) return [];
    const run = HookResult.omit({ ran: true });
    return value.flatMap((entry) => {
        const parsed = run.safeParse(entry);
        return parsed.success ? [parsed.data] : [];
    });
}

/** `runs` with the hooks that ran in `results` added, each once (a result stays in state until the next run). */
export function withHookRuns(runs: readonly HookRun[], results: readonly (HookResult | undefined)[]): HookRun[] {
    const added = results
        .filter((r): r is HookResult => r !== undefined && r.ran)
        .filter((r) => !runs.some((known) => known.hook === r.hook && known.ranAt === r.ranAt))
        .map(({ ran: _ran, ...run }) => run);
    return [...runs, ...added].slice(-HOOK_RUNS_KEPT);
}

/** A run as one history cell: "pre-switch ok 2.1 s", "post-switch FAILED (exit 3)". */
export function describeHookRun(run: HookRun): string {
    if (run.exitStatus === 0) return `${run.hook} ok ${run.seconds.toFixed(1)} s`;
    const why = run.exitStatus === 124 || run.exitStatus === 137 ? "timed out" : `exit ${run.exitStatus}`;
    return `${run.hook} FAILED (${why})`;
}
