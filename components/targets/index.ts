// Where the hosts come from: the one place that chooses a target's hosts layer.
import type { ProgramConfig } from "../config";
import type { HostsLayer } from "../hosts";
import { resolvedPath } from "../projectPath";
import { LocalHosts } from "./local/hosts";
import { SshHosts, checkAgentSocket } from "./ssh/hosts";

export async function createHostsLayer(config: ProgramConfig): Promise<HostsLayer> {
    switch (config.target) {
        case "local":
            return new LocalHosts({
                stateDir: resolvedPath("stateDir", config.stateDir),
                appBasePort: config.appBasePort,
                hostCounts: { blue: config.blueHosts, green: config.greenHosts },
            });
        case "ssh":
            await checkAgentSocket();
            return new SshHosts({
                nginx: config.nginxSshHost,
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
