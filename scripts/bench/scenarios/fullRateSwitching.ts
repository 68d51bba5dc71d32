// 1b. Many switches at full rate, each mode: what a reload costs a closed-loop client.
import { Load, LoadFigures, figuresOf } from "../../lib/load";
import { createLocalStack } from "../../lib/localStack";
import { Mode, say } from "../common";

export interface FullRateResult {
    readonly mode: Mode;
    readonly switches: number;
    readonly upMs: readonly number[];
    /** The paced client of the other scenarios (320 req/s). */
    readonly paced: LoadFigures;
    /** A closed-loop client: 8 workers, each sending as soon as its last request is answered. */
    readonly fullRate: LoadFigures;
}

export async function fullRateSwitching(mode: Mode, switches: number): Promise<FullRateResult> {
    say(`${switches} switches at full rate, ${mode} mode`);
    const stack = await createLocalStack({ switchMode: mode });
    try {
        await stack.stack.up({ onOutput: () => undefined });
        const paced = new Load({ url: stack.publicUrl, rate: 320, maxSeconds: 600 }).start();
        const fullRate = new Load({
            url: stack.publicUrl,
            closedLoop: 8,
            maxSeconds: 600,
            maxRequests: 10_000_000,
        }).start();
        let color = "blue";
        const upMs: number[] = [];
        for (let i = 0; i < switches; i++) {
            color = color === "blue" ? "green" : "blue";
            await stack.stack.setConfig("activeColor", { value: color });
            const t0 = Date.now();
            await stack.stack.up({ onOutput: () => undefined });
            upMs.push(Date.now() - t0);
        }
        return {
            mode,
            switches,
            upMs,
            paced: figuresOf(await paced.stop()),
            fullRate: figuresOf(await fullRate.stop()),
        };
    } finally {
        await stack.dispose();
    }
}
