// The one line an operator reads before an update runs: where traffic goes, which pools are
// redeployed on which hosts, and what nginx does. `pulumi preview` shows resources and
// property diffs; this says what they add up to. Pure: no Pulumi, so every case is a unit test.
import { COLORS, otherColor } from "./config";
import type { ObservedNginx } from "./observe";
import type { DeployState } from "./safety";

export interface PlanInput {
    /** What the last successful update deployed; absent on the first. */
    readonly previous?: DeployState;
    /** What nginx really serves, where it could be asked: it wins over the records. */
    readonly served?: ObservedNginx;
    /** What this update deploys, with the nginx config id and settings. */
    readonly next: DeployState;
    /** Why the switch runs again although nothing changed (observe.ts), or empty. */
    readonly reconcile: string;
    /** The hooks this update runs ("pre-switch hook on green-1"), if any. */
    readonly hooks?: readonly string[];
}

/** Host names as a reader takes them in: all of a few, the first and last of many. */
function hostNames(names: readonly string[]): string {
    if (names.length <= 4) return names.join(", ");
    return `${names[0]} … ${names[names.length - 1]} (${names.length} hosts)`;
}

function poolChanges(previous: DeployState | undefined, next: DeployState): string[] {
    const changes: string[] = [];
    for (const color of COLORS) {
        const after = next.pools[color];
        const hosts = Object.keys(after.hosts);
        const before = previous?.pools[color];
        if (!before) {
            if (hosts.length > 0) changes.push(`${color} deployed ${after.version} on ${hostNames(hosts)}`);
            continue;
        }
        const added = hosts.filter((h) => !(h in before.hosts));
        const moved = hosts.filter((h) => h in before.hosts && before.hosts[h] !== after.hosts[h]);
        const removed = Object.keys(before.hosts).filter((h) => !(h in after.hosts));
        if (before.releaseId !== after.releaseId && hosts.length > 0) {
            const versions =
                before.version === after.version
                    ? `${after.version} (new build)`
                    : `${before.version} -> ${after.version}`;
            changes.push(`${color} redeployed ${versions} on ${hostNames(hosts)}`);
        } else {
            if (added.length > 0) changes.push(`${color} deployed ${after.version} on new ${hostNames(added)}`);
            if (moved.length > 0) changes.push(`${color} deployed ${after.version} on moved ${hostNames(moved)}`);
        }
        if (removed.length > 0) changes.push(`${color} stopped on ${hostNames(removed)}`);
    }
    return changes;
}

/** The nginx settings that differ, as `key old -> new`. */
function settingChanges(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string[] {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys
        .filter((k) => (before[k] ?? "") !== (after[k] ?? ""))
        .map((k) => `${k} ${before[k] || "(none)"} -> ${after[k] || "(none)"}`);
}

/** A pool's upstream servers, comparable whatever order the records keep them in. */
function upstream(hosts: Readonly<Record<string, string>>): string {
    return Object.entries(hosts)
        .map(([name, address]) => `${name}=${address}`)
        .sort()
        .join(" ");
}

/** Maintenance as recorded: "on" or "off" (states recorded before it existed: off). */
function maintenanceOf(state: DeployState | undefined): string {
    return state?.nginx?.maintenance ?? "off";
}

/** The canary's share before this update: as nginx serves it where it was asked, else as recorded. */
function canaryBefore(input: PlanInput): number {
    return input.served?.running && input.served.canaryPercent !== undefined
        ? input.served.canaryPercent
        : (input.previous?.canaryPercent ?? 0);
}

/** What happens to the canary, if anything: its share, where it goes, and that it is gated. */
function canaryChange(input: PlanInput, switches: boolean): string | undefined {
    const { next } = input;
    const before = canaryBefore(input);
    const after = next.canaryPercent ?? 0;
    const live = next.liveColor;
    const canary = otherColor(live);
    const version = (color: typeof live) => next.pools[color].version;
    if (after === 0) {
        if (before === 0 || !input.previous) return undefined;
        return switches
            ? `the switch completes the canary: every client on ${live} (${version(live)})`
            : `canary ends: every client back on ${live} (${version(live)})`;
    }
    const share =
        `${after}% of clients to ${canary} (${version(canary)}), sticky per client, ${100 - after}% on ` +
        `${live} (${version(live)})`;
    if (before === after) return `canary stays: ${share}`;
    const gated = hostNames(Object.keys(next.pools[canary].hosts));
    return before === 0
        ? `CANARY STARTS: ${share}, gated on ${gated}`
        : `canary ${before}% -> ${share}, gated on ${gated}`;
}

function nginxChange(input: PlanInput, switches: boolean): string {
    const { previous, next, reconcile, served } = input;
    if (served ? !served.running : !previous) return `nginx starts with config ${next.configId}`;
    if (reconcile) return `nginx: ${reconcile}, so the switch runs again`;
    const current = served?.configId ?? previous?.configId;
    const noReload = next.nginx?.switchMode !== "reload";
    if (current === next.configId) {
        if (switches) return "live colour set without a reload";
        if (canaryBefore(input) !== (next.canaryPercent ?? 0)) return "canary set without a reload";
        return maintenanceOf(previous) !== maintenanceOf(next) ? "maintenance set without a reload" : "nginx unchanged";
    }
    const reasons: string[] = [];
    if (previous) {
        // States recorded by earlier versions have no settings to compare. In no-reload mode
        // maintenance is set without one.
        const { maintenance: _before, ...before } = previous.nginx ?? {};
        const { maintenance: _after, ...after } = next.nginx ?? {};
        if (previous.nginx) {
            reasons.push(...settingChanges(noReload ? before : previous.nginx, noReload ? after : (next.nginx ?? {})));
        }
        for (const color of COLORS) {
            if (upstream(previous.pools[color].hosts) !== upstream(next.pools[color].hosts)) {
                reasons.push(`${color} upstream hosts`);
            }
        }
    }
    if (switches && next.nginx?.switchMode === "reload") reasons.push("live pool");
    const why = reasons.length > 0 ? reasons.join(", ") : `config ${current ?? "unknown"} -> ${next.configId}`;
    return `nginx reloads (${why})`;
}

export function describePlan(input: PlanInput): string {
    const { previous, next } = input;
    const to = next.liveColor;
    const version = next.pools[to].version;
    const liveHosts = hostNames(Object.keys(next.pools[to].hosts));
    let traffic = `traffic to ${to} (${version}), gated on ${liveHosts}`;
    let switches = false;
    if (previous) {
        const from = input.served?.live ?? previous.liveColor;
        switches = from !== to;
        const fromTo = `${from} (${previous.pools[from].version}) -> ${to} (${version})`;
        traffic = switches ? `traffic ${fromTo}, gated on ${liveHosts}` : `traffic stays on ${to} (${version})`;
    }
    const pools = poolChanges(previous, next);
    const canary = canaryChange(input, switches);
    if (canary) traffic = `${traffic}; ${canary}`;
    const parts = [traffic, pools.length > 0 ? pools.join("; ") : "no pool redeployed", nginxChange(input, switches)];
    if (input.hooks?.length) parts.push(`${input.hooks.join(", ")} run${input.hooks.length > 1 ? "" : "s"}`);
    const maintenance = maintenanceOf(next);
    if (maintenance !== maintenanceOf(previous)) {
        parts.unshift(
            maintenance === "on"
                ? "MAINTENANCE GOES ON: the public listener answers 503 and the maintenance page, the apps keep running"
                : `maintenance goes off: traffic back to ${to} (${version})`,
        );
    }
    return `Plan: ${parts.join("; ")}`;
}
