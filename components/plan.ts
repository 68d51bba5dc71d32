// The one line an operator reads before an update runs: where traffic goes, which pools are
// redeployed on which hosts, and what nginx does. `pulumi preview` shows resources and
// property diffs; this says what they add up to. Pure: no Pulumi, so every case is a unit test.
import { COLORS, type Color } from "./config";
import type { DeployState } from "./safety";

export interface PlanInput {
    /** What the last successful update deployed; absent on the first. */
    readonly previous?: DeployState;
    /** The colour nginx really serves, where it could be asked. */
    readonly servedLive?: Color;
    /** What this update deploys, with the nginx config id and settings. */
    readonly next: DeployState;
    /** Why the switch runs again although nothing changed (observe.ts), or empty. */
    readonly reconcile: string;
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
        const removed = Object.keys(before.hosts).filter((h) => !(h in after.hosts));
        if (before.releaseId !== after.releaseId && hosts.length > 0) {
            const versions =
                before.version === after.version
                    ? `${after.version} (new build)`
                    : `${before.version} -> ${after.version}`;
            changes.push(`${color} redeployed ${versions} on ${hostNames(hosts)}`);
        } else if (added.length > 0) {
            changes.push(`${color} deployed ${after.version} on new ${hostNames(added)}`);
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

function nginxChange(input: PlanInput, traffic: { from?: Color; to: Color }): string {
    const { previous, next, reconcile } = input;
    if (!previous) return `nginx starts with config ${next.configId}`;
    if (reconcile) return `nginx: ${reconcile}, so the switch runs again`;
    if (previous.configId === next.configId) {
        return traffic.from === traffic.to ? "nginx unchanged" : "live colour set without a reload";
    }
    // States recorded by earlier versions have no settings to compare.
    const reasons = previous.nginx ? settingChanges(previous.nginx, next.nginx ?? {}) : [];
    for (const color of COLORS) {
        const before = Object.keys(previous.pools[color].hosts).join(" ");
        if (before !== Object.keys(next.pools[color].hosts).join(" ")) reasons.push(`${color} upstream hosts`);
    }
    if (traffic.from !== traffic.to && next.nginx?.switchMode === "reload") reasons.push("live pool");
    const why = reasons.length > 0 ? reasons.join(", ") : `config ${previous.configId} -> ${next.configId}`;
    return `nginx reloads (${why})`;
}

export function describePlan(input: PlanInput): string {
    const { previous, next } = input;
    const to = next.liveColor;
    const from = input.servedLive ?? previous?.liveColor;
    const liveHosts = hostNames(Object.keys(next.pools[to].hosts));
    const version = (state: DeployState, color: Color) => state.pools[color].version;
    let traffic: string;
    if (!previous || !from) traffic = `traffic to ${to} (${version(next, to)}), gated on ${liveHosts}`;
    else if (from !== to) {
        traffic = `traffic ${from} (${version(previous, from)}) -> ${to} (${version(next, to)}), gated on ${liveHosts}`;
    } else traffic = `traffic stays on ${to} (${version(next, to)})`;
    const pools = poolChanges(previous, next);
    const parts = [
        traffic,
        pools.length > 0 ? pools.join("; ") : "no pool redeployed",
        nginxChange(input, { from, to }),
    ];
    return `Plan: ${parts.join("; ")}`;
}
