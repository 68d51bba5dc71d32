// 5. Scale: gate and switch time with 1, 4 and 16 hosts per pool, a switch as the operator runs
// it (`pulumi config set activeColor ... && pulumi up --yes`).
import { createLocalStack } from "../../lib/localStack";
import { liveColor, operator, say } from "../common";

export interface ScaleRow {
    readonly hosts: number;
    /** The gate's own figure, from its "Gate passed" line. */
    readonly gateMs: readonly number[];
    readonly upMs: readonly number[];
}

export async function scale(sizes: readonly number[], switches: number): Promise<ScaleRow[]> {
    const rows: ScaleRow[] = [];
    for (const hosts of sizes) {
        say(`scale: ${hosts} host(s) per pool`);
        const stack = await createLocalStack({
            blueHosts: String(hosts),
            greenHosts: String(hosts),
            gateTimeoutSeconds: "60",
        });
        try {
            await stack.stack.up({ onOutput: () => undefined });
            const gateMs: number[] = [];
            const upMs: number[] = [];
            let color = "blue";
            // A warm-up switch and back, not counted.
            for (const c of ["green", "blue"]) operator(stack, `pulumi config set activeColor ${c} && pulumi up --yes`);
            for (let i = 0; i < switches; i++) {
                color = color === "blue" ? "green" : "blue";
                const run = operator(stack, `pulumi config set activeColor ${color} && pulumi up --yes`);
                upMs.push(run.ms);
                const m = /Gate passed: all \d+ \w+ host\(s\) ready in (\d+) ms/.exec(run.stdout);
                if (m) gateMs.push(Number(m[1]));
                if ((await liveColor(stack)) !== color)
                    throw new Error(`scale ${hosts}: ${color} is not live after the switch`);
            }
            rows.push({ hosts, gateMs, upMs });
        } finally {
            await stack.dispose();
        }
    }
    return rows;
}
