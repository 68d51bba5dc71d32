// The reference service: a small Node.js app that follows the health contract.
// Configured only through the environment (the deploy scripts set these):
//   PORT, BIND_ADDRESS            where to listen (default 127.0.0.1)
//   APP_VERSION, POOL_COLOR       reported by /health and /status
//   DRAIN_TOKEN_FILE              file holding the token POST /health/drain needs, read at each
//                                 drain request (or DRAIN_TOKEN: the token itself)
//   WARMUP_MS                     time spent in `starting` (default 300)
//   DRAIN_TIMEOUT_MS              bound on waiting for in-flight requests (default 30000)
//   FAIL_HEALTH=1                 never become ready (for testing a failed gate)
//   ALLOWED_HOSTS                 comma-separated names, as Django's setting: a request for any
//                                 other Host, /health included, is answered 421 (default: any)
// Endpoints: GET / (fast), POST /work?ms=N (takes N ms, counts completions), GET /status.
import * as fs from "node:fs";
import * as http from "node:http";
import { HealthContract } from "./health";

const port = Number(process.env.PORT ?? "3000");
const bindAddress = process.env.BIND_ADDRESS ?? "127.0.0.1";
const version = process.env.APP_VERSION ?? "dev";
const poolColor = process.env.POOL_COLOR ?? "unknown";
const warmupMs = Number(process.env.WARMUP_MS ?? "300");
const maxWorkMs = 60_000;

const health = new HealthContract({
    version,
    color: poolColor,
    instance: process.env.INSTANCE_ID,
    drainToken: () => readDrainToken(),
    drainTimeoutMs: Number(process.env.DRAIN_TIMEOUT_MS ?? "30000"),
});

function readDrainToken(): string {
    const file = process.env.DRAIN_TOKEN_FILE;
    if (!file) return process.env.DRAIN_TOKEN ?? "";
    try {
        return fs.readFileSync(file, "utf8").trim();
    } catch {
        return ""; // no readable token: HTTP drain is refused
    }
}

const counters = { getRequests: 0, workStarted: 0, workCompleted: 0 };

function json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
}

/** The colour nginx routed this request through; absent when called directly. */
function routedColor(req: http.IncomingMessage): string | undefined {
    const header = req.headers["x-deploy-color"];
    return typeof header === "string" ? header : undefined;
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://app");
    if (req.method === "GET" && url.pathname === "/") {
        counters.getRequests++;
        return json(res, 200, { color: routedColor(req) ?? poolColor, version, pid: process.pid });
    }
    if (req.method === "GET" && url.pathname === "/status") {
        return json(res, 200, { color: poolColor, version, pid: process.pid, status: health.current, ...counters });
    }
    if (req.method === "POST" && url.pathname === "/work") {
        const ms = Math.min(Math.max(Number(url.searchParams.get("ms") ?? "0") || 0, 0), maxWorkMs);
        counters.workStarted++;
        req.resume(); // the body is not used; read it so the connection can be reused
        req.on("end", () => {
            setTimeout(() => {
                counters.workCompleted++;
                json(res, 200, {
                    color: routedColor(req) ?? poolColor,
                    version,
                    pid: process.pid,
                    tookMs: ms,
                    completed: counters.workCompleted,
                });
            }, ms);
        });
        return;
    }
    json(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
}

const allowedHosts = (process.env.ALLOWED_HOSTS ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);

/** Refuses a request whose Host is not allowed, as host-checking frameworks do. */
function refuseUnknownHost(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (allowedHosts.length === 0) return false;
    const name = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    if (allowedHosts.includes(name)) return false;
    json(res, 421, { error: `this app does not serve host '${name}'` });
    return true;
}

const server = http.createServer({ keepAliveTimeout: 65_000 });
health.attach(server, handle, refuseUnknownHost);
server.listen(port, bindAddress, () => {
    console.log(JSON.stringify({ event: "listening", port, bindAddress, version, color: poolColor, pid: process.pid }));
    if (process.env.FAIL_HEALTH === "1") {
        health.failing();
        return;
    }
    setTimeout(() => {
        health.ready();
        console.log(JSON.stringify({ event: "ready", version, color: poolColor }));
    }, warmupMs);
});
