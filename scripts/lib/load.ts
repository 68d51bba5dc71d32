// A paced load generator that counts every response. Node's http client over keep-alive
// sockets, which does not resend: a request written on an idle keep-alive connection that
// nginx closed (as `nginx -s reload` does) fails, and such failures are counted apart
// (`closedOnReuse`) from real failures. No retries anywhere.
import * as http from "node:http";
import * as https from "node:https";
import { percentile } from "./stats";

export interface LoadOptions {
    /** Base URL, e.g. http://127.0.0.1:8080, or https://… (SNI is the Host header's name). */
    readonly url: string;
    /** Requests started per second (paced, open loop). Default: 300. Ignored with closedLoop. */
    readonly rate?: number;
    /**
     * Closed loop at full rate instead of pacing: this many workers, each sending its next
     * request as soon as the previous one is answered.
     */
    readonly closedLoop?: number;
    /** Keep-alive sockets. Default: 16. */
    readonly sockets?: number;
    /** Every n-th request is a POST /work?ms=postMs. Default: 4. */
    readonly postEvery?: number;
    /** Default: 5. */
    readonly postMs?: number;
    /** Hard bounds: the loop stops by itself after this long or this many requests. */
    readonly maxSeconds?: number;
    readonly maxRequests?: number;
    /** Extra request headers (e.g. a client trying to choose a pool). */
    readonly headers?: Readonly<Record<string, string>>;
    /** Keep every request's timing and outcome (for timelines); off by default. */
    readonly record?: boolean;
    /** Over HTTPS: the certificate (PEM) to trust, as a client that knows the server's CA. */
    readonly ca?: string;
}

/** One request, as recorded with `record: true`. Times in ms since the load started. */
export interface Sample {
    readonly atMs: number;
    readonly latencyMs: number;
    /** HTTP status; 0 when no response came. */
    readonly status: number;
    readonly color: string;
    readonly closedOnReuse: boolean;
}

export interface Failure {
    readonly method: string;
    readonly path: string;
    readonly status?: number;
    readonly error?: string;
    readonly atMs: number;
}

export interface LoadResult {
    readonly sent: number;
    /** Complete 2xx responses. */
    readonly ok: number;
    /** POSTs answered 2xx: must equal what the apps counted as completed. */
    readonly postOk: number;
    /** Requests that failed on a reused keep-alive socket closed by nginx (never reached an app). */
    readonly closedOnReuse: number;
    /** Everything else that was not a complete 2xx: must be empty. */
    readonly failures: readonly Failure[];
    /** 2xx responses by X-Deploy-Color. */
    readonly byColor: Readonly<Record<string, number>>;
    readonly durationMs: number;
    /** Requests sent per second while sending (from the start until stop or a bound). */
    readonly sendRate: number;
    readonly latenciesMs: readonly number[];
    /** With `record: true`: every request, in the order they finished. */
    readonly samples: readonly Sample[];
    /** Date.now() when the load started: samples' atMs are relative to it. */
    readonly startedAt: number;
}

export class Load {
    private readonly agent: http.Agent;
    private readonly started = Date.now();
    private sent = 0;
    private ok = 0;
    private postOk = 0;
    private closedOnReuse = 0;
    private readonly failures: Failure[] = [];
    private readonly byColor: Record<string, number> = {};
    private readonly latencies: number[] = [];
    private readonly samples: Sample[] = [];
    private inFlight = 0;
    private stopped = false;
    private stoppedAt?: number;
    private timer?: NodeJS.Timeout;
    private drained?: () => void;
    private readonly options: Required<Omit<LoadOptions, "headers" | "closedLoop" | "record" | "ca">> & {
        headers: Readonly<Record<string, string>>;
        closedLoop?: number;
        record?: boolean;
        ca?: string;
    };

    constructor(options: LoadOptions) {
        this.options = {
            rate: 300,
            sockets: 16,
            postEvery: 4,
            postMs: 5,
            maxSeconds: 120,
            maxRequests: 100_000,
            headers: {},
            ...options,
        };
        const agentOptions = { keepAlive: true, maxSockets: this.options.sockets };
        this.agent = this.options.url.startsWith("https:")
            ? new https.Agent({ ...agentOptions, ca: this.options.ca })
            : new http.Agent(agentOptions);
    }

    /** Starts the loop; it stops by itself at maxSeconds or maxRequests. */
    start(): this {
        const bounded = () =>
            this.sent < this.options.maxRequests && Date.now() - this.started < this.options.maxSeconds * 1000;
        if (this.options.closedLoop) {
            for (let i = 0; i < this.options.closedLoop; i++) {
                const next = () => {
                    if (this.stopped || !bounded()) return;
                    this.fire(next);
                };
                next();
            }
            return this;
        }
        // Paced by the clock, not by counting timer ticks: a tick that fires late (a busy event
        // loop, a noisy machine) sends what fell due meanwhile, so the rate holds.
        // After a long stall (a blocked event loop) at most 100 ms worth is sent at once; the
        // rest of what fell due is skipped, so the load resumes at its rate instead of in one
        // burst, and the send rate it reports shows the gap.
        const pacingFrom = performance.now();
        const catchUp = Math.ceil(this.options.rate / 10);
        let skipped = 0;
        this.timer = setInterval(() => {
            if (this.sent >= this.options.maxRequests || Date.now() - this.started >= this.options.maxSeconds * 1000) {
                this.halt();
                return;
            }
            let due = Math.floor(((performance.now() - pacingFrom) / 1000) * this.options.rate) - skipped;
            if (due - this.sent > catchUp) {
                skipped += due - this.sent - catchUp;
                due = this.sent + catchUp;
            }
            while (this.sent < due && this.sent < this.options.maxRequests) this.fire();
        }, 10);
        return this;
    }

