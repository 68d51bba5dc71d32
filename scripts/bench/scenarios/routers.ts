// A switch's wall time with one router and with two (ssh target): the routers suite's network-
// namespace machines, one stack with nginxSshHost, one with nginxSshHosts, each its own pools; a
// `pulumi up` that changes activeColor, timed from its start to its end, the two stacks in
// alternating order, round after round. Needs root (namespaces, sshd); skipped, saying why, elsewhere.
import { createLab, labUnavailable } from "../../../test/support/netns";
import { createSshStack, sshEntry } from "../../../test/support/sshStack";
import { say } from "../common";

export interface RoutersResult {
    /** Wall time (ms) of each switch of the one-router stack. */
    readonly oneRouter: number[];
    /** Of the two-router stack, measured in the same rounds. */
    readonly twoRouters: number[];
}

/** The two-router stack's machines beside the one-router stack's (nginx, blue-1, green-1). */
const MACHINES = ["nginx", "blue-1", "green-1", "nginx-1", "nginx-2", "blue-2", "green-2"];

export async function routers(rounds: number): Promise<RoutersResult | undefined> {
    const unavailable = labUnavailable();
    if (unavailable) {
        say(`routers: skipped (${unavailable})`);
        return undefined;
    }
    const lab = await createLab(MACHINES);
    const entry = sshEntry(lab);
    const stacks: { name: keyof RoutersResult; stack: Awaited<ReturnType<typeof createSshStack>> }[] = [];
    try {
        stacks.push({ name: "oneRouter", stack: await createSshStack(lab, 1) });
        stacks.push({
            name: "twoRouters",
            stack: await createSshStack(lab, 1, {
                nginxSshHost: "",
                nginxSshHosts: JSON.stringify([entry("nginx-1"), entry("nginx-2")]),
                blueSshHosts: JSON.stringify([entry("blue-2")]),
                greenSshHosts: JSON.stringify([entry("green-2")]),
            }),
        });
        const quiet = { onOutput: () => undefined };
        for (const { stack } of stacks) await stack.stack.up(quiet);
        const result: RoutersResult = { oneRouter: [], twoRouters: [] };
        let color = "blue";
        for (let round = 0; round < rounds; round++) {
            color = color === "blue" ? "green" : "blue";
            // Alternating which stack goes first: neither always runs on a machine the other warmed.
            const order = round % 2 === 0 ? stacks : [...stacks].reverse();
            for (const { name, stack } of order) {
                await stack.stack.setConfig("activeColor", { value: color });
                const started = Date.now();
                const up = await stack.stack.up(quiet);
                if (up.summary.result !== "succeeded") throw new Error(`routers: ${name}'s switch did not succeed`);
                result[name].push(Date.now() - started);
            }
            const last = `one ${result.oneRouter.at(-1)} ms, two ${result.twoRouters.at(-1)} ms`;
            say(`routers: round ${round + 1}/${rounds}: ${last}`);
        }
        return result;
    } finally {
        for (const { stack } of stacks) await stack.dispose().catch(() => undefined);
        lab.teardown();
    }
}
