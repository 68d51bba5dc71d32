// The systemd unit of one host's app (templates/systemd/bluegreen-app.service.hbs): sent with
// every deploy, and on aws also written at boot by cloud-init, so both render it here.
import { shutdownTimeoutSeconds } from "./config";
import type { AppHost } from "./hosts";
import { render } from "./templates";

export function appUnitText(
    host: Pick<AppHost, "color" | "name" | "workDir" | "user">,
    startCommand: string,
    drainTimeoutSeconds: number,
): string {
    return render("systemd/bluegreen-app.service.hbs", {
        color: host.color,
        hostName: host.name,
        hostDir: host.workDir,
        user: host.user,
        startCommand,
        stopTimeoutSeconds: shutdownTimeoutSeconds({ drainTimeoutSeconds }),
    });
}
