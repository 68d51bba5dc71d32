// How long a switch's steps may take, from the settings: one place for the bounds that the router's
// deadline, the routers' confirmation window and nginx's worker_shutdown_timeout are derived from.
import { type ProgramConfig, shutdownTimeoutSeconds } from "./config";

/** How long nginx may take to serve a new config and pass the smoke checks. */
export const VERIFY_TIMEOUT_SECONDS = 15;

/** The confirmations' logins and their slack, beyond the slowest other router's switch. */
const CONFIRM_MARGIN_SECONDS = 30;

export interface SwitchTiming {
    readonly gateTimeoutSeconds: number;
    /** A canary's pool is gated again too. */
    readonly canary: boolean;
    readonly verifyTimeoutSeconds: number;
    /** A stopping app's bound: its drain, and a margin to exit (shutdownTimeoutSeconds). */
    readonly shutdownTimeoutSeconds: number;
    readonly bakeSeconds: number;
    /** How many routers switch as one (each waits for its confirmation when there are several). */
    readonly routers: number;
}

export function switchTiming(config: ProgramConfig, routers: number): SwitchTiming {
    return {
        gateTimeoutSeconds: config.gateTimeoutSeconds,
        canary: config.canaryPercent > 0,
        verifyTimeoutSeconds: VERIFY_TIMEOUT_SECONDS,
        shutdownTimeoutSeconds: shutdownTimeoutSeconds(config),
        bakeSeconds: config.bakeSeconds,
        routers,
    };
}

/**
 * What one router's switch may take: its gate's re-check (the canary's too), its old workers'
 * retirement (the shutdown timeout), its verification and its bake. Its deadline adds the lock's wait
 * and ACME; a router that switched waits this long (and the confirmations' margin) for the others.
 */
export function switchBoundSeconds(timing: SwitchTiming): number {
    return (
        (timing.canary ? 2 : 1) * timing.gateTimeoutSeconds +
        timing.verifyTimeoutSeconds +
        timing.shutdownTimeoutSeconds +
        timing.bakeSeconds
    );
}

/** With several routers: how long one that switched waits for its confirmation before it goes back. */
export function confirmSeconds(timing: SwitchTiming): number {
    return switchBoundSeconds(timing) + CONFIRM_MARGIN_SECONDS;
}

/**
 * nginx's old workers after a reload keep what a removed host still holds (WebSockets, slow POSTs)
 * until that host's own drain closes it: a removed host of the pool that served is drained only
 * once the switch is verified and baked (a restore before then sends it requests again), and with
 * several routers once all are confirmed. So they wait that long, and the drain's own bound, before
 * they cut anything. An old worker leaves as soon as its last connection closes: this bounds only
 * connections nobody closes.
 */
export function workerShutdownTimeoutSeconds(timing: SwitchTiming): number {
    return (
        timing.shutdownTimeoutSeconds +
        timing.verifyTimeoutSeconds +
        timing.bakeSeconds +
        (timing.routers > 1 ? confirmSeconds(timing) : 0)
    );
}
