// The local target's keys: every host is an app process on a loopback port of this machine.
import type { Color } from "../../configKeys";
import {
    type CommonConfig,
    type Parsed,
    POOL_SIZE_KEYS,
    RELATIVE_OR_ABSOLUTE_PATH,
    integer,
    key,
    pattern,
    publicAddressKey,
} from "../../configKeys";

export const LOCAL_KEYS = {
    ...POOL_SIZE_KEYS,
    /** Address of nginx's public listener. */
    publicAddress: publicAddressKey("127.0.0.1"),
    /** Blue host i listens on appBasePort+i, green host i on appBasePort+100+i. */
    appBasePort: key(integer(1024, 65300), "pulumi config set appBasePort 9100", 9100),
    /** Where nginx's prefix, app processes, pid files and logs live. */
    stateDir: key(
        pattern(RELATIVE_OR_ABSOLUTE_PATH, "a directory path without '..' (letters, digits, . _ / -)"),
        "pulumi config set stateDir .state/local",
        ".state/local",
    ),
} as const;

export type LocalConfig = CommonConfig & Parsed<typeof LOCAL_KEYS> & { readonly target: "local" };

/** Port distance between the blue and the green pool: room for 99 hosts per pool. */
const GREEN_PORT_OFFSET = 100;

/** The one port layout of the local target: host `index` (1-based) of `color`. */
export function localAppPort(basePort: number, color: Color, index: number): number {
    return basePort + (color === "blue" ? 0 : GREEN_PORT_OFFSET) + index;
}

/** The listeners must not take a port an app host uses: every app runs on this machine. */
export function localConfigProblems(project: string, c: LocalConfig): string[] {
    const problems: string[] = [];
    const appPorts = [
        ...Array.from({ length: c.blueHosts }, (_, i) => localAppPort(c.appBasePort, "blue", i + 1)),
        ...Array.from({ length: c.greenHosts }, (_, i) => localAppPort(c.appBasePort, "green", i + 1)),
    ];
    const layout =
        `appBasePort ${c.appBasePort}: blue on ${localAppPort(c.appBasePort, "blue", 1)}…, ` +
        `green on ${localAppPort(c.appBasePort, "green", 1)}…`;
    for (const [name, listenerPort] of [
        ["publicPort", c.publicPort],
        ["internalPort", c.internalPort],
        ...(c.tlsCertificate || c.acmeDirectoryUrl ? ([["httpsPort", c.httpsPort]] as const) : []),
    ] as const) {
        if (appPorts.includes(listenerPort)) {
            problems.push(
                `${project}:${name} is ${listenerPort}, which an app host also uses (${layout}). ` +
                    `Fix: pulumi config set appBasePort ${listenerPort + 200}`,
            );
        }
    }
    return problems;
}
