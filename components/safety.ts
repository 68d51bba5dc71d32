// Safety rules checked before any resource is registered, against what the last successful
// update deployed (the stack's own `deployState` output):
//   1. the live pool is never redeployed in place;
//   2. no switch to a pool without hosts;
//   and a canary's pool serves traffic too: it needs hosts, is never redeployed in place, and a
//   switch of activeColor completes the canary rather than starting one of the other colour.
// Pure: no Pulumi, so every rule is a unit test.
import { COLORS, Color, otherColor } from "./config";

export interface PoolState {
    readonly version: string;
    readonly releaseId: string;
    /** The config strings the release id was computed from (absent in older states). */
    readonly artifact?: string;
    readonly startCommand?: string;
    /** host name → address:port */
    readonly hosts: Readonly<Record<string, string>>;
}

export interface DeployState {
    readonly liveColor: Color;
    /** Id of the nginx config the update applied. */
    readonly configId?: string;
    /** The settings that config was rendered from (absent in older states), for the plan to compare. */
    readonly nginx?: Readonly<Record<string, string>>;
    readonly pools: Readonly<Record<Color, PoolState>>;
    /** The share of clients (percent) the idle pool gets as a canary; 0 or absent: none. */
    readonly canaryPercent?: number;
}

/**
 * Reads what an earlier update recorded in the stack outputs `deployState` (the pools),
 * `activeColor` and `nginx`; anything unrecognised counts as none. Stacks last updated by
 * earlier versions keep the live colour and config id inside deployState.
 */
export function parseDeployState(outputs: Readonly<Record<string, unknown>>): DeployState | undefined {
    const value = outputs.deployState;
    if (value === null || typeof value !== "object") return undefined;
    const candidate = value as Partial<DeployState>;
    const liveColor = candidate.liveColor ?? outputs.activeColor;
    if (!COLORS.includes(liveColor as Color) || typeof candidate.pools !== "object" || candidate.pools === null) {
        return undefined;
    }
    for (const color of COLORS) {
        const pool = candidate.pools[color];
        if (!pool || typeof pool.releaseId !== "string" || typeof pool.hosts !== "object") return undefined;
    }
    const { configId, canaryPercent, ...nginx } = (outputs.nginx ?? {}) as Record<string, string>;
    return {
        liveColor: liveColor as Color,
        pools: candidate.pools,
        configId: candidate.configId ?? configId,
        ...(outputs.nginx ? { nginx } : {}),
        ...(Number(canaryPercent) > 0 ? { canaryPercent: Number(canaryPercent) } : {}),
    };
}

/**
 * The stack outputs that record `state` for the next update, split so that a switch changes
 * as few as it can, since `pulumi preview --diff` prints a changed output whole: the live colour
 * is `activeColor`; `deployState` holds the pools and changes only with a deploy; `nginx` holds
 * the config id and settings, which a switch changes only in reload mode.
 */
export function recordedOutputs(state: DeployState): {
    deployState: Pick<DeployState, "pools">;
    nginx: Record<string, string>;
} {
    return {
        deployState: { pools: state.pools },
        nginx: { configId: state.configId ?? "", ...state.nginx, canaryPercent: String(state.canaryPercent ?? 0) },
    };
}

/**
 * Every rule the change from `previous` to `next` breaks, as messages that say what to do.
 * `servedLive` is the colour nginx really serves, when it could be asked: the pool that
 * serves traffic is protected even if the records say otherwise.
 */
export function checkSafety(previous: DeployState | undefined, next: DeployState, servedLive?: Color): string[] {
    const problems: string[] = [];
    const nextLive = next.liveColor;
    if (Object.keys(next.pools[nextLive].hosts).length === 0) {
        problems.push(
            `activeColor is ${nextLive}, but the ${nextLive} pool has no hosts (${nextLive}Hosts is 0): ` +
                "a pool without hosts cannot take traffic. " +
                `Fix: pulumi config set ${nextLive}Hosts 2 && pulumi up, then switch.`,
        );
    }
    const canary = next.canaryPercent ?? 0;
    const nextIdle = otherColor(nextLive);
    if (canary > 0 && Object.keys(next.pools[nextIdle].hosts).length === 0) {
        problems.push(
            `canaryPercent is ${canary}, but the ${nextIdle} pool, which would take that share, has no hosts: ` +
                `Fix: pulumi config set ${nextIdle}Hosts 2 && pulumi up, or pulumi config set canaryPercent 0.`,
        );
    }
    if (!previous) return problems;

    const live = servedLive ?? previous.liveColor;
    const idle = otherColor(live);
    if (canary > 0 && nextLive !== live) {
        problems.push(
            `activeColor moves from ${live} to ${nextLive} while canaryPercent is ${canary}: a switch completes ` +
                `the canary, it does not start one of ${live}. Fix: pulumi config set canaryPercent 0 (in the same ` +
                `update as the switch), or pulumi config set activeColor ${live} to keep the canary.`,
        );
    }
    // A canary running now sends clients to the idle pool: its release is as protected as the live one.
    const canaryBefore = previous.canaryPercent ?? 0;
    const idleBefore = previous.pools[idle];
    if (canaryBefore > 0 && Object.keys(idleBefore.hosts).length > 0) {
        for (const [host, address] of Object.entries(idleBefore.hosts)) {
            const moved = next.pools[idle].hosts[host];
            if (moved !== undefined && moved !== address) {
                problems.push(
                    `${host} would move from ${address} to ${moved}, but ${canaryBefore}% of clients are on ${idle} ` +
                        "(a canary): its hosts are never moved in place. End the canary first: pulumi config set " +
                        "canaryPercent 0 && pulumi up.",
                );
            }
        }
        if (idleBefore.releaseId !== next.pools[idle].releaseId) {
            problems.push(
                `${idle}Version (or ${idle}Artifact) changes the ${idle} release from ${idleBefore.version} to ` +
                    `${next.pools[idle].version}, but ${canaryBefore}% of clients are on ${idle} (a canary): a pool ` +
                    `that serves traffic is never redeployed in place. End the canary first: pulumi config set ` +
                    `canaryPercent 0 && pulumi up (keep the release as it is for that update), then deploy.`,
            );
        }
    }

    const before = previous.pools[live];
    const after = next.pools[live];
    const running = Object.keys(before.hosts).length > 0;
    if (running && before.releaseId !== after.releaseId) {
        const what =
            before.version === after.version
                ? `${live}Artifact or appStartCommand changes the ${live} release ` +
                  `(${before.releaseId} → ${after.releaseId})`
                : `${live}Version changes the ${live} release from ${before.version} to ${after.version}`;
        problems.push(
            `${what}, but ${live} is the live pool: the live pool is never redeployed in place. ` +
                `Deploy to the idle pool instead: pulumi config set ${idle}Version ${after.version} && pulumi up; ` +
                `then switch: pulumi config set activeColor ${idle} && pulumi up. ` +
                `To drop this change: pulumi config set ${live}Version ${before.version}` +
                (before.version === after.version ? ` and restore ${live}Artifact / appStartCommand.` : "."),
        );
    }
    for (const [host, address] of Object.entries(before.hosts)) {
        const moved = after.hosts[host];
        if (running && moved !== undefined && moved !== address) {
            problems.push(
                `${host} would move from ${address} to ${moved}, but ${live} is the live pool: ` +
                    "its hosts are never moved in place. " +
                    `Change appBasePort (or the hosts) while ${live} is idle: switch to ${idle} first.`,
            );
        }
    }
    return problems;
}
