// The health contract, as a small module any Node.js HTTP service can import.
//
//   GET  /health        200 {status:"ready", ...} only when ready for production traffic;
//                       503 with status "starting", "draining" or "failing" otherwise.
//   POST /health/drain  with `Authorization: Bearer <deploy token>`: start draining.
//   SIGTERM             start draining.
// Lifecycle starting → ready → draining. Draining stops new work (new connections are
// refused, /health says 503), lets requests in flight finish within the drain timeout,
// closes idle keep-alive connections, then exits.
import type * as http from "node:http";
import { timingSafeEqual } from "node:crypto";

export type HealthStatus = "starting" | "ready" | "draining" | "failing";

export interface HealthOptions {
    /** The release version reported by /health. */
    readonly version: string;
    /** The pool this process belongs to, reported by /health. */
    readonly color: string;
    /**
     * Token that POST /health/drain must carry, or a function that reads it at each request
     * (so a rotated token applies without a restart). Draining over HTTP is refused when empty.
     */
    readonly drainToken: string | (() => string);
    /**
     * INSTANCE_ID from the environment: echoed by /health, so that the deploy and the gate can
     * tell this process from any other that takes its port. Omitted when empty.
     */
    readonly instance?: string;
    /** How long draining waits for requests in flight before exiting anyway. Default: 30 s. */
    readonly drainTimeoutMs?: number;
    /** Called once draining has finished (all in-flight requests done or timed out). Default: process.exit(0). */
    readonly onDrained?: () => void;
}

/**
 * Answers a request itself, before the contract or the app sees it, and says so (true): a
 * framework's host check, say, which refuses /health too.
 */
export type RequestRefusal = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export const HEALTH_PATH = "/health";
export const DRAIN_PATH = "/health/drain";
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export class HealthContract {
    private status: HealthStatus = "starting";
    private readonly startedAt = Date.now();
    private inFlight = 0;
    private drainStartedAt?: number;
    private server?: http.Server;

    constructor(private readonly options: HealthOptions) {}

    get current(): HealthStatus {
        return this.status;
    }

    /** Marks warm-up finished: /health starts answering 200. */
    ready(): void {
        if (this.status === "starting" || this.status === "failing") this.status = "ready";
    }

    /** Marks the process unable to serve (a dependency is down): /health answers 503. */
    failing(): void {
        if (this.status !== "draining") this.status = "failing";
    }

    /**
     * Wraps a request handler: answers /health and /health/drain, counts requests in
     * flight and, while draining, asks clients to close their connections.
     */
    attach(server: http.Server, handler: http.RequestListener, refuse?: RequestRefusal): void {
        this.server = server;
        server.on("request", (req, res) => {
            if (refuse?.(req, res)) return;
            if (req.url === HEALTH_PATH && req.method === "GET") return this.answerHealth(res);
            if (req.url === DRAIN_PATH && req.method === "POST") return this.answerDrain(req, res);
            this.inFlight++;
            res.on("close", () => {
                this.inFlight--;
                if (this.status === "draining") this.finishDrainIfIdle();
            });
            if (this.status === "draining") res.setHeader("Connection", "close");
            handler(req, res);
        });
        process.once("SIGTERM", () => this.drain("SIGTERM"));
    }

    /** Starts draining: no new connections, idle keep-alive connections closed, exit when idle. */
    drain(reason: string): void {
        if (this.status === "draining") return;
        this.status = "draining";
        this.drainStartedAt = Date.now();
        console.log(JSON.stringify({ event: "draining", reason, inFlight: this.inFlight }));
        const server = this.server;
        server?.close();
        server?.closeIdleConnections();
        const timeout = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
        setTimeout(() => this.finish("timeout"), timeout).unref();
        this.finishDrainIfIdle();
    }

    private finishDrainIfIdle(): void {
        if (this.inFlight === 0) {
            // Let the last response flush before the process goes.
            setImmediate(() => this.finish("idle"));
        }
    }

    private finished = false;

    private finish(how: "idle" | "timeout"): void {
        if (this.finished) return;
        this.finished = true;
        const waited = Date.now() - (this.drainStartedAt ?? Date.now());
        console.log(JSON.stringify({ event: "drained", how, waitedMs: waited, inFlight: this.inFlight }));
        this.server?.closeAllConnections();
        (this.options.onDrained ?? (() => process.exit(0)))();
    }

    private answerHealth(res: http.ServerResponse): void {
        const body = {
            status: this.status,
            version: this.options.version,
            color: this.options.color,
            ...(this.options.instance ? { instance: this.options.instance } : {}),
            pid: process.pid,
            uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
            inFlight: this.inFlight,
        };
        res.writeHead(this.status === "ready" ? 200 : 503, {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            ...(this.status === "draining" ? { Connection: "close" } : {}),
        });
        res.end(JSON.stringify(body));
    }

    private answerDrain(req: http.IncomingMessage, res: http.ServerResponse): void {
        const token = this.options.drainToken;
        const expected = typeof token === "function" ? token() : token;
        const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
        if (!expected || !tokensEqual(given, expected)) {
            res.writeHead(403, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ error: "drain needs the deploy token: Authorization: Bearer <token>" }));
            return;
        }
        res.writeHead(202, { "Content-Type": "application/json", Connection: "close" });
        res.end(JSON.stringify({ status: "draining", inFlight: this.inFlight }));
        res.on("finish", () => this.drain("POST /health/drain"));
    }
}

function tokensEqual(a: string, b: string): boolean {
    const left = Buffer.from(a);
    const right = Buffer.from(b);
    return left.length === right.length && timingSafeEqual(left, right);
}
