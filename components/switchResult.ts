// What nginx-switch.sh reports on its last line of output: one JSON object after a fixed prefix
// (switch-lib.sh's report_switched), so that a change on either side fails here, by name.
import { z } from "zod";

export const SWITCH_RESULT_PREFIX = "bluegreen-result ";

const SwitchResult = z.object({
    /** When the live colour last changed, and to which colour: "2026-11-26T08:21:55Z green". */
    lastSwitch: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (blue|green)$/, "<ISO time> <colour>"),
    liveColor: z.enum(["blue", "green"]),
    configId: z.string().min(1),
    /** What the switch made nginx do. */
    nginx: z.enum(["started", "reloaded", "live-set", "unchanged"]),
    /** Whether the public listener answers the maintenance page. */
    maintenance: z.enum(["on", "off"]),
});

export type SwitchResult = z.infer<typeof SwitchResult>;

/** The result line of a successful switch's standard output; throws naming what is missing or wrong. */
export function parseSwitchResult(stdout: string): SwitchResult {
    const line = stdout
        .split("\n")
        .reverse()
        .find((l) => l.startsWith(SWITCH_RESULT_PREFIX));
    if (line === undefined) {
        throw new Error(`the switch's output has no '${SWITCH_RESULT_PREFIX.trim()}' line`);
    }
    let json: unknown;
    try {
        json = JSON.parse(line.slice(SWITCH_RESULT_PREFIX.length));
    } catch (err) {
        throw new Error(`the switch's result line is not JSON (${(err as Error).message}): ${line}`);
    }
    const fields = typeof json === "object" && json !== null ? json : {};
    const missing = Object.keys(SwitchResult.shape).filter((key) => !(key in fields));
    if (missing.length > 0) throw new Error(`the switch's result line lacks ${missing.join(", ")}: ${line}`);
    const parsed = SwitchResult.safeParse(json);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "the line"}: ${i.message}`);
        throw new Error(`the switch's result line misstates ${problems.join("; ")}: ${line}`);
    }
    return parsed.data;
}
