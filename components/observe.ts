// What nginx really serves, asked through its internal listener, and who answers each app
// host's /health: the program never trusts its own records alone (a switch interrupted
// half-way, a colour set by hand, another process on a live app's port). Beside nginx (the
// local target) over HTTP; on the ssh target through an SSH login to the nginx host
// (targets/ssh/observe.ts), which reaches the pool hosts as the gate does.
import * as http from "node:http";
import { type BakeRecord, parseBakeLog } from "./bakeRecord";
import { type Color, otherColor } from "./config";
import type { AppHost } from "./hosts";

/** What one app host answered on /health: status 0 when nothing answered. */
export interface HostAnswer {
    readonly status: number;
    readonly body: string;
}

export interface ObservedNginx {
    /** Whether nginx answered on its internal listener. */
    readonly running: boolean;
    readonly live?: Color;
    readonly configId?: string;
    /**
     * The canary's share of clients, where it is the idle colour's (0: none, also for a config
     * without canaries); undefined where nginx did not answer.
     */
    readonly canaryPercent?: number;
    /** The bakes' verdicts nginx's host keeps (bakeRecord.ts); none where it keeps none. */
    readonly bakes?: readonly BakeRecord[];
    /**
     * One of several routers went back on its own after a switch that was never confirmed (why, as
     * it recorded it): its switch must run again, whatever its recorded inputs say.
     */
    readonly wentBack?: string;
    /** Each app host's /health answer, by host name (those asked). */
    readonly hosts?: Readonly<Record<string, HostAnswer>>;
}

/** What to ask: nginx's internal listener, and these hosts' /health with this Host header. */
export interface ObserveRequest {
    readonly internalUrl: string;
    readonly hosts: readonly AppHost[];
    /** hostNames' primary, for apps that check Host. */
    readonly hostHeader?: string;
    /** Where the previous update logged in to the nginx host (its nginxLoginAddress output). */
    readonly lastLoginAddress?: string;
}

function get(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<HostAnswer> {
    return new Promise((resolve) => {
        const req = http.get(url, { agent: false, timeout: timeoutMs, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
                resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8").trim() }),
            );
            res.on("error", () => resolve({ status: 0, body: "" }));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve({ status: 0, body: "" }));
    });
}

export async function observeNginx(request: ObserveRequest, timeoutMs = 1000): Promise<ObservedNginx> {
    const headers: Record<string, string> = request.hostHeader ? { Host: request.hostHeader } : {};
    const [live, configId, canary, bakes, ...answers] = await Promise.all([
        get(`${request.internalUrl}/bluegreen/live`, timeoutMs),
        get(`${request.internalUrl}/bluegreen/config-id`, timeoutMs),
        get(`${request.internalUrl}/bluegreen/canary`, timeoutMs),
        get(`${request.internalUrl}/bluegreen/bakes`, timeoutMs),
        ...request.hosts.map((h) => get(`http://${h.address}:${h.port}/health`, timeoutMs, headers)),
    ]);
    const hosts = Object.fromEntries(request.hosts.map((h, i) => [h.name, answers[i]]));
    return observedFrom(okBody(live), okBody(configId), hosts, canaryBody(canary), okBody(bakes));
}

/** The canary nginx runs: its answer's body; "off" from a config without canaries (404); else unknown. */
export function canaryBody(answer: HostAnswer): string | undefined {
    return answer.status === 404 ? "off" : okBody(answer);
}

/** The body of a 200 answer. */
export function okBody(answer: HostAnswer): string | undefined {
    return answer.status === 200 ? answer.body : undefined;
}

/** What nginx serves from its answers (undefined: no 200 answer; a config without canaries has none). */
export function observedFrom(
    live: string | undefined,
    configId: string | undefined,
    hosts: Readonly<Record<string, HostAnswer>> = {},
    canary?: string,
    bakes?: string,
): ObservedNginx {
    if (live === undefined && configId === undefined) return { running: false, hosts };
    const color = live === "blue" || live === "green" ? live : undefined;
    // "green 10": a share for the idle colour; one of the live colour is inert (a switch completing).
    const [canaryColor, percent] = (canary ?? "off").split(" ");
    const canaryPercent =
        canary === undefined ? undefined : color && canaryColor === otherColor(color) ? Number(percent) || 0 : 0;
    return { running: true, live: color, configId, canaryPercent, bakes: parseBakeLog(bakes ?? ""), hosts };
}

/** The instance id a /health body echoes (INSTANCE_ID), or "" when it echoes none. */
export function echoedInstance(body: string): string {
    return /"instance"\s*:\s*"([0-9a-f]*)"/.exec(body)?.[1] ?? "";
}

/**
 * Live hosts answered by a process the last deploy did not start: it answers /health as the
 * contract does (200 or 503) but echoes another instance id, or none, where the deploy recorded
 * one. Such a process gets live traffic now (nginx cannot tell), so nothing may go on as if all
 * were well. Other answers prove nothing: nothing at all (the app stopped, which the gate and a
 * redeploy handle), or a refusal such as a host check's 421 when the check could not send the
 * app's name. `recorded`: "name=id ..." per host.
 */
export function foreignProcesses(
    observed: ObservedNginx | undefined,
    liveHosts: readonly AppHost[],
    recorded: string,
): string[] {
    if (!observed) return [];
    const ids = new Map(
        recorded
            .split(" ")
            .filter(Boolean)
            .map((entry) => entry.split("=") as [string, string]),
    );
    return liveHosts.flatMap((host) => {
        const answer = observed.hosts?.[host.name];
        const expected = ids.get(host.name);
        if (!answer || ![200, 503].includes(answer.status) || !expected) return [];
        const echoed = echoedInstance(answer.body);
        if (echoed === expected) return [];
        return [
            `${host.name} (${host.address}:${host.port}) is answered by another process: its /health echoes ` +
                `instance '${echoed || "none"}', the last deploy started '${expected}' (answer ${answer.status} ` +
                `${answer.body.slice(0, 120)}). It receives live traffic now. Fix: stop what holds the port, then ` +
                `redeploy the host: pulumi up --replace <its deploy command's URN> (pulumi stack --show-urns)`,
        ];
    });
}

/**
 * Why the switch must run although its inputs match the last successful update: nginx serves
 * something else (or is not running). Empty when nginx agrees, or when this update changes
 * the live colour or config anyway.
 */
export function reconcileReason(
    observed: ObservedNginx | undefined,
    recorded: { liveColor: Color; configId?: string; canaryPercent?: number } | undefined,
    desired: { liveColor: Color; configId: string; canaryPercent?: number },
): string {
    if (!observed || !recorded) return "";
    const unchanged =
        recorded.liveColor === desired.liveColor &&
        recorded.configId === desired.configId &&
        (recorded.canaryPercent ?? 0) === (desired.canaryPercent ?? 0);
    if (!unchanged) return "";
    if (!observed.running) return "nginx is not running";
    if (observed.live !== desired.liveColor || observed.configId !== desired.configId) {
        return (
            `nginx serves ${observed.live ?? "no colour"} with config ${observed.configId ?? "unknown"}, ` +
            `the stack wants ${desired.liveColor} with ${desired.configId}`
        );
    }
    if (observed.canaryPercent !== undefined && observed.canaryPercent !== (desired.canaryPercent ?? 0)) {
        return (
            `nginx sends ${observed.canaryPercent ?? 0}% of clients to ${otherColor(desired.liveColor)} (canary), ` +
            `the stack wants ${desired.canaryPercent ?? 0}%`
        );
    }
    return "";
}
