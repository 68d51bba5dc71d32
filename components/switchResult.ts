// What nginx-switch.sh reports on its last line of output: one JSON object after a fixed prefix
// (switch-lib.sh's report_switched), so that a change on either side fails here, by name.
import { z } from "zod";
import { parseResultLine } from "./resultLine";

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
    /** The canary nginx runs: "green 10" (that share of clients on green), or off. */
    canary: z
        .string()
        .regex(/^((blue|green) \d{1,3}|off)$/, "off or <colour> <percent>")
        .default("off"),
    /** What the bake after the switch saw ("" without one). */
    bake: z.string(),
});

export type SwitchResult = z.infer<typeof SwitchResult>;

/** The result line of a successful switch's standard output; throws naming what is missing or wrong. */
export function parseSwitchResult(stdout: string): SwitchResult {
    const result = parseResultLine(stdout, SWITCH_RESULT_PREFIX, SwitchResult, "the switch's");
    if (!result) throw new Error(`the switch's output has no '${SWITCH_RESULT_PREFIX.trim()}' line`);
    return result;
}
