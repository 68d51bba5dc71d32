// 3. A new version to the idle pool while the live pool serves a paced load.
import { Load } from "../../lib/load";
import { createLocalStack } from "../../lib/localStack";
import { say } from "../common";

export interface IdleDeployResult {
    /** Per deploy: `pulumi up`'s wall time and each host's ready time as the deploy script logged it. */
    readonly rows: readonly { readonly upMs: number; readonly readyMs: readonly number[] }[];
    readonly live: {
        readonly sent: number;
        readonly failed: number;
        readonly closedOnReuse: number;
        readonly byColor: Readonly<Record<string, number>>;
    };
}

export async function idleDeploy(runs: number): Promise<IdleDeployResult> {
    say("idle-pool deploy under load");
    const stack = await createLocalStack();
    try {
        await stack.stack.up({ onOutput: () => undefined });
        const load = new Load({ url: stack.publicUrl, rate: 300, maxSeconds: 300 }).start();
        const rows: { upMs: number; readyMs: number[] }[] = [];
        for (let i = 0; i < runs; i++) {
            await stack.stack.setConfig("greenVersion", { value: `1.${i + 1}.0` });
            let out = "";
            const t0 = Date.now();
            await stack.stack.up({ onOutput: (t) => (out += t) });
            const readyMs = [...out.matchAll(/Deployed 1\.\d+\.0 to green-\d \(pid \d+\), ready after (\d+) ms/g)].map(
                (m) => Number(m[1]),
            );
            rows.push({ upMs: Date.now() - t0, readyMs: [...new Set(readyMs)] });
        }
        const result = await load.stop();
        return {
            rows,
            live: {
                sent: result.sent,
                failed: result.failures.length,
                closedOnReuse: result.closedOnReuse,
                byColor: result.byColor,
            },
        };
    } finally {
        await stack.dispose();
    }
}
