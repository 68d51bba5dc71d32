// What nginx really serves, asked through its internal listener: the program never trusts its
// own records alone (a switch interrupted half-way, a colour set by hand). Beside nginx (the
// local target) over HTTP; on the ssh target through an SSH login to the nginx host
// (targets/ssh/observe.ts).
import * as http from "node:http";
import type { Color } from "./config";

export interface ObservedNginx {
    /** Whether nginx answered on its internal listener. */
    readonly running: boolean;
    readonly live?: Color;
    readonly configId?: string;
}

function get(url: string, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
        const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
                resolve(res.statusCode === 200 ? Buffer.concat(chunks).toString("utf8").trim() : undefined),
            );
            res.on("error", () => resolve(undefined));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(undefined));
    });
}

export async function observeNginx(internalUrl: string, timeoutMs = 1000): Promise<ObservedNginx> {
    const [live, configId] = await Promise.all([
        get(`${internalUrl}/bluegreen/live`, timeoutMs),
        get(`${internalUrl}/bluegreen/config-id`, timeoutMs),
    ]);
    return observedFrom(live, configId);
}

/** What nginx serves from its two answers (undefined: no 200 answer). */
export function observedFrom(live: string | undefined, configId: string | undefined): ObservedNginx {
    if (live === undefined && configId === undefined) return { running: false };
    return { running: true, live: live === "blue" || live === "green" ? live : undefined, configId };
}

/**
 * Why the switch must run although its inputs match the last successful update: nginx serves
 * something else (or is not running). Empty when nginx agrees, or when this update changes
 * the live colour or config anyway.
 */
export function reconcileReason(
    observed: ObservedNginx | undefined,
    recorded: { liveColor: Color; configId?: string } | undefined,
    desired: { liveColor: Color; configId: string },
): string {
    if (!observed || !recorded) return "";
    const unchanged = recorded.liveColor === desired.liveColor && recorded.configId === desired.configId;
    if (!unchanged) return "";
    if (!observed.running) return "nginx is not running";
    if (observed.live !== desired.liveColor || observed.configId !== desired.configId) {
        return (
            `nginx serves ${observed.live ?? "no colour"} with config ${observed.configId ?? "unknown"}, ` +
            `the stack wants ${desired.liveColor} with ${desired.configId}`
        );
    }
    return "";
}
