// Where the hosts come from: the one place that chooses a target's hosts layer.
import * as os from "node:os";
import * as pulumi from "@pulumi/pulumi";
import type { ProgramConfig } from "../config";
import type { HostsLayer } from "../hosts";
import { privateDirProblem } from "../privateDir";
import { resolvedPath } from "../projectPath";
import { LocalHosts } from "./local/hosts";
import { sshRouterNames, sshRouters, virtualIpOf } from "./ssh/config";
import { SshHosts, checkAgentSocket } from "./ssh/hosts";

export async function createHostsLayer(config: ProgramConfig): Promise<HostsLayer> {
    switch (config.target) {
        case "local": {
            const stateDir = resolvedPath("stateDir", config.stateDir);
            const problem = privateDirProblem(stateDir, os.userInfo().uid);
            if (problem) {
                throw new pulumi.RunError(
                    `bluegreen:stateDir is ${stateDir}, but ${problem}: another local user could plant files ` +
                        "there that the stack would trust. Fix: pulumi config set stateDir .state/local " +
                        "(in the project), or any directory only you can write.",
                );
            }
            return new LocalHosts({
                stateDir,
                appBasePort: config.appBasePort,
                hostCounts: { blue: config.blueHosts, green: config.greenHosts },
            });
        }
        case "ssh":
            await checkAgentSocket();
            return new SshHosts({
                routers: sshRouters(config),
                routerNames: sshRouterNames(config),
                // Clients reach the routers at the floating address, where there is one.
                publicHost: virtualIpOf(config)?.address,
                pools: { blue: config.blueSshHosts, green: config.greenSshHosts },
                defaultUser: config.sshUser,
                privateKey: config.sshPrivateKey,
                appPort: config.appPort,
                remoteDir: config.remoteDir,
                dialAttempts: config.sshDialAttempts,
                dialTimeoutSeconds: config.sshDialTimeoutSeconds,
                supervisor: config.supervisor,
                switchMode: config.switchMode,
            });
        case "aws":
            await checkAgentSocket();
            // Loaded only here: @pulumi/aws takes about 0.15 s to load, on every run.
            return (await import("./aws/hosts")).createAwsHosts(config);
    }
}
