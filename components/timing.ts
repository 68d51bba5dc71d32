// How long a switch's steps may take, from the settings: one place for the bounds that the router's
// deadline, the routers' confirmation window and nginx's worker_shutdown_timeout are derived from.
import { type ProgramConfig, shutdownTimeoutSeconds } from "./config";

/** How long nginx may take to serve a new config and pass the smoke checks. */
export const VERIFY_TIMEOUT_SECONDS = 15;

/** The confirmations' logins and their slack, beyond the slowest other router's switch. */
const CONFIRM_MARGIN_SECONDS = 30;

/** Bound on one request to the ACME CA (lego's whole run): a CA that hangs fails the update, it never blocks it. */
export const ACME_TIMEOUT_SECONDS = 120;

export interface SwitchTiming {
    readonly gateTimeoutSeconds: number;
    /** A canary's pool is gated again too. */
    readonly canary: boolean;
    readonly verifyTimeoutSeconds: number;
    /** A stopping app's bound: its drain, and a margin to exit (shutdownTimeoutSeconds). */
    readonly shutdownTimeoutSeconds: number;
    readonly bakeSeconds: number;
    /** Certificates come from an ACME CA: the switch may ask it (and apply and verify twice). */
    readonly acme: boolean;
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
        acme: config.tls?.source === "acme",
        routers,
    };
}

/**
 * What one router's switch may take: its gate's re-check (the canary's too), an app's shutdown bound,
 * its verification and its bake. Its deadline adds the lock's wait and ACME; a router that switched
 * waits this long (and the confirmations' margin) for the others.
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
 * The switch command's deadline, past which it is stopped: the bound above, 120 s for the lock's wait
 * and the steps' own slack, and with ACME the CA (three requests at most) and a second apply and verify.
 */
export function switchDeadlineSeconds(timing: SwitchTiming): number {
    return (
        switchBoundSeconds(timing) +
        120 +
        (timing.acme ? 3 * ACME_TIMEOUT_SECONDS + 2 * timing.verifyTimeoutSeconds : 0)
    );
}

/**
 * nginx's old workers after a reload keep what a removed host still holds (WebSockets, long polls,
 * slow POSTs) until that host's own drain closes it. A removed host of the pool that served is
 * drained only once the switch is verified and baked (a restore before then sends it requests
 * again), with several routers once all are confirmed: at the latest when the switch's deadline
 * would stop it, and the confirmation after that. So they wait that long, and the drain's own bound,
 * before they cut anything. An old worker leaves as soon as its last connection ends: this bounds
 * only what nobody closes. A canary counts as on: turning one on or off changes no config (it is set
 * without a reload).
 */
export function workerShutdownTimeoutSeconds(timing: SwitchTiming): number {
    return (
        timing.shutdownTimeoutSeconds +
        switchDeadlineSeconds({ ...timing, canary: true }) +
        (timing.routers > 1 ? CONFIRM_MARGIN_SECONDS : 0)
    );
}