    /** Stops sending, waits for every request in flight, and returns the counts. */
    async stop(): Promise<LoadResult> {
        this.halt();
        if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
        this.agent.destroy();
        return {
            sent: this.sent,
            ok: this.ok,
            postOk: this.postOk,
            closedOnReuse: this.closedOnReuse,
            failures: this.failures,
            byColor: { ...this.byColor },
            durationMs: Date.now() - this.started,
            sendRate: this.sent / (((this.stoppedAt ?? Date.now()) - this.started) / 1000),
            latenciesMs: this.latencies,
            samples: this.samples,
            startedAt: this.started,
        };
    }

    private halt(): void {
        if (!this.stopped) this.stoppedAt = Date.now();
        this.stopped = true;
        if (this.timer) clearInterval(this.timer);
    }

    private fire(onDone?: () => void): void {
        if (this.stopped) return;
        const isPost = this.sent % this.options.postEvery === this.options.postEvery - 1;
        const method = isPost ? "POST" : "GET";
        const path = isPost ? `/work?ms=${this.options.postMs}` : "/";
        this.sent++;
        this.inFlight++;
        const begun = Date.now();
        // Latency from the monotonic clock, to a fraction of a millisecond (loopback answers
        // take well under 1 ms, which Date.now() cannot tell apart).
        const begunPrecise = performance.now();
        let done = false;
        const finish = (failure?: Omit<Failure, "method" | "path" | "atMs">, reused = false, color = "") => {
            if (done) return;
            done = true;
            this.inFlight--;
            let isReuseClose = false;
            if (failure) {
                isReuseClose =
                    reused && failure.error !== undefined && /ECONNRESET|socket hang up|EPIPE/.test(failure.error);
                if (isReuseClose) this.closedOnReuse++;
                else this.failures.push({ method, path, atMs: begun - this.started, ...failure });
            }
            if (this.options.record) {
                this.samples.push({
                    atMs: begun - this.started,
                    latencyMs: performance.now() - begunPrecise,
                    status: failure ? (failure.status ?? 0) : 200,
                    color,
                    closedOnReuse: isReuseClose,
                });
            }
            if (this.stopped && this.inFlight === 0) this.drained?.();
            if (onDone) setImmediate(onDone);
        };
        const req = (this.options.url.startsWith("https:") ? https : http).request(
            `${this.options.url}${path}`,
            {
                method,
                agent: this.agent,
                headers: { ...this.options.headers, ...(isPost ? { "Content-Length": "2" } : {}) },
                timeout: 30_000,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("error", (err) => finish({ status: res.statusCode, error: err.message }, req.reusedSocket));
                res.on("aborted", () => finish({ status: res.statusCode, error: "response aborted" }));
                res.on("end", () => {
                    const status = res.statusCode ?? 0;
                    if (status >= 200 && status < 300) {
                        this.ok++;
                        if (isPost) this.postOk++;
                        const color = String(res.headers["x-deploy-color"] ?? "none");
                        this.byColor[color] = (this.byColor[color] ?? 0) + 1;
                        this.latencies.push(performance.now() - begunPrecise);
                        finish(undefined, false, color);
                    } else {
                        finish({ status, error: Buffer.concat(chunks).toString("utf8").slice(0, 200) });
                    }
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error("client timeout after 30 s")));
        req.on("error", (err) =>
            finish({ error: `${(err as NodeJS.ErrnoException).code ?? ""} ${err.message}`.trim() }, req.reusedSocket),
        );
        req.end(isPost ? "{}" : undefined);
    }
}

/** What the bench keeps of a load: counts, send rate and the 2xx latency quantiles. */
export interface LoadFigures {
    readonly sent: number;
    readonly failed: number;
    readonly closedOnReuse: number;
    readonly rps: number;
    readonly p50: number;
    readonly p99: number;
}

export function figuresOf(r: LoadResult): LoadFigures {
    return {
        sent: r.sent,
        failed: r.failures.length,
        closedOnReuse: r.closedOnReuse,
        rps: r.sendRate,
        p50: percentile(r.latenciesMs, 0.5),
        p99: percentile(r.latenciesMs, 0.99),
    };
}

/** One line for test logs: the counts every scenario reports. */
export function summarize(name: string, r: LoadResult): string {
    const p = (q: number) => (r.latenciesMs.length > 0 ? percentile(r.latenciesMs, q) : 0);
    const colors = Object.entries(r.byColor)
        .map(([c, n]) => `${c}=${n}`)
        .join(" ");
    return (
        `${name}: sent ${r.sent} in ${(r.durationMs / 1000).toFixed(1)} s (${r.sendRate.toFixed(0)} req/s), ` +
        `2xx ${r.ok} (POST ${r.postOk}), failed ${r.failures.length}, ` +
        `closed on reused keep-alive by nginx ${r.closedOnReuse}, ` +
        `p50 ${p(0.5).toFixed(2)} ms p99 ${p(0.99).toFixed(2)} ms, by colour ${colors}`
    );
}
