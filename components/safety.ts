// Safety rules checked before any resource is registered, against what the last successful
// update deployed (the stack's own `deployState` output):
//   1. the live pool is never redeployed in place;
//   2. no switch to a pool without hosts.
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
}

/**
 * Reads the `deployState` and `activeColor` outputs of an earlier update; anything
 * unrecognised counts as none. Stacks last updated by earlier versions keep the live colour in deployState.
 */
export function parseDeployState(value: unknown, activeColor?: unknown): DeployState | undefined {
    if (value === null || typeof value !== "object") return undefined;
    const candidate = value as Partial<DeployState>;
    const liveColor = candidate.liveColor ?? activeColor;
    if (!COLORS.includes(liveColor as Color) || typeof candidate.pools !== "object" || candidate.pools === null) {
        return undefined;
    }
    for (const color of COLORS) {
        const pool = candidate.pools[color];
        if (!pool || typeof pool.releaseId !== "string" || typeof pool.hosts !== "object") return undefined;
    }
    return { ...candidate, liveColor } as DeployState;
}

/**
 * The `deployState` output: what the safety rules read next time, without the live colour
 * (the `activeColor` output holds it), so that a switch leaves it unchanged and
 * `pulumi preview --diff` does not print it.
 */
export function recordedDeployState(state: DeployState): Omit<DeployState, "liveColor"> {
    const { liveColor: _live, ...rest } = state;
    return rest;
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
            `activeColor is ${nextLive}, but the ${nextLive} pool has no hosts (${nextLive}Hosts is 0): a pool without hosts cannot take traffic. ` +
                `Fix: pulumi config set ${nextLive}Hosts 2 && pulumi up, then switch.`,
        );
    }
    if (!previous) return problems;

    const live = servedLive ?? previous.liveColor;
    const idle = otherColor(live);
    const before = previous.pools[live];
    const after = next.pools[live];
    const running = Object.keys(before.hosts).length > 0;
    if (running && before.releaseId !== after.releaseId) {
        const what =
            before.version === after.version
                ? `${live}Artifact or appStartCommand changes the ${live} release (${before.releaseId} → ${after.releaseId})`
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
                `${host} would move from ${address} to ${moved}, but ${live} is the live pool: its hosts are never moved in place. ` +
                    `Change appBasePort (or the hosts) while ${live} is idle: switch to ${idle} first.`,
            );
        }
    }
    return problems;
}
