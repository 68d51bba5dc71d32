// The local target: every host is an app process on a loopback port of this machine, and
// nginx runs here too, unprivileged, under its own prefix.
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Color } from "../../configKeys";
import {
    type AppHost,
    type HostScript,
    type HostsLayer,
    type ScriptRun,
    type ShippedArtifact,
    LOOPBACK,
    appUser,
    commandInputs,
    nginxWorkerUser,
    listenerAddress,
} from "../../hosts";
import { type ObserveRequest, type ObservedNginx, observeNginx } from "../../observe";
import { localAppPort } from "./config";

/** Who the scripts run as here: this process's user ("root" for uid 0, whatever its name). */
const LOGIN = os.userInfo().uid === 0 ? "root" : os.userInfo().username;

export interface LocalHostsArgs {
    /** Absolute directory for nginx's prefix and the app processes' files. */
    readonly stateDir: string;
    readonly appBasePort: number;
    readonly hostCounts: Readonly<Record<Color, number>>;
}

export class LocalHosts implements HostsLayer {
    /** App processes on this machine are never system services. */
    readonly supervisor = "process" as const;
    readonly nginxPrefix: string;
    /** nginx runs here as this user (its unit is never used: no systemd supervisor here). */
    readonly nginxUser = os.userInfo().username;
    /** As root (uid 0, whatever its name), nginx's workers and the apps run as users of their own. */
    readonly nginxWorkerUser = nginxWorkerUser(LOGIN);
    private readonly appUser = appUser(LOGIN);
    readonly baseDir: string;
    readonly reachable: readonly pulumi.Resource[] = [];
    readonly routersReachable: readonly pulumi.Resource[] = [];
    /** One nginx, on this machine. */
    readonly routers = ["nginx"] as const;

    constructor(private readonly args: LocalHostsArgs) {
        this.nginxPrefix = path.join(args.stateDir, "nginx");
        this.baseDir = args.stateDir;
    }

    poolHosts(color: Color): AppHost[] {
        return Array.from({ length: this.args.hostCounts[color] }, (_, i) => ({
            name: `${color}-${i + 1}`,
            color,
            index: i + 1,
            address: LOOPBACK,
            port: localAppPort(this.args.appBasePort, color, i + 1),
            workDir: path.join(this.args.stateDir, "pools", color, `host-${i + 1}`),
            user: this.appUser,
        }));
    }

    /** Nothing to check: every host is this machine. */
    checkReachable(): void {}

    /** The host is this machine: it reads the directory itself. */
    shipArtifact(_name: string, _host: AppHost, _releaseId: string, artifactPath: string): ShippedArtifact {
        return { path: artifactPath };
    }

    publicHost(publicAddress: string): string {
        return listenerAddress(publicAddress);
    }

    /** The program runs beside nginx: its records may be stale, nginx's answer is not. */
    observeNginx(request: ObserveRequest): Promise<ObservedNginx> {
        return observeNginx(request);
    }

    onHost(name: string, _host: AppHost, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return this.run(name, script, opts);
    }

    onRouter(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return this.run(name, script, opts);
    }

    private run(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): command.local.Command {
        return new command.local.Command(name, { ...commandInputs(script), interpreter: ["/bin/sh", "-c"] }, opts);
    }
}
