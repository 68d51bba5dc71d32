// A pool (blue or green): its hosts and the release deployed on them. Each host gets the
// drain token and one deploy command; hosts deploy in parallel. A changed release redeploys
// this pool only; a failed deploy fails the update before anything touches traffic.
import * as pulumi from "@pulumi/pulumi";
import type { Color } from "./config";
import { deployedInstance } from "./deployResult";
import type { AppHost, HostsLayer, ScriptRun } from "./hosts";
import type { Release } from "./release";
import { appUnitText } from "./appUnit";
import { SCRIPTS, hostScript } from "./scripts";

export interface PoolArgs {
    readonly color: Color;
    readonly hosts: readonly AppHost[];
    readonly release: Release;
    readonly hostsLayer: HostsLayer;
    /** Token that POST /health/drain must carry; written to each host, never to logs. */
    readonly drainToken: pulumi.Input<string>;
    /** How long a new process may take to become ready. */
    readonly readyTimeoutSeconds: number;
    /** How long a draining process may take to finish requests in flight. */
    readonly drainTimeoutSeconds: number;
    /** How often /health is polled while waiting. */
    readonly healthIntervalMs: number;
    /** Host header of the readiness checks (hostNames' primary), when the apps check it. */
    readonly hostHeader?: string;
}

export class Pool extends pulumi.ComponentResource {
    readonly color: Color;
    readonly hosts: readonly AppHost[];
    readonly release: Release;
    /** The per-host deploy commands: whatever must follow a ready pool depends on these. */
    readonly deployments: ScriptRun[];
    /** name=id for each host whose app echoes its instance id (the gate's INSTANCES). */
    readonly instances: pulumi.Output<string>;

    constructor(name: string, args: PoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:Pool", name, {}, opts);
        this.color = args.color;
        this.hosts = args.hosts;
        this.release = args.release;
        this.deployments = args.hosts.map((host) => deployHost(this, name, host, args));
        this.instances = pulumi.all(this.deployments.map((d) => d.stdout)).apply((outputs) =>
            args.hosts
                .map((host, i) => [host.name, deployedInstance(outputs[i] ?? "")] as const)
                .filter(([, instance]) => instance !== "")
                .map(([hostName, instance]) => `${hostName}=${instance}`)
                .join(" "),
        );
        this.registerOutputs({});
    }
}

function deployHost(pool: Pool, poolName: string, host: AppHost, args: PoolArgs): ScriptRun {
    const tokenFile = `${host.workDir}/drain-token`;
    const token = args.hostsLayer.onHost(
        `${poolName}-host-${host.index}-token`,
        host,
        hostScript({
            create: SCRIPTS.writeToken,
            environment: {
                TOKEN_FILE: tokenFile,
                DRAIN_TOKEN: pulumi.secret(args.drainToken),
                BASE_DIR: args.hostsLayer.baseDir,
                APP_USER: host.user,
            },
        }),
        { parent: pool, dependsOn: [...args.hostsLayer.reachable] },
    );
    const artifact = args.hostsLayer.shipArtifact(
        `${poolName}-host-${host.index}-artifact`,
        host,
        args.release.releaseId,
        args.release.artifactPath,
        { parent: pool, dependsOn: [...args.hostsLayer.reachable] },
    );
    return args.hostsLayer.onHost(
        `${poolName}-host-${host.index}`,
        host,
        hostScript({
            create: SCRIPTS.deployHost,
            update: true,
            delete: SCRIPTS.stopHost,
            // The drain, the new release's wait, a quick stop when it never got ready, then the previous
            // one's wait (deploy-host.sh's restart_wait: up to twice the ready timeout, + 5 s).
            deadlineSeconds: 3 * args.readyTimeoutSeconds + args.drainTimeoutSeconds + 100,
            environment: {
                HOST_NAME: host.name,
                HOST_DIR: host.workDir,
                BIND_ADDRESS: host.address,
                PORT: String(host.port),
                POOL_COLOR: args.color,
                APP_VERSION: args.release.version,
                RELEASE_ID: args.release.releaseId,
                ARTIFACT: artifact.path,
                START_COMMAND: args.release.startCommand,
                DRAIN_TOKEN_FILE: tokenFile,
                READY_TIMEOUT_SECONDS: String(args.readyTimeoutSeconds),
                DRAIN_TIMEOUT_SECONDS: String(args.drainTimeoutSeconds),
                HEALTH_INTERVAL_MS: String(args.healthIntervalMs),
                SUPERVISOR: args.hostsLayer.supervisor,
                BASE_DIR: args.hostsLayer.baseDir,
                // The login itself, or the app's own user where the login is root.
                APP_USER: host.user,
                // Used only where systemd supervises (supervisor/systemd.sh).
                UNIT_TEXT: appUnitText(host, args.release.startCommand, args.drainTimeoutSeconds),
                ...(args.hostHeader ? { HOST_HEADER: args.hostHeader } : {}),
            },
        }),
        // Replacing a host's deployment (`pulumi up --replace`, to redeploy a host whose app
        // stopped) must stop the old one before starting the new one: both use the same host,
        // and the old one's delete would otherwise stop the new app.
        { parent: pool, dependsOn: [token, ...(artifact.copy ? [artifact.copy] : [])], deleteBeforeReplace: true },
    );
}
