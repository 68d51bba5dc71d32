// The routers' floating address (virtualIp, ssh target): keepalived on every router, from the
// distribution, holds one address for all of them. Clients keep it when a router dies: another
// router whose nginx answers takes it within about three seconds (VRRP, advert_int 1).
import * as pulumi from "@pulumi/pulumi";
import type { HostsLayer } from "./hosts";
import { SCRIPTS, hostScript } from "./scripts";
import type { VirtualIp } from "./targets/ssh/config";
import { render } from "./templates";

export interface FloatingAddressArgs {
    readonly hostsLayer: HostsLayer;
    /** Each router's name (hostsLayer.routers) and its address on the routers' network. */
    readonly routers: readonly { readonly name: string; readonly address: string }[];
    readonly virtualIp: VirtualIp;
    /** The internal listener as each router reaches its own: keepalived asks nginx there. */
    readonly internalUrl: string;
    /** Each router's name in the last update, where it differs: its keepalived is kept, not stopped. */
    readonly formerNames?: Readonly<Record<string, string>>;
    /** Every router serves before any takes part: nginx must answer the check first. */
    readonly after: readonly pulumi.Resource[];
}

/** The check's curl: a fixed path, as keepalived's script security wants. */
const CURL = "/usr/bin/curl";
/** The first router is preferred; each next one a step lower. */
const TOP_PRIORITY = 150;

export class FloatingAddress extends pulumi.ComponentResource {
    readonly address: string;

    constructor(name: string, args: FloatingAddressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:FloatingAddress", name, {}, opts);
        this.address = args.virtualIp.address;
        const dir = `${args.hostsLayer.baseDir}/keepalived`;
        args.routers.forEach((router, i) => {
            args.hostsLayer.onRouter(
                `${name}-${router.name}`,
                hostScript({
                    create: SCRIPTS.keepalived,
                    update: true,
                    delete: SCRIPTS.keepalivedStop,
                    environment: {
                        BASE_DIR: args.hostsLayer.baseDir,
                        ROUTER_NAME: router.name,
                        VIRTUAL_ADDRESS: args.virtualIp.address,
                        SUPERVISOR: args.hostsLayer.supervisor,
                        KEEPALIVED_CONF: render("keepalived/keepalived.conf.hbs", {
                            routerName: router.name,
                            virtualAddress: args.virtualIp.address,
                            prefixLength: args.virtualIp.prefixLength,
                            interface: args.virtualIp.interface,
                            virtualRouterId: args.virtualIp.virtualRouterId,
                            priority: TOP_PRIORITY - 10 * i,
                            sourceAddress: router.address,
                            peers: args.routers.filter((other) => other !== router).map((other) => other.address),
                            curl: CURL,
                            checkUrl: `${args.internalUrl}/bluegreen/live`,
                        }),
                        KEEPALIVED_UNIT_TEXT: render("systemd/bluegreen-keepalived.service.hbs", { dir }),
                    },
                }),
                {
                    parent: this,
                    dependsOn: [...args.after],
                    aliases: args.formerNames?.[router.name]
                        ? [{ name: `${name}-${args.formerNames[router.name]}` }]
                        : [],
                },
                router.name,
            );
        });
        this.registerOutputs({ address: this.address });
    }
}
