// `npm run rollback`: go back to the last successful update whose live colour or version
// differs from what is live now (or to `--to <update>`). Health-gated like any switch: it sets
// the config and runs `pulumi up`. When the pool to go back to was redeployed since, it says
// so and only redeploys that release (to the idle pool, then switches) with --redeploy.
import { Command } from "commander";
import {
    Color,
    Deployed,
    StackLockedError,
    lastSuccessful,
    openStack,
    otherColor,
    releaseConfig,
    setConfig,
    up,
    updates,
} from "./stack";

export interface RollbackPlan {
    readonly target: Deployed;
    /** Config keys to set before `pulumi up`. */
    readonly set: Readonly<Record<string, string>>;
    /** One line for the operator and the update message. */
    readonly summary: string;
    /** Set when the release must be deployed again: why, and what --redeploy does. */
    readonly redeploy?: string;
}

export class RollbackError extends Error {}

function live(u: Deployed): string {
    return u.activeColor ? `${u.activeColor} ${u.versions[u.activeColor]}` : "nothing";
}

/** Plans a rollback from the history (oldest first). Pure: tests call it directly. */
export function planRollback(history: readonly Deployed[], to?: number): RollbackPlan {
    const succeeded = history.filter((u) => u.kind === "update" && u.result === "succeeded" && u.activeColor);
    const now = lastSuccessful(history);
    if (!now) throw new RollbackError("there is no successful update to roll back from.");
    const nowColor = now.activeColor as Color;
    // During a canary the way back is to end it: every client on the live pool, which it never left.
    if (now.canaryPercent > 0 && to === undefined) {
        return {
            target: now,
            set: { ...releaseConfig(now), activeColor: nowColor, canaryPercent: "0" },
            summary:
                `end the canary: the ${now.canaryPercent}% of clients on ${otherColor(nowColor)} ` +
                `(${now.versions[otherColor(nowColor)]}) go back to ${live(now)}`,
        };
    }
    let target: Deployed | undefined;
    if (to !== undefined) {
        target = history.find((u) => u.update === to);
        if (!target) throw new RollbackError(`update ${to} is not in this stack's history (see npm run history).`);
        if (target.kind !== "update" || target.result !== "succeeded" || !target.activeColor) {
            throw new RollbackError(
                `update ${to} is a ${target.kind} that ${target.result}: ` +
                    "only a successful update can be rolled back to.",
            );
        }
        if (target.update === now.update) throw new RollbackError(`update ${to} is what is live now (${live(now)}).`);
    } else {
        target = [...succeeded].reverse().find((u) => u.update < now.update && live(u) !== live(now));
        if (!target)
            throw new RollbackError(
                `no earlier successful update had a different live colour or version than now (${live(now)}).`,
            );
    }
    const color = target.activeColor as Color;
    const version = target.versions[color];
    const artifact = target.artifacts[color];
    // Every release key is set to what is deployed now, then changed where the plan says. A rollback
    // ends any canary: every client goes back.
    const deployedNow = releaseConfig(now);
    const holds = now.versions[color] === version && now.artifacts[color] === artifact;
    if (holds) {
        return {
            target,
            set: { ...deployedNow, activeColor: color, canaryPercent: "0" },
            summary:
                `rollback to update ${target.update}: switch from ${live(now)} to ${color} ${version} ` +
                `(still deployed on ${color}, no redeploy)`,
        };
    }
    // The pool no longer holds that release. Deploy it to the pool that is idle now, then switch.
    const idle = otherColor(nowColor);
    return {
        target,
        set: {
            ...deployedNow,
            [`${idle}Version`]: version,
            [`${idle}Artifact`]: artifact,
            activeColor: idle,
            canaryPercent: "0",
        },
        summary:
            `rollback to update ${target.update}: deploy ${version} to ${idle} (idle now), ` +
            `then switch from ${live(now)} to ${idle} ${version}`,
        redeploy:
            `the ${color} pool no longer holds ${version} (it runs ${now.versions[color]} since a later update), ` +
            `so going back means deploying ${version} again, to the idle ${idle} pool, then switching. ` +
            `Run again with --redeploy to do that.`,
    };
}

async function main(): Promise<void> {
    const program = new Command("rollback")
        .description("Switch back to the last update whose live colour or version differs (health-gated).")
        .option("-s, --stack <name>", "stack", "local")
        .option("--to <update>", "roll back to this update number (see npm run history)", (v) => Number(v))
        .option("--redeploy", "if the release is no longer deployed, deploy it to the idle pool and switch")
        .option("--dry-run", "print the plan only")
        .parse();
    const opts = program.opts<{ stack: string; to?: number; redeploy?: boolean; dryRun?: boolean }>();
    const stack = await openStack(opts.stack);
    const plan = planRollback(await updates(stack), opts.to);
    console.log(`Plan: ${plan.summary}`);
    for (const [key, value] of Object.entries(plan.set)) console.log(`  pulumi config set ${key} ${value}`);
    if (plan.redeploy && !opts.redeploy) {
        console.error(`rollback: ${plan.redeploy}`);
        process.exit(2);
    }
    if (opts.dryRun) return;
    await setConfig(stack, plan.set);
    const started = Date.now();
    try {
        await up(stack, plan.summary);
    } catch (err) {
        if (err instanceof StackLockedError) {
            // Nothing ran: another update (a teammate's, CI's, or a killed one's lock) holds the stack.
            console.error(
                "rollback: refused by the stack's lock before anything changed; traffic stays where it was. " +
                    "Run npm run rollback again once that update has ended (a killed one's lock: npm run recover).",
            );
        } else {
            console.error(
                "rollback: the update failed; traffic stays where it was (the health gate or verification " +
                    "refused the switch). The stack config now asks for the rollback; run `pulumi preview --diff` " +
                    "to see it, fix the pool, and run npm run rollback again.",
            );
        }
        throw err;
    }
    console.log(`Rolled back in ${((Date.now() - started) / 1000).toFixed(1)} s: ${plan.summary}`);
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`rollback: ${err instanceof RollbackError ? err.message : err.message.split("\n")[0]}`);
        process.exit(1);
    });
}
